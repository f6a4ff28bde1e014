"""Auto mode runs the usual test, lint and build commands (in the sandbox) without
a question: checked through `mnemo safety check --mode auto`, as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_mnemo

EVERYDAY = [
    "pytest -q",
    "python -m pytest",
    "python3 -m pytest -q",
    "uv run pytest -q",
    "ruff check .",
    "ruff format .",
    "uv run ruff check src",
    "uv run ruff format --check .",
    "mypy src",
    "python3 -m mypy src",
    "uv run mypy src",
    "npm test",
    "npm run build",
    "cargo test",
    "cargo build",
    "go test ./...",
    "go build ./...",
    "make test",
    "make",
]


@pytest.mark.parametrize("command", EVERYDAY)
def test_auto_mode_runs_it_in_the_sandbox(
    command: str, tmp_path: Path, isolated_home: Path
) -> None:
    proc = run_mnemo(
        ["safety", "check", "--mode", "auto", "--json", "--", command],
        cwd=tmp_path,
        home=isolated_home,
    )
    verdict = json.loads(proc.stdout)
    assert verdict["decision"] == "allow", verdict
