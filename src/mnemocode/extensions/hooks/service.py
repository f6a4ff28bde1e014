"""A session's hooks: which run on an event, what they are told, and what their
replies add up to. The guard calls the tool events (``ToolHooks``); ``App`` the
prompt and session events; the loop the Stop event."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnemocode.config.settings import HookEvent
from mnemocode.core.events import AgentEvent, Notice
from mnemocode.core.protocols import ApprovalRequest, ToolContext
from mnemocode.core.types import Message, TextPart, ToolCall, ToolResult
from mnemocode.extensions.hooks.config import Hook
from mnemocode.extensions.hooks.names import (
    claude_input,
    claude_name,
    matches,
    names_of,
    our_input,
)
from mnemocode.extensions.hooks.runner import HookReply, run_hook
from mnemocode.safety.guard import HookAnswer

Emit = Callable[[AgentEvent], None]


@dataclass(frozen=True)
class Replies:
    """Every matching hook's reply to one event, taken together."""

    replies: tuple[HookReply, ...] = ()

    @property
    def blocked(self) -> bool:
        return any(r.blocked for r in self.replies)

    @property
    def reason(self) -> str:
        return "\n".join(r.reason for r in self.replies if r.blocked and r.reason)

    @property
    def context(self) -> str:
        return "\n".join(r.context for r in self.replies if r.context)

    @property
    def stop(self) -> str | None:
        stops = [r.stop for r in self.replies if r.stop is not None]
        return "\n".join(stops) if stops else None

    def permission(self, tool: str = "") -> HookAnswer:
        """deny over ask over allow, as Claude Code ranks them; exit 2 is a deny. The
        hooks' ``updatedInput`` (in our field names) is merged in their order."""
        updated: dict[str, Any] = {}
        for reply in self.replies:
            if reply.updated_input is not None:
                updated |= our_input(tool, reply.updated_input)
        for action in ("deny", "ask", "allow"):
            said = [r for r in self.replies if r.permission == action]
            if action == "deny":
                said += [r for r in self.replies if r.blocked or r.stop is not None]
            if said:
                why = "\n".join(r.permission_reason or r.reason or r.stop or "" for r in said)
                return HookAnswer(action, why.strip(), updated or None)
        return HookAnswer(updated_input=updated or None)


@dataclass
class Hooks:
    hooks: list[Hook]
    workdir: Path
    project_dir: Path
    env: Mapping[str, str]
    # SessionStart's source for the next turn (startup, resume, clear); None: done.
    start_source: str | None = "startup"
    ended: bool = False
    # A session left by /clear or a resume: its SessionEnd (id, reason) is still due.
    pending_end: tuple[str, str] | None = None
    # The session's permission mode now (the guard's rules for a hook's answer).
    mode_of: Callable[[], str] = lambda: "ask"

    def of(self, event: HookEvent) -> list[Hook]:
        return [h for h in self.hooks if h.event == event]

    async def fire(
        self,
        event: HookEvent,
        session_id: str,
        emit: Emit,
        target: set[str] | None = None,
        **fields: Any,
    ) -> Replies:
        """Run every hook of ``event`` whose matcher takes ``target`` (all of them run
        at once, as in Claude Code); failures and timeouts are said, one line each."""
        chosen = [h for h in self.of(event) if target is None or matches(h.pattern, target)]
        if not chosen:
            return Replies()
        payload = {
            "session_id": session_id,
            "transcript_path": "",
            "cwd": str(self.workdir),
            "hook_event_name": event,
            **fields,
        }
        env = {**self.env, "CLAUDE_PROJECT_DIR": str(self.project_dir)}
        replies = await asyncio.gather(
            *(run_hook(h, payload, cwd=self.workdir, env=env) for h in chosen)
        )
        for reply in replies:
            if reply.problem:
                emit(Notice("warning", reply.problem, topic="hooks"))
        return Replies(tuple(replies))

    # ---- a turn and a session (App, the loop) --------------------------------------

    async def open_turn(self, prompt: Message | str, session_id: str, emit: Emit) -> Opening:
        """SessionStart (once a session) and UserPromptSubmit before a turn: what
        they add joins the user's message; a UserPromptSubmit block refuses it."""
        message = Message.user(prompt) if isinstance(prompt, str) else prompt
        added: list[str] = []
        await self._end_pending(emit)
        if self.start_source is not None:
            source, self.start_source = self.start_source, None
            self.ended = False
            started = await self.fire("SessionStart", session_id, emit, {source}, source=source)
            added.append(started.context)
        replies = await self.fire("UserPromptSubmit", session_id, emit, prompt=message.text)
        if replies.blocked or replies.stop is not None:
            why = replies.stop if replies.stop is not None else replies.reason
            return Opening(message, f"Prompt refused by a UserPromptSubmit hook: {why}")
        added.append(replies.context)
        context = "\n\n".join(text for text in added if text)
        if context:
            note = TextPart(f"\n\n<hook-context>\n{context}\n</hook-context>")
            message = dataclasses.replace(message, content=[*message.content, note])
        return Opening(message, None)

    async def stop_check(
        self, session_id: str, answer: str, active: bool, emit: Emit
    ) -> str | None:
        """Stop hooks when the model is done: the reason it must go on, or None."""
        replies = await self.fire(
            "Stop", session_id, emit, stop_hook_active=active, last_assistant_message=answer
        )
        if replies.stop is not None or not replies.blocked:
            return None
        return replies.reason

    async def pre_compact(self, session_id: str, trigger: str, emit: Emit) -> None:
        await self.fire(
            "PreCompact", session_id, emit, {trigger}, trigger=trigger, custom_instructions=""
        )

    async def end(self, session_id: str, reason: str, emit: Emit | None = None) -> None:
        """SessionEnd, once per session (not for one that never started)."""
        await self._end_pending(emit or (lambda _e: None))
        if self.ended or self.start_source is not None:
            return
        self.ended = True
        await self.fire(
            "SessionEnd", session_id, emit or (lambda _e: None), {reason}, reason=reason
        )

    def restart(self, source: str, left: str | None = None) -> None:
        """A new conversation (clear) or a stored one (resume) starts at the next turn;
        the session ``left`` (if it had started) gets its SessionEnd before that turn,
        or at exit (reason ``clear``, or ``other`` as Claude Code says for the rest)."""
        if left is not None and self.start_source is None and not self.ended:
            self.pending_end = (left, "clear" if source == "clear" else "other")
        self.start_source = source

    async def _end_pending(self, emit: Emit) -> None:
        if self.pending_end is None:
            return
        (session_id, reason), self.pending_end = self.pending_end, None
        await self.fire("SessionEnd", session_id, emit, {reason}, reason=reason)

    # ---- around a tool call (the guard) --------------------------------------------

    async def before_tool(self, call: ToolCall, ctx: ToolContext) -> HookAnswer:
        replies = await self.fire(
            "PreToolUse",
            ctx.session_id,
            ctx.emit,
            names_of(call.name),
            tool_name=claude_name(call.name),
            tool_input=claude_input(call.name, call.arguments),
            mnemo_tool_name=call.name,
        )
        return replies.permission(call.name)

    async def after_tool(self, call: ToolCall, ctx: ToolContext, result: ToolResult) -> str:
        """What PostToolUse hooks tell the model about the result ("" for nothing)."""
        replies = await self.fire(
            "PostToolUse",
            ctx.session_id,
            ctx.emit,
            names_of(call.name),
            tool_name=claude_name(call.name),
            tool_input=claude_input(call.name, call.arguments),
            tool_response=_response(call, result),
            mnemo_tool_name=call.name,
        )
        said = [f"[PostToolUse hook] {text}" for text in (replies.reason, replies.context) if text]
        if replies.stop is not None:
            said.append(f"[PostToolUse hook] stop and report to the user: {replies.stop}")
        return "\n\n".join(said)

    def mode(self) -> str:
        return self.mode_of()

    async def asking(self, request: ApprovalRequest, ctx: ToolContext) -> None:
        await self.fire(
            "Notification",
            ctx.session_id,
            ctx.emit,
            {"permission_prompt"},
            message=f"mnemo needs your permission to use {request.tool}",
            notification_type="permission_prompt",
        )


@dataclass(frozen=True)
class Opening:
    """The prompt as it goes to the model, or why a hook refused it."""

    prompt: Message
    refused: str | None


def _response(call: ToolCall, result: ToolResult) -> dict[str, Any]:
    """Claude Code's ``tool_response``, as near as our results come to it."""
    text = result.text
    response: dict[str, Any] = {"output": text, "success": not result.is_error}
    if call.name == "shell_exec":
        response.update(stdout=text, stderr="", interrupted=False)
    path = call.arguments.get("path")
    if isinstance(path, str):
        response["filePath"] = path
    return response
