"""The MCP toolset of one session, from its settings (``app/build.py`` calls this)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mnemocode.config.paths import find_project_root
from mnemocode.config.settings import McpConfig
from mnemocode.core.errors import ConfigError
from mnemocode.extensions.mcp.config import load_servers
from mnemocode.extensions.mcp.toolset import McpToolset


def open_mcp(
    config: McpConfig,
    *,
    workdir: Path,
    mnemo_home: Path,
    state_dir: Path,
    env: Mapping[str, str],
    trusted: bool,
    notices: list[str],
) -> McpToolset | None:
    """None when no server is configured. A broken config file is said in
    ``notices`` (file and line) and the session goes on without MCP servers."""
    # Only a project root's .mcp.json: folder trust is decided per project root.
    root = find_project_root(workdir, env=env)
    try:
        found = load_servers(
            config, project_root=root, mnemo_home=mnemo_home, env=env, trusted=trusted
        )
    except ConfigError as exc:
        notices.append(f"MCP servers not started: {exc}")
        return None
    notices.extend(found.notices)
    if not found.specs:
        return None
    return McpToolset(
        found.specs,
        workdir=workdir,
        state_dir=state_dir,
        max_description_chars=config.max_description_chars,
    )
