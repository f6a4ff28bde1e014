from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

Writer = Callable[[Path, str], Path]


def _write(path: Path, text: str) -> Path:
    """Write dedented ``text``; one leading newline is dropped (a triple-quoted block)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).removeprefix("\n"), encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "mnemo-home"


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {"MNEMO_HOME": str(home)}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


@pytest.fixture
def write() -> Writer:
    """``write(path, text)``: dedented ``text`` to ``path`` (parents created)."""
    return _write
