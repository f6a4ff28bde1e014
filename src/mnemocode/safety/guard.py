"""``GuardedToolset``: the wrapper every tool call passes through.

policy decides (allow / ask / deny) → the ``Approver`` the front end supplied
answers the asks → the inner toolset runs the call. A denial goes back to the
model as an error result that says why, never as a crash.

The policy here is the interim one: read-only tools run, everything else asks.
The full layer (shell analysis, zones, checkpoints, audit) replaces ``Policy``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mnemocode.core.protocols import (
    ApprovalDecision,
    ApprovalRequest,
    Approver,
    ToolContext,
    Toolset,
)
from mnemocode.core.types import ToolCall, ToolResult, ToolSpec

Action = Literal["allow", "ask", "deny"]
Mode = Literal["ask", "auto", "bypass"]
Previewer = Callable[[ToolCall, ToolContext], str | None]

_FILE_WRITERS = {"file_write", "file_edit"}


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str
    rule: str


@dataclass(slots=True)
class Policy:
    mode: Mode = "ask"

    def decide(self, call: ToolCall, spec: ToolSpec | None, ctx: ToolContext) -> Verdict:
        if self.mode == "bypass":
            return Verdict("allow", "safety checks are off for this session", "mode:bypass")
        if spec is not None and spec.read_only:
            return Verdict("allow", "read-only tool", "read-only")
        if self.mode == "auto" and call.name in _FILE_WRITERS:
            target = _target_path(call, ctx)
            if target is not None and target.is_relative_to(ctx.cwd.resolve()):
                return Verdict("allow", "write inside the work directory", "auto:workdir-write")
            return Verdict("ask", "write outside the work directory", "auto:outside-write")
        return Verdict("ask", f"{call.name} can change your system", "interim:ask")


def _target_path(call: ToolCall, ctx: ToolContext) -> Path | None:
    raw = call.arguments.get("path")
    if not isinstance(raw, str) or not raw:
        return None
    path = Path(raw).expanduser()
    return (path if path.is_absolute() else ctx.cwd / path).resolve()


def summarize(call: ToolCall) -> str:
    args = call.arguments
    if call.name == "shell_exec":
        return f"run: {args.get('command', '')}"
    if call.name in _FILE_WRITERS:
        return f"{call.name.removeprefix('file_')} {args.get('path', '?')}"
    text = json.dumps(args, ensure_ascii=False, default=str)
    return f"{call.name} {text[:200]}"


def _session_key(call: ToolCall) -> str:
    if call.name == "shell_exec":
        return f"shell_exec:{call.arguments.get('command', '')}"
    return call.name


@dataclass(slots=True)
class GuardedToolset:
    inner: Toolset
    approver: Approver
    policy: Policy = field(default_factory=Policy)
    previewers: dict[str, Previewer] = field(default_factory=dict)
    # "Allow for this session" answers: exact shell commands, or whole tools.
    session_allowed: set[str] = field(default_factory=set)

    def specs(self) -> list[ToolSpec]:
        return self.inner.specs()

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        spec = next((s for s in self.inner.specs() if s.name == call.name), None)
        verdict = self.policy.decide(call, spec, ctx)
        if verdict.action == "deny":
            return _denied(
                call, f"Refused by the safety policy ({verdict.rule}): {verdict.reason}."
            )
        if verdict.action == "ask" and _session_key(call) not in self.session_allowed:
            decision = await self._ask(call, ctx, verdict)
            if not decision.allowed:
                why = f": {decision.reason}" if decision.reason else ""
                advice = "Do not retry the same call; adapt or ask the user."
                return _denied(call, f"Denied by {decision.by}{why}. {advice}")
            if decision.scope == "session":
                self.session_allowed.add(_session_key(call))
        return await self.inner.call(call, ctx)

    async def _ask(self, call: ToolCall, ctx: ToolContext, verdict: Verdict) -> ApprovalDecision:
        preview = None
        previewer = self.previewers.get(call.name)
        if previewer is not None:
            try:
                preview = previewer(call, ctx)
            except Exception as exc:  # a preview must never block the question
                preview = f"(no preview: {exc})"
        request = ApprovalRequest(
            call.name, call.arguments, summarize(call), verdict.reason, preview
        )
        return await self.approver.approve(request)


def _denied(call: ToolCall, message: str) -> ToolResult:
    return ToolResult.of_text(call, message, is_error=True)
