"""``GuardedToolset``: the wrapper every tool call passes through — built-in, MCP,
custom, and the user's own ``!cmd``.

policy decides (allow / ask / deny) → the ``Approver`` the front end supplied
answers the asks → the target is re-checked (a symlink swapped in between does
not redirect the write) → a checkpoint is taken before anything changes → the
inner toolset runs the call → secrets are redacted from its output → the
decision goes to the audit log. A denial reaches the model as an error result
that says why, never as a crash.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mnemocode.core.protocols import (
    ApprovalDecision,
    ApprovalRequest,
    Approver,
    CommandResult,
    CommandSpec,
    Sandbox,
    ToolContext,
    Toolset,
)
from mnemocode.core.types import TextPart, ToolCall, ToolResult, ToolSpec

if TYPE_CHECKING:
    from mnemocode.safety.audit import AuditLog
    from mnemocode.safety.checkpoints import CheckpointStore
    from mnemocode.safety.paths import PathPolicy, PathVerdict
    from mnemocode.safety.rules import RuleStore
    from mnemocode.safety.secrets import Redactor
    from mnemocode.safety.shell import ShellVerdict

Action = Literal["allow", "ask", "deny"]
Previewer = Callable[[ToolCall, ToolContext], str | None]
FILE_WRITERS = {"file_write", "file_edit", "apply_patch"}


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str
    rule: str
    # For file tools: the checked path, re-checked right before the write.
    path: PathVerdict | None = None
    shell: ShellVerdict | None = None
    protected: bool = False
    # How a shell command runs if it goes ahead: with the network (granted for this
    # one command), and inside the confining sandbox or not.
    network: bool = False
    confined: bool = True
    # A tool that writes several files (apply_patch): every checked path; ``path``
    # is the one that decided.
    targets: tuple[PathVerdict, ...] = ()

    @property
    def checked_paths(self) -> tuple[PathVerdict, ...]:
        return self.targets or ((self.path,) if self.path is not None else ())


class Policy(Protocol):
    def decide(self, call: ToolCall, spec: ToolSpec | None, ctx: ToolContext) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class HookAnswer:
    """What the PreToolUse hooks said about a call (None: nothing)."""

    action: Action | None = None
    reason: str = ""
    # New values for some arguments (Claude Code's ``updatedInput``): the call runs
    # with them, and the policy decides again on the call as changed.
    updated_input: dict[str, Any] | None = None


class ToolHooks(Protocol):
    """Hooks around a call (``extensions/hooks``): before the question, after the run."""

    async def before_tool(self, call: ToolCall, ctx: ToolContext) -> HookAnswer: ...

    async def after_tool(self, call: ToolCall, ctx: ToolContext, result: ToolResult) -> str: ...

    async def asking(self, request: ApprovalRequest, ctx: ToolContext) -> None: ...

    def mode(self) -> str:
        """The session's permission mode now (ask, auto, bypass)."""
        ...


def summarize(call: ToolCall) -> str:
    args = call.arguments
    if call.name == "shell_exec":
        return f"run: {args.get('command', '')}"
    if call.name == "apply_patch":
        from mnemocode.tools.apply_patch import PatchError, patch_paths

        try:
            return f"patch {', '.join(patch_paths(str(args.get('input', ''))))}"
        except PatchError:
            return "patch (does not parse)"
    if call.name in FILE_WRITERS:
        return f"{call.name.removeprefix('file_')} {args.get('path', '?')}"
    text = json.dumps(args, ensure_ascii=False, default=str)
    return f"{call.name} {text[:200]}"


def _session_key(call: ToolCall, verdict: Verdict) -> str:
    """What an "allow for this session" answer covers: the exact command; a file
    tool anywhere in the work directory; elsewhere, that one path; web_fetch, the
    domain; web_search, every search."""
    if call.name == "shell_exec":
        return f"shell_exec:{call.arguments.get('command', '')}"
    if call.name == "web_fetch":
        from mnemocode.safety.domains import DomainError, domain_of, session_key

        try:
            return session_key(call.name, domain_of(str(call.arguments.get("url", ""))))
        except DomainError:
            return call.name
    if verdict.path is not None:
        places = {
            "workdir" if p.zone == "workdir" else str(p.resolved) for p in verdict.checked_paths
        }
        return f"{call.name}:{'|'.join(sorted(places))}"
    return call.name


def session_scope(call: ToolCall, verdict: Verdict) -> str:
    """``_session_key`` in words: what the question's "this session" answer covers."""
    key = _session_key(call, verdict)
    if call.name == "shell_exec":
        what = "this exact command"
    elif call.name == "web_fetch":
        host = key.removeprefix("web_fetch:domain:")
        what = f"fetches from {host}" if host != key else "every web fetch"
    elif verdict.path is not None:
        kind = "file edits" if call.name in FILE_WRITERS else f"{call.name} calls"
        places = key.partition(":")[2].split("|")
        where = ", ".join("in the work directory" if p == "workdir" else f"on {p}" for p in places)
        what = f"{kind} {where}"
    else:
        what = "every web search" if call.name == "web_search" else f"every {call.name} call"
    return f"{what} for this session"


def _modifies(call: ToolCall, verdict: Verdict, spec: ToolSpec | None) -> bool:
    if call.name in FILE_WRITERS:
        return True
    if call.name == "shell_exec":
        return verdict.shell is None or verdict.shell.action != "allow"
    return spec is None or not spec.read_only


@dataclass(slots=True)
class GuardedToolset:
    inner: Toolset
    approver: Approver
    policy: Policy
    previewers: dict[str, Previewer] = field(default_factory=dict)
    paths: PathPolicy | None = None
    checkpoints: CheckpointStore | None = None
    audit: AuditLog | None = None
    redactor: Redactor | None = None
    rules: RuleStore | None = None
    # "Allow for this session" answers: exact commands, or a tool on one path.
    session_allowed: set[str] = field(default_factory=set)
    hooks: ToolHooks | None = None

    def specs(self) -> list[ToolSpec]:
        return self.inner.specs()

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        specs = self.inner.specs()
        patch = _shell_patch(call, specs)
        if patch is not None:
            return replace(await self.call(patch, ctx), name=call.name)
        spec = next((s for s in specs if s.name == call.name), None)
        if spec is None:
            # Nothing to approve: a name the model made up (or remembers from its
            # training, like Codex's apply_patch) cannot run whatever the answer.
            known = ", ".join(sorted(s.name for s in specs))
            message = f"Unknown tool {call.name!r}. Available tools: {known}"
            return self._finish(
                call,
                ctx,
                Verdict("deny", "not one of the available tools", "unknown-tool"),
                outcome="denied",
                decided_by="unknown-tool",
                result=_denied(call, message),
                source="policy",
            )
        verdict = self.policy.decide(call, spec, ctx)
        call, verdict, hook_asked = await self._pre_hooks(call, spec, ctx, verdict)
        decided_by = verdict.rule
        approved = verdict.rule == "hook:allow"
        if verdict.action == "deny":
            hooked = verdict.rule.startswith("hook:")
            return self._finish(
                call,
                ctx,
                verdict,
                outcome="denied",
                decided_by=decided_by,
                result=_denied(call, _refusal(verdict)),
                source="hook" if hooked else "policy",
            )
        if verdict.action == "ask":
            if _session_key(call, verdict) in self.session_allowed and not hook_asked:
                decided_by = "user (allowed for this session)"
            else:
                decision = await self._ask(call, ctx, verdict)
                decided_by = decision.by
                if not decision.allowed:
                    why = f": {decision.reason}" if decision.reason else ""
                    advice = "Do not retry the same call; adapt or ask the user."
                    result = _denied(call, f"Denied by {decision.by}{why}. {advice}")
                    result.duration_s = 0.0  # it never ran; the answer's wait is not its time
                    return self._finish(
                        call,
                        ctx,
                        verdict,
                        outcome="denied",
                        decided_by=decided_by,
                        result=result,
                        source=_approver_source(decision.by),
                    )
                if decision.scope == "always" and self._save_rule(call, ctx, verdict, decision):
                    decided_by = f"{decision.by} (saved a rule)"
                elif decision.scope in {"session", "always"}:
                    self.session_allowed.add(_session_key(call, verdict))
            approved = True
        # The call's duration starts now: the time the user took to answer is not its.
        ran_from = time.perf_counter()
        moved = self._target_moved(verdict)
        if moved is not None:
            return self._finish(
                call,
                ctx,
                verdict,
                outcome="denied",
                decided_by="recheck",
                result=_denied(call, moved),
                source="recheck",
            )
        checkpoint = None
        if self.checkpoints is not None and _modifies(call, verdict, spec):
            # A snapshot reads the tree: off the event loop. A read-only call needs none.
            checkpoint = await asyncio.to_thread(self._checkpoint, call, ctx, verdict, spec)
        if call.name == "shell_exec":
            # An approved command gets the network for this one run.
            grant = _Grant(
                ctx.sandbox, network=verdict.network or approved, confined=verdict.confined
            )
            ctx = replace(ctx, sandbox=grant)
        # Any tool's output may carry a key: a file read, a grep hit, a web page.
        result = self._redact(await self.inner.call(call, ctx))
        result.duration_s = time.perf_counter() - ran_from
        refused_by = result.denied_by
        await self._post_hooks(call, ctx, result)
        return self._finish(
            call,
            ctx,
            verdict,
            outcome="denied" if refused_by else "approved",
            decided_by=decided_by,
            result=result,
            checkpoint=checkpoint,
            source=refused_by or ("user" if approved else "policy"),
        )

    def _save_rule(
        self, call: ToolCall, ctx: ToolContext, verdict: Verdict, decision: ApprovalDecision
    ) -> bool:
        """An "always" answer becomes the narrowest rule that covers this call: this
        exact single command in this directory, this tool on this one path, or this
        MCP tool (every tool of its server if the answer said so). Anything broader
        (a compound command, no path) stays a session answer."""
        if self.rules is None:
            return False
        from mnemocode.safety.rules import MCP_PREFIX, Rule

        if call.name.startswith(MCP_PREFIX) and verdict.path is None:
            server = call.name[len(MCP_PREFIX) :].partition("__")[0]
            name = f"{MCP_PREFIX}{server}__*" if decision.wide else call.name
            rule = Rule(name, "project")
        elif call.name == "shell_exec" and verdict.shell is not None:
            if len(verdict.shell.commands) != 1:
                return False
            rule = Rule(
                "shell_exec", "project", prefix=verdict.shell.commands[0], directory=str(ctx.cwd)
            )
        elif verdict.path is not None and len(verdict.checked_paths) == 1:
            try:
                relative = verdict.path.resolved.relative_to(ctx.cwd.resolve()).as_posix()
            except ValueError:
                return False
            rule = Rule(call.name, "project", path_glob=relative)
        else:
            return False
        try:
            self.rules.add(rule)
        except ValueError:
            return False
        return True

    def end_turn(self, session: str, turn: int) -> None:
        """After a turn: record the state it left, so undo knows what it did."""
        if self.checkpoints is not None:
            self.checkpoints.end_turn(session, turn)

    # ---- steps ---------------------------------------------------------------------

    async def _pre_hooks(
        self, call: ToolCall, spec: ToolSpec | None, ctx: ToolContext, verdict: Verdict
    ) -> tuple[ToolCall, Verdict, bool]:
        """PreToolUse hooks run before the question; they only make it stricter. A
        hook that changes the input gets the policy's verdict on the changed call."""
        if verdict.action == "deny" or self.hooks is None:
            return call, verdict, False
        answer = await self.hooks.before_tool(call, ctx)
        if answer.updated_input:
            call = replace(call, arguments={**call.arguments, **answer.updated_input})
            verdict = self.policy.decide(call, spec, ctx)
            if verdict.action == "deny":
                return call, verdict, False
        return call, *_after_hook(verdict, answer, self.hooks.mode())

    async def _post_hooks(self, call: ToolCall, ctx: ToolContext, result: ToolResult) -> None:
        if self.hooks is None or result.denied_by is not None:
            return  # PostToolUse: only after a call that ran
        note = await self.hooks.after_tool(call, ctx, result)
        if note:
            result.content.append(TextPart(note))

    async def _ask(self, call: ToolCall, ctx: ToolContext, verdict: Verdict) -> ApprovalDecision:
        preview = None
        previewer = self.previewers.get(call.name)
        if previewer is not None:
            try:
                preview = previewer(call, ctx)
            except Exception as exc:  # a preview must never block the question
                preview = f"(no preview: {exc})"
        request = ApprovalRequest(
            call.name,
            call.arguments,
            summarize(call),
            verdict.reason,
            preview,
            session_scope=session_scope(call, verdict),
        )
        if self.hooks is not None:
            await self.hooks.asking(request, ctx)  # Notification hooks
        return await self.approver.approve(request)

    def _target_moved(self, verdict: Verdict) -> str | None:
        """Re-check a file target right before the write: a symlink created since
        the check must not redirect it somewhere the user did not approve."""
        if self.paths is None:
            return None
        for checked in verdict.checked_paths:
            now = self.paths.recheck(checked)
            if now.resolved != checked.resolved or now.zone != checked.zone:
                return (
                    f"Refused: {checked.resolved} now resolves to {now.resolved} ({now.zone}); "
                    "the target changed after it was checked."
                )
        return None

    def _checkpoint(
        self, call: ToolCall, ctx: ToolContext, verdict: Verdict, spec: ToolSpec | None
    ) -> str | None:
        if self.checkpoints is None or not _modifies(call, verdict, spec):
            return None
        checkpoint = self.checkpoints.begin_turn(ctx.session_id, ctx.turn)
        outside: list[Path] = []
        # Also inside the work tree: ignored files (.env) and .git/ are not in
        # the snapshot; the store skips what the snapshot already covers.
        outside.extend(checked.resolved for checked in verdict.checked_paths)
        if verdict.shell is not None and self.paths is not None:
            for target in verdict.shell.writes:
                if target != "?" and self.paths.check(target, write=True).zone != "workdir":
                    outside.append(Path(target))
        for path in outside:
            self.checkpoints.backup_outside(ctx.session_id, ctx.turn, path)
        return checkpoint.id

    def _redact(self, result: ToolResult) -> ToolResult:
        if self.redactor is None:
            return result
        parts = [
            TextPart(self.redactor.redact(p.text)) if isinstance(p, TextPart) else p
            for p in result.content
        ]
        return ToolResult(result.call_id, result.name, parts, result.is_error, result.denied_by)

    def _finish(
        self,
        call: ToolCall,
        ctx: ToolContext,
        verdict: Verdict,
        *,
        outcome: str,
        decided_by: str,
        result: ToolResult,
        source: str,
        checkpoint: str | None = None,
    ) -> ToolResult:
        if outcome == "denied" and result.denied_by is None:
            result.denied_by = source  # callers tell a denial from a failed call by it
        if self.audit is not None:
            from mnemocode.safety.audit import AuditEntry

            self.audit.record(
                AuditEntry.now(
                    session=ctx.session_id,
                    turn=ctx.turn,
                    tool=call.name,
                    arguments=call.arguments,
                    decision=verdict.action,
                    outcome=outcome,
                    decided_by=decided_by,
                    source=source,
                    reason=verdict.reason,
                    result=result.text,
                    checkpoint=checkpoint,
                )
            )
        return result


def _shell_patch(call: ToolCall, specs: list[ToolSpec]) -> ToolCall | None:
    """Codex CLI's models send a patch as a command (``apply_patch <<'EOF' … EOF``):
    where the apply_patch tool is offered, it runs as that tool — decided on every
    file it writes, not as a shell command."""
    if call.name != "shell_exec" or call.arguments.get("cwd"):
        return None
    if not any(s.name == "apply_patch" for s in specs):
        return None
    from mnemocode.tools.apply_patch import shell_patch

    text = shell_patch(str(call.arguments.get("command", "")))
    return None if text is None else ToolCall(call.id, "apply_patch", {"input": text})


def _after_hook(verdict: Verdict, answer: HookAnswer, mode: str) -> tuple[Verdict, bool]:
    """The policy's verdict with a PreToolUse answer applied, and whether a hook asked.
    deny and ask always apply (auto mode does not ask: it refuses); allow only skips
    a question ask mode would put, never one about a protected path."""
    reason = answer.reason
    if answer.action == "deny":
        return replace(
            verdict, action="deny", reason=reason or "a hook refused it", rule="hook:deny"
        ), False
    if answer.action == "ask":
        if verdict.action == "allow" and mode == "auto":
            why = "auto mode does not ask, and the hook asked for approval"
            return replace(
                verdict,
                action="deny",
                reason=f"{why}{f' ({reason})' if reason else ''}",
                rule="hook:ask",
            ), False
        why = f"a PreToolUse hook asks: {reason}" if reason else "a PreToolUse hook asks"
        return replace(verdict, action="ask", reason=why, rule="hook:ask"), True
    skips = verdict.action == "ask" and mode == "ask" and not verdict.protected
    if answer.action == "allow" and skips:
        return replace(
            verdict, action="allow", reason=reason or "a hook allowed it", rule="hook:allow"
        ), False
    return verdict, False


def _refusal(verdict: Verdict) -> str:
    if verdict.rule.startswith("hook:"):
        return f"Blocked by a PreToolUse hook: {verdict.reason}"
    return f"Refused by the safety policy ({verdict.rule}): {verdict.reason}."


def _denied(call: ToolCall, message: str) -> ToolResult:
    return ToolResult.of_text(call, message, is_error=True)


def _approver_source(by: str) -> str:
    """Who refused an asked call: the user, or a headless run's standing answer."""
    return "user" if by == "user" else "headless"


class _Grant:
    """The session's sandbox with one command's grant applied to its spec."""

    def __init__(self, inner: Sandbox, *, network: bool, confined: bool) -> None:
        self.inner, self.network, self.confined = inner, network, confined

    async def run(
        self, spec: CommandSpec, on_output: Callable[[str], None] | None = None
    ) -> CommandResult:
        granted = replace(
            spec, network=spec.network or self.network, confined=spec.confined and self.confined
        )
        return await self.inner.run(granted, on_output)
