"""Handing memory work to a detached ``mnemo memory process``: it outlives the
process that asks (a REPL exiting, a headless run), logs to
``<mnemo home>/logs/memory-process.log``, and the job leases keep it from doing
twice what another process is doing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def memory_log(home: Path) -> Path:
    return home / "logs" / "memory-process.log"


def start_memory_process(cwd: Path, project: str | None, home: Path) -> Path:
    """Start it for the project of ``cwd`` (or ``project``); returns its log."""
    log_path = memory_log(home)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "mnemocode", "memory", "process", "--cwd", str(cwd)]
    if project is not None:
        command += ["--project", project]
    with log_path.open("ab") as log:
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    return log_path
