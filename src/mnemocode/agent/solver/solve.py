"""Step 3, solve (and the edit-only calls of fix and polish): the model answers
with native tool calls — ``edit``, ``write``, ``run`` — each mapped onto the
guarded ``file_edit``, ``file_write`` or ``shell_exec``. Every call is validated
before the first one runs; a denial stops the batch."""

from __future__ import annotations

import difflib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mnemocode.agent.solver.outcome import SolveFailed
from mnemocode.agent.solver.runner import ToolRunner
from mnemocode.core.types import Message, ToolCall, ToolResult, ToolSpec


class EditOp(BaseModel):
    """Replace old_string (which must match one place) with new_string."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1)
    old_string: str
    new_string: str
    replace_all: bool = False


class WriteOp(BaseModel):
    """Create a new file (or replace a whole file) with content."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1)
    content: str


class RunOp(BaseModel):
    """Run a bash command in the project (e.g. to move a file or generate code)."""

    model_config = ConfigDict(extra="forbid")
    command: str = Field(min_length=1)


OPS: dict[str, tuple[type[BaseModel], str]] = {
    "edit": (EditOp, "file_edit"),
    "write": (WriteOp, "file_write"),
    "run": (RunOp, "shell_exec"),
}


def op_specs(*, edit_only: bool) -> list[ToolSpec]:
    names = ["edit", "write"] if edit_only else list(OPS)
    return [
        ToolSpec(name, (OPS[name][0].__doc__ or "").strip(), OPS[name][0].model_json_schema())
        for name in names
    ]


@dataclass(frozen=True, slots=True)
class Op:
    call: ToolCall  # as the model sent it
    guarded: ToolCall  # the guarded tool call it becomes

    @property
    def path(self) -> str | None:
        path = self.guarded.arguments.get("path")
        return str(path) if path is not None else None

    def describe(self) -> str:
        if self.call.name == "run":
            return f"run {self.guarded.arguments['command']}"
        return f"{self.call.name} {self.path}"


def parse_ops(message: Message, *, edit_only: bool) -> list[Op]:
    """Every tool call of ``message`` as an operation; one bad call rejects all."""
    allowed = {spec.name for spec in op_specs(edit_only=edit_only)}
    ops: list[Op] = []
    for call in message.tool_calls:
        if call.name not in allowed:
            raise SolveFailed(
                "invalid_output", f"{call.name!r} is not an operation here ({', '.join(allowed)})"
            )
        model, target = OPS[call.name]
        try:
            valid = model.model_validate(call.arguments)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "arguments"
            raise SolveFailed("invalid_output", f"{call.name}: {where}: {first['msg']}") from exc
        ops.append(Op(call, ToolCall(call.id, target, valid.model_dump())))
    return ops


@dataclass(slots=True)
class Changes:
    """What the solve changed: each file's content before its first change, so the
    diff can be shown and a stopped batch undone."""

    root: Path
    before: dict[str, bytes | None] = field(default_factory=dict)  # None: did not exist
    operations: list[str] = field(default_factory=list)
    # ``git status`` before the solve: a ``run`` operation's changes are what is new in it.
    status: frozenset[str] = frozenset()

    def start(self) -> None:
        self.status = git_status(self.root)

    def remember(self, path: str) -> None:
        if path not in self.before:
            target = self.root / path
            self.before[path] = target.read_bytes() if target.is_file() else None

    def changed(self) -> list[str]:
        """Files the operations changed, and files a command changed (git status)."""
        edited = [p for p, old in self.before.items() if _read(self.root / p) != old]
        ran = any(op.startswith("run ") for op in self.operations)
        other = sorted(git_status(self.root) - self.status - set(self.before)) if ran else []
        return edited + other

    def diff(self) -> str:
        out: list[str] = []
        for path in sorted(self.changed()):
            was = self.before[path] if path in self.before else _committed(self.root, path)
            old = (was or b"").decode("utf-8", "replace").splitlines(keepends=True)
            new = (_read(self.root / path) or b"").decode("utf-8", "replace")
            out.extend(
                difflib.unified_diff(old, new.splitlines(keepends=True), f"a/{path}", f"b/{path}")
            )
        return "".join(line if line.endswith("\n") else line + "\n" for line in out)

    def restore(self) -> None:
        """Put every remembered file back (used when no checkpoint store is given)."""
        for path, old in self.before.items():
            target = self.root / path
            if old is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(old)


def git_status(root: Path) -> frozenset[str]:
    """Paths ``git status`` lists as changed or untracked (empty outside a repository)."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "-z", "--untracked-files=all"],
            cwd=root, capture_output=True, check=False, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    if done.returncode != 0:
        return frozenset()
    entries = [os.fsdecode(e) for e in done.stdout.split(b"\0") if e]
    return frozenset(e[3:] for e in entries if len(e) > 3 and e[2] == " ")


def _committed(root: Path, path: str) -> bytes | None:
    """A file as the last commit has it (None: not in it)."""
    done = subprocess.run(
        ["git", "show", f"HEAD:{path}"], cwd=root, capture_output=True, check=False, timeout=30
    )
    return done.stdout if done.returncode == 0 else None


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


@dataclass(slots=True)
class Applied:
    results: list[tuple[Op, ToolResult]]
    denied: ToolResult | None = None

    def errors(self) -> list[str]:
        return [
            f"{op.describe()} failed: {result.text.strip()[:500]}"
            for op, result in self.results
            if result.is_error
        ]


async def apply_ops(ops: list[Op], runner: ToolRunner, changes: Changes) -> Applied:
    """Run the operations in order; stop at the first denial."""
    applied = Applied([])
    for op in ops:
        if op.path is not None:
            changes.remember(_relative(changes.root, op.path))
        result = await runner.run(op.guarded)
        applied.results.append((op, result))
        if result.denied_by is not None:
            applied.denied = result
            break
        if not result.is_error:
            changes.operations.append(op.describe())
    return applied


def tool_messages(applied: Applied) -> list[Message]:
    """The results, answering the model's calls (the next request carries them)."""
    messages = []
    for op, result in applied.results:
        messages.append(Message.tool(ToolResult(op.call.id, op.call.name, result.content,
                                                result.is_error)))  # fmt: skip
    return messages


def _relative(root: Path, path: str) -> str:
    target = Path(path)
    if target.is_absolute():
        try:
            return target.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return path
    return target.as_posix()


def not_run(message: Message, applied: Applied) -> list[Message]:
    """Answers for calls a denial left unrun, so the conversation stays well-formed."""
    ran = {op.call.id for op, _ in applied.results}
    return [
        Message.tool(
            ToolResult.of_text(c, "Not run: an earlier operation was denied.", is_error=True)
        )
        for c in message.tool_calls
        if c.id not in ran
    ]
