"""Which project a directory belongs to, and where mnemo keeps its files for it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mnemocode.config.paths import find_project_root
from mnemocode.memory.db import transaction
from mnemocode.memory.projects import Project, ProjectRegistry, default_slug
from mnemocode.memory.service import open_registry

if TYPE_CHECKING:
    pass


def project_state_dir(home: Path, cwd: Path) -> Path:
    """Where mnemo keeps its own files for the project of ``cwd`` (registered or
    not) — never inside the repository."""
    registry = open_registry(home)
    try:
        project = registry.for_directory(cwd)
    finally:
        registry.conn.close()
    if project is not None:
        return project.data_dir(home)
    return home / "projects" / default_slug(cwd)


def resolve_project(
    registry: ProjectRegistry, cwd: Path, name: str | None, env: Mapping[str, str]
) -> Project:
    """``--project NAME`` (created for ``cwd`` when new), else the project whose
    work directory contains ``cwd`` (the deepest), else a new one for the
    repository root (or ``cwd``)."""
    if name:
        with transaction(registry.conn):  # two terminals creating it together
            found = registry.get(name)
            if found is None:
                return registry.create(cwd, name)
        registry.touch(found.name)
        return found
    return registry.resolve(cwd, root=find_project_root(cwd, env=env) or cwd)
