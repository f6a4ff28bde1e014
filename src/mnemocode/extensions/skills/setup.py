"""The skills of one session, from its settings (``app/build.py`` calls this)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mnemocode.config.paths import find_project_root
from mnemocode.config.settings import SkillsConfig
from mnemocode.extensions.skills.activation import SkillSession
from mnemocode.extensions.skills.discovery import (
    SkillCatalog,
    project_skill_files,
    skill_roots,
)


def open_skills(
    config: SkillsConfig,
    *,
    workdir: Path,
    mnemo_home: Path,
    user_home: Path,
    env: Mapping[str, str],
    trusted: bool,
) -> SkillSession:
    """The catalog is not read here: only when first asked (the system prompt)."""
    root = find_project_root(workdir, env=env) or workdir
    session = SkillSession(
        SkillCatalog(
            skill_roots(
                mnemo_home=mnemo_home, user_home=user_home, project_root=root, trusted=trusted
            )
        ),
        prompt_tokens=config.prompt_tokens,
    )
    if not trusted:
        ignored = project_skill_files(root)
        if ignored:
            names = ", ".join(sorted({p.parent.name for p in ignored}))
            session.notices.append(
                f"project skills not loaded ({names}): this folder is not trusted; "
                f"run `mnemo trust {root}` or pass --trust for one run"
            )
    return session


def discovery_notices(session: SkillSession) -> list[str]:
    """Broken skill files, one line each (``file:line: problem``), after discovery."""
    session.catalog.skills()
    return [f"skill not loaded: {p}" for p in session.catalog.problems]
