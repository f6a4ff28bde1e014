"""Fixtures shared by every test: an isolated MNEMO_HOME, and running `mnemo`
as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own MNEMO_HOME; no test reads the developer's config."""
    home = tmp_path_factory.mktemp("mnemo-home")
    monkeypatch.setenv("MNEMO_HOME", str(home))
    for key in list(os.environ):
        if key.startswith("MNEMO_") and key != "MNEMO_HOME":
            monkeypatch.delenv(key)
    yield home


def run_mnemo(
    args: list[str],
    *,
    cwd: Path,
    home: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (same interpreter, installed package)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    full_env.update({"MNEMO_HOME": str(home), "NO_COLOR": "1", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "mnemocode", *args],
        cwd=cwd,
        env=full_env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_global_config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path
