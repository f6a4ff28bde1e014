"""One hook run: a shell command in its own process group with Claude Code's JSON
on stdin, killed (the whole group) at its timeout; what it answered, read as
Claude Code reads it (exit 0 / 2 / other, JSON on stdout)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mnemocode.extensions.hooks.config import Hook

Permission = Literal["allow", "deny", "ask"]
MAX_OUTPUT_CHARS = 10_000


@dataclass(frozen=True)
class HookReply:
    """What one hook said, in Claude Code's terms."""

    hook: Hook
    blocked: bool = False  # exit 2, or ``decision: block``
    reason: str = ""  # why it blocked (stderr of exit 2, or ``reason``)
    permission: Permission | None = None  # PreToolUse's hookSpecificOutput
    permission_reason: str = ""
    context: str = ""  # additionalContext (or plain stdout where Claude Code adds it)
    stop: str | None = None  # ``continue: false``: its stopReason
    output: str = ""  # stdout for the transcript (empty if suppressOutput)
    problem: str | None = None  # one line for the user: timeout, failure, other exit code
    updated_input: dict[str, Any] | None = None  # PreToolUse's updatedInput


async def run_hook(
    hook: Hook, payload: Mapping[str, Any], *, cwd: Path, env: Mapping[str, str]
) -> HookReply:
    data = json.dumps(payload, ensure_ascii=False, default=str).encode()
    shell = shutil.which("bash") or "/bin/sh"
    try:
        proc = await asyncio.create_subprocess_exec(
            shell,
            "-c",
            hook.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,  # its own process group: killed whole at timeout
        )
    except OSError as exc:
        return HookReply(hook, problem=f"{_name(hook)} could not start: {exc}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), hook.timeout)
    except TimeoutError:
        await _kill(proc)
        return HookReply(hook, problem=f"{_name(hook)} timed out after {hook.timeout:g}s")
    except BaseException:
        await _kill(proc)
        raise
    stdout = out.decode(errors="replace")[:MAX_OUTPUT_CHARS]
    stderr = err.decode(errors="replace")[:MAX_OUTPUT_CHARS].strip()
    return read_reply(hook, proc.returncode or 0, stdout, stderr)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        await proc.wait()


def _name(hook: Hook) -> str:
    command = hook.command if len(hook.command) <= 60 else hook.command[:57] + "..."
    return f"{hook.event} hook `{command}` ({hook.source})"


#: Where plain stdout of exit 0 becomes context for the model, as in Claude Code.
_STDOUT_IS_CONTEXT = {"UserPromptSubmit", "SessionStart"}


def read_reply(hook: Hook, code: int, stdout: str, stderr: str) -> HookReply:
    if code == 2:
        return HookReply(hook, blocked=True, reason=stderr or f"{_name(hook)} said no (exit 2)")
    if code != 0:
        why = f": {stderr.splitlines()[-1]}" if stderr else ""
        return HookReply(hook, problem=f"{_name(hook)} failed (exit {code}){why}")
    parsed = _json_object(stdout)
    if parsed is None:
        context = stdout.strip() if hook.event in _STDOUT_IS_CONTEXT else ""
        return HookReply(hook, context=context, output=stdout.strip())
    return _read_json(hook, parsed, stdout)


def _json_object(stdout: str) -> dict[str, Any] | None:
    text = stdout.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _read_json(hook: Hook, data: dict[str, Any], stdout: str) -> HookReply:
    specific = data.get("hookSpecificOutput")
    specific = specific if isinstance(specific, dict) else {}
    decision = data.get("decision")
    reason = _text(data.get("reason"))
    permission: Permission | None = None
    raw = specific.get("permissionDecision")
    if raw in ("allow", "deny", "ask"):
        permission = raw
    elif hook.event == "PreToolUse" and decision in ("approve", "block"):
        permission = "allow" if decision == "approve" else "deny"  # the older fields
    blocked = decision == "block" and hook.event != "PreToolUse"
    stop = None
    if data.get("continue") is False:
        stop = _text(data.get("stopReason")) or f"{_name(hook)} stopped the session"
    return HookReply(
        hook,
        blocked=blocked,
        reason=reason or (f"{_name(hook)} blocked it" if blocked else ""),
        permission=permission,
        permission_reason=_text(specific.get("permissionDecisionReason")) or reason,
        context=_text(specific.get("additionalContext")),
        stop=stop,
        output="" if data.get("suppressOutput") else stdout.strip(),
        problem=_text(data.get("systemMessage")) or None,
        updated_input=_object(specific.get("updatedInput")),
    )


def _object(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
