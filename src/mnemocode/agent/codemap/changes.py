"""The files the user is changing right now — modified, staged or new in the work
tree (``git diff HEAD`` and untracked files) — which the ranking leans toward."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 5.0
MAX_CHANGED = 200  # a tree in the middle of a mass rename says little about the task


def changed_files(root: Path) -> tuple[str, ...]:
    """Changed files under ``root``, relative to it, sorted; () outside a git
    repository or when git is missing or slow."""
    changed: set[str] = set()
    for argv in (
        ["git", "diff", "--name-only", "--relative", "-z", "HEAD"],
        ["git", "ls-files", "--others", "--exclude-standard", "-z"],
    ):
        try:
            proc = subprocess.run(
                argv, cwd=root, capture_output=True, timeout=GIT_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return ()
        if proc.returncode == 0:
            changed.update(p for p in proc.stdout.decode("utf-8", "replace").split("\0") if p)
    if len(changed) > MAX_CHANGED:
        return ()
    return tuple(sorted(changed))
