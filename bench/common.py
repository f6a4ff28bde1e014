"""Shared helpers for the benchmarks: timing statistics, the machine line, the data folder."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENVS = ROOT / "bench" / ".envs"
# The larger data sets written by others (LoCoMo, aider's whole edit-block corpus)
# stay out of the repository; ``--data <folder>`` points at them.
DEFAULT_DATA = ROOT.parent / "shared" / "eval-data"
_data_folder = DEFAULT_DATA


class MissingDataError(SystemExit):
    """A benchmark's data set is not in the data folder: alone, the benchmark exits
    with the message; ``bench/run.py`` leaves it out and runs the others."""


def use_data(folder: Path) -> None:
    global _data_folder
    _data_folder = folder.expanduser().resolve()


def take_data_option(argv: list[str]) -> list[str]:
    """``argv`` without ``--data <folder>`` (or ``--data=<folder>``), using that folder."""
    rest: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--data":
            folder = next(args, None)
            if folder is None:
                raise SystemExit("--data needs a folder")
            use_data(Path(folder))
        elif arg.startswith("--data="):
            use_data(Path(arg.removeprefix("--data=")))
        else:
            rest.append(arg)
    return rest


def data_file(name: str) -> Path:
    """``name`` in the data folder, or MissingDataError saying how to point at it."""
    path = _data_folder / name
    if not path.exists():
        raise MissingDataError(
            f"{name} is not in {_data_folder}: pass --data <folder> that holds it"
        )
    return path


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def git_rev() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
