"""The agents of one session, from where it runs (``app/build.py`` calls this)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mnemocode.config.paths import find_project_root
from mnemocode.extensions.agents.discovery import (
    AgentCatalog,
    agent_roots,
    project_agent_files,
)


def open_agents(
    *,
    workdir: Path,
    mnemo_home: Path,
    user_home: Path,
    env: Mapping[str, str],
    trusted: bool,
    notices: list[str],
) -> AgentCatalog:
    """The catalog is not read here: only when first asked."""
    root = find_project_root(workdir, env=env) or workdir
    catalog = AgentCatalog(
        agent_roots(mnemo_home=mnemo_home, user_home=user_home, project_root=root, trusted=trusted)
    )
    if not trusted:
        ignored = project_agent_files(root)
        if ignored:
            names = ", ".join(sorted(p.stem for p in ignored))
            notices.append(
                f"project agents not loaded ({names}): this folder is not trusted; "
                f"run `mnemo trust {root}` or pass --trust for one run"
            )
    return catalog
