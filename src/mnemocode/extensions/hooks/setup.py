"""A session's hooks from its settings (``app/build.py`` calls this)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mnemocode.config.paths import find_project_root
from mnemocode.config.settings import HookConfig, HookEvent
from mnemocode.extensions.hooks.config import load_hooks
from mnemocode.extensions.hooks.service import Hooks


def open_hooks(
    configured: Mapping[HookEvent, list[HookConfig]],
    *,
    workdir: Path,
    env: Mapping[str, str],
    trusted: bool,
    notices: list[str],
) -> Hooks | None:
    """None when no hook is configured; what could not be read goes to ``notices``."""
    root = find_project_root(workdir, env=env)
    found = load_hooks(
        configured,
        project_root=root,
        user_home=Path(env.get("HOME") or Path.home()),
        trusted=trusted,
    )
    notices.extend(found.notices)
    if not found.hooks:
        return None
    return Hooks(found.hooks, workdir=workdir, project_dir=root or workdir, env=env)
