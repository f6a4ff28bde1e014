"""Claude Code's names for events and tools, and its field names for tool inputs:
hooks written for Claude Code see what they expect."""

from __future__ import annotations

import re
from typing import Any, get_args

from mnemocode.config.settings import HookEvent

EVENTS: tuple[HookEvent, ...] = get_args(HookEvent)

#: Our tool → Claude Code's name for it (Edit and MultiEdit are both ``file_edit``).
CLAUDE_NAMES = {
    "shell_exec": "Bash",
    "file_edit": "Edit",
    "file_write": "Write",
    "file_read": "Read",
    "glob": "Glob",
    "grep": "Grep",
    "web_fetch": "WebFetch",
    "web_search": "WebSearch",
    "task": "Task",
}
_ALIASES = {"MultiEdit": "file_edit", "Agent": "task"}

#: Our argument → Claude Code's field, per tool, where the two differ.
_FIELDS = {
    "file_read": {"path": "file_path"},
    "file_write": {"path": "file_path"},
    "file_edit": {"path": "file_path"},
}

_PLAIN = re.compile(r"[A-Za-z0-9_\-|, ]*")


def claude_name(tool: str) -> str:
    """The name a Claude Code hook knows the tool by (MCP tools keep theirs)."""
    return CLAUDE_NAMES.get(tool, tool)


def names_of(tool: str) -> set[str]:
    """Every name a matcher may use for ``tool``: ours and Claude Code's."""
    names = {tool, claude_name(tool)}
    names.update(alias for alias, ours in _ALIASES.items() if ours == tool)
    return names


def claude_input(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` with Claude Code's field names (the others kept as they are)."""
    renames = _FIELDS.get(tool, {})
    return {renames.get(key, key): value for key, value in arguments.items()}


def our_input(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Claude Code's field names (a hook's ``updatedInput``) back to ours."""
    renames = {theirs: ours for ours, theirs in _FIELDS.get(tool, {}).items()}
    return {renames.get(key, key): value for key, value in arguments.items()}


def compile_matcher(matcher: str) -> re.Pattern[str] | frozenset[str] | None:
    """None: every target. Names only (``Bash``, ``Edit|Write``): those exact names.
    Anything else: an unanchored regex, as Claude Code reads it. Raises
    ``re.error`` for a broken one."""
    text = matcher.strip()
    if text in {"", "*"}:
        return None
    if _PLAIN.fullmatch(text):
        return frozenset(part.strip() for part in re.split(r"[|,]", text) if part.strip())
    return re.compile(text)


def matches(compiled: re.Pattern[str] | frozenset[str] | None, targets: set[str]) -> bool:
    if compiled is None:
        return True
    if isinstance(compiled, frozenset):
        return bool(compiled & targets)
    return any(compiled.search(target) for target in targets)
