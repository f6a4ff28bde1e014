"""Where hooks come from: ``[[hooks.<Event>]]`` in mnemo's config, and the ``hooks``
of Claude Code's ``~/.claude/settings.json``, ``.claude/settings.json`` and
``.claude/settings.local.json`` in their own JSON shape. A project's files count
only in a trusted folder; a broken one is said (file and line) and skipped."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnemocode.config.settings import HookConfig, HookEvent
from mnemocode.extensions.hooks.names import EVENTS, compile_matcher

#: A project's Claude Code settings files, relative to its root.
PROJECT_FILES = (".claude/settings.json", ".claude/settings.local.json")
MAX_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Hook:
    event: HookEvent
    command: str
    matcher: str
    timeout: float
    source: str  # where it was configured, as shown by /hooks
    pattern: re.Pattern[str] | frozenset[str] | None = field(compare=False, default=None)


@dataclass
class LoadedHooks:
    hooks: list[Hook] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def load_hooks(
    configured: Mapping[HookEvent, list[HookConfig]],
    *,
    project_root: Path | None,
    user_home: Path,
    trusted: bool,
) -> LoadedHooks:
    """Every configured hook, the user's first. ``configured`` (the merged mnemo
    config) holds a project's ``[hooks]`` only when the folder was trusted."""
    found = LoadedHooks()
    _read_json(user_home / ".claude" / "settings.json", "~/.claude/settings.json", found)
    for event, entries in configured.items():
        for entry in entries:
            _add(
                found,
                event=event,
                command=entry.command,
                matcher=entry.matcher,
                timeout=entry.timeout,
                source="mnemo config",
                where=None,
            )
    for name in PROJECT_FILES if project_root is not None else ():
        assert project_root is not None
        path = project_root / name
        if not trusted:
            if _has_hooks(path):
                found.notices.append(
                    f"hooks of {path} not run: this folder is not trusted "
                    f"(`mnemo trust {project_root}` or --trust)"
                )
            continue
        _read_json(path, name, found)
    return found


def _has_hooks(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return path.is_file()
    return isinstance(data, dict) and bool(data.get("hooks"))


def _read_json(path: Path, source: str, found: LoadedHooks) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except OSError as exc:
        found.notices.append(f"{path}: hooks not read: {exc.strerror or exc}")
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        found.notices.append(f"{path}:{exc.lineno}: hooks not read: invalid JSON ({exc.msg})")
        return
    hooks = data.get("hooks") if isinstance(data, dict) else None
    if hooks is None:
        return
    where = _Where(path, text)
    if not isinstance(hooks, dict):
        found.notices.append(where.say('"hooks"', "hooks not read: must be an object"))
        return
    for event, groups in hooks.items():
        if event not in EVENTS:
            known = ", ".join(EVENTS)
            found.notices.append(where.say(f'"{event}"', f"unknown hook event {event!r} ({known})"))
            continue
        if not isinstance(groups, list):
            found.notices.append(where.say(f'"{event}"', f"{event}: must be a list"))
            continue
        for group in groups:
            _read_group(found, event, group, source, where)


def _read_group(
    found: LoadedHooks, event: HookEvent, group: Any, source: str, where: _Where
) -> None:
    if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
        found.notices.append(where.say(f'"{event}"', f'{event}: each entry needs a "hooks" list'))
        return
    matcher = group.get("matcher") or ""
    for hook in group["hooks"]:
        kind = hook.get("type", "command") if isinstance(hook, dict) else None
        command = hook.get("command") if isinstance(hook, dict) else None
        if kind != "command" or not isinstance(command, str) or not command.strip():
            what = f"type {kind!r} means nothing here" if kind != "command" else "no command"
            found.notices.append(where.say(f'"{event}"', f"{event} hook skipped: {what}"))
            continue
        timeout = hook.get("timeout", 60)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            found.notices.append(where.say(command, f"{event} hook: timeout must be > 0; 60 used"))
            timeout = 60
        _add(
            found,
            event=event,
            command=command,
            matcher=str(matcher),
            timeout=float(timeout),
            source=source,
            where=where,
        )


def _add(
    found: LoadedHooks,
    *,
    event: HookEvent,
    command: str,
    matcher: str,
    timeout: float,
    source: str,
    where: _Where | None,
) -> None:
    try:
        pattern = compile_matcher(matcher)
    except re.error as exc:
        line = where.say(matcher, "") if where is not None else f"{source}: "
        found.notices.append(f"{line.rstrip(': ')}: {event} hook skipped: bad matcher ({exc})")
        return
    hook = Hook(event, command, matcher, min(timeout, MAX_TIMEOUT_S), source, pattern)
    if hook not in found.hooks:
        found.hooks.append(hook)


@dataclass(frozen=True)
class _Where:
    """Names a problem in a JSON file by the line of the text it is about."""

    path: Path
    text: str

    def say(self, needle: str, message: str) -> str:
        at = self.text.find(needle)
        line = self.text.count("\n", 0, at) + 1 if at >= 0 else 1
        return f"{self.path}:{line}: {message}"
