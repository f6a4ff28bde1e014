"""Where configuration lives. Pure functions: nothing here creates a folder.

- ``mnemo_home()``: ``$MNEMO_HOME`` if set and not empty, else ``~/.mnemo``.
- The global config is ``<mnemo_home>/config.toml``.
- The project root is the nearest directory, starting at ``start`` and walking up,
  that holds ``mnemo.toml``, ``.mnemo/config.toml`` or ``.git``. The ``.mnemo`` folder
  that *is* the mnemo home (``~/.mnemo`` by default) never marks a project, so the
  home directory does not turn into a project because of the global config.
- Project config files are read only from the project root, in this order (later
  wins): ``mnemo.toml``, then ``.mnemo/config.toml``. So ``.mnemo/config.toml``
  overrides ``mnemo.toml`` key by key when both exist (a shared, committed
  ``mnemo.toml`` with local tweaks in ``.mnemo/``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HOME_ENV = "MNEMO_HOME"
GLOBAL_CONFIG_NAME = "config.toml"
PROJECT_CONFIG_NAME = "mnemo.toml"
PROJECT_DIR_NAME = ".mnemo"


def mnemo_home(env: Mapping[str, str] | None = None) -> Path:
    """``$MNEMO_HOME`` (``~`` expanded, made absolute) or ``~/.mnemo``."""
    env = os.environ if env is None else env
    value = env.get(HOME_ENV, "")
    if value:
        return Path(value).expanduser().absolute()
    return Path.home() / PROJECT_DIR_NAME


def global_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``<mnemo_home>/config.toml``; it may not exist."""
    return mnemo_home(env) / GLOBAL_CONFIG_NAME


def _is_home_dir(candidate: Path, home: Path) -> bool:
    try:
        return candidate.resolve() == home.resolve()
    except OSError:
        return False


def _marks_project(directory: Path, home: Path) -> bool:
    if (directory / PROJECT_CONFIG_NAME).is_file() or (directory / ".git").exists():
        return True
    dot_mnemo = directory / PROJECT_DIR_NAME
    return (dot_mnemo / GLOBAL_CONFIG_NAME).is_file() and not _is_home_dir(dot_mnemo, home)


def find_project_root(start: Path, *, env: Mapping[str, str] | None = None) -> Path | None:
    """The nearest ancestor of ``start`` (``start`` included) that marks a project."""
    home = mnemo_home(env)
    here = start.expanduser().absolute()
    for directory in (here, *here.parents):
        if _marks_project(directory, home):
            return directory
    return None


def project_config_paths(start: Path, *, env: Mapping[str, str] | None = None) -> list[Path]:
    """The project config files that exist, in load order (later overrides earlier)."""
    root = find_project_root(start, env=env)
    if root is None:
        return []
    candidates = [root / PROJECT_CONFIG_NAME, root / PROJECT_DIR_NAME / GLOBAL_CONFIG_NAME]
    home = mnemo_home(env)
    return [path for path in candidates if path.is_file() and not _is_home_dir(path.parent, home)]
