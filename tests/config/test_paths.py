from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mnemocode.config import (
    find_project_root,
    global_config_path,
    mnemo_home,
    project_config_paths,
)

Writer = Callable[[Path, str], Path]


def test_mnemo_home_from_env(tmp_path: Path) -> None:
    assert mnemo_home({"MNEMO_HOME": str(tmp_path / "h")}) == tmp_path / "h"
    assert global_config_path({"MNEMO_HOME": str(tmp_path / "h")}) == tmp_path / "h/config.toml"


def test_mnemo_home_defaults_to_dot_mnemo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert mnemo_home({}) == tmp_path / ".mnemo"
    assert mnemo_home({"MNEMO_HOME": ""}) == tmp_path / ".mnemo"


def test_mnemo_home_has_no_side_effects(tmp_path: Path) -> None:
    mnemo_home({"MNEMO_HOME": str(tmp_path / "h")})
    global_config_path({"MNEMO_HOME": str(tmp_path / "h")})
    assert not (tmp_path / "h").exists()


def test_project_root_is_nearest_marked_ancestor(
    project: Path, env: dict[str, str], write: Writer
) -> None:
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_project_root(deep, env=env) == project
    write(project / "src" / "mnemo.toml", "")
    assert find_project_root(deep, env=env) == project / "src"


def test_project_root_from_dot_mnemo_config(
    tmp_path: Path, env: dict[str, str], write: Writer
) -> None:
    write(tmp_path / "p" / ".mnemo" / "config.toml", "")
    (tmp_path / "p" / "a").mkdir()
    assert find_project_root(tmp_path / "p" / "a", env=env) == tmp_path / "p"


def test_no_project(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "loose").mkdir()
    assert find_project_root(tmp_path / "loose", env=env) is None
    assert project_config_paths(tmp_path / "loose", env=env) == []


def test_mnemo_home_does_not_mark_a_project(tmp_path: Path, write: Writer) -> None:
    user = tmp_path / "user"
    write(user / ".mnemo" / "config.toml", "")
    work = user / "work"
    work.mkdir()
    env = {"MNEMO_HOME": str(user / ".mnemo")}
    assert find_project_root(work, env=env) is None
    assert project_config_paths(work, env=env) == []


def test_project_config_paths_order(project: Path, env: dict[str, str], write: Writer) -> None:
    assert project_config_paths(project, env=env) == []
    write(project / ".mnemo" / "config.toml", "")
    assert project_config_paths(project, env=env) == [project / ".mnemo" / "config.toml"]
    write(project / "mnemo.toml", "")
    sub = project / "sub"
    sub.mkdir()
    assert project_config_paths(sub, env=env) == [
        project / "mnemo.toml",
        project / ".mnemo" / "config.toml",
    ]
