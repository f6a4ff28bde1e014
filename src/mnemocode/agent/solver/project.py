"""What the solver knows of the project before any model call: its files, how
much code they hold, and (when there is one) the ranked code map."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from mnemocode.agent.codemap.types import Focus, Selection

SKIPPED_DIRS = frozenset(
    {".git", "node_modules", ".venv", "venv", "__pycache__", "dist", "build", "target"}
)
BYTES_PER_TOKEN = 4
T = TypeVar("T")
MAX_FILE_BYTES = 1_000_000


class MapSource(Protocol):
    """The part of ``agent.codemap.CodeMap`` the solver uses."""

    def selection(self) -> Selection: ...

    def render(self, focus: Focus, *, tokens: int) -> str: ...


@runtime_checkable
class MapRunner(Protocol):
    """A map owned by another thread (``codemap.session.SessionMap``): jobs run there."""

    async def run(self, job: Callable[[Any], T]) -> T: ...


AnyMap = MapSource | MapRunner


async def with_map(codemap: AnyMap, job: Callable[[MapSource], T]) -> T:
    """Run ``job`` on the map, on the thread that owns it when it has one."""
    if isinstance(codemap, MapRunner):
        return await codemap.run(job)
    return job(codemap)


async def map_files(codemap: AnyMap | None, root: Path) -> list[str]:
    if codemap is None:
        return list_files(root)
    return await with_map(codemap, lambda cm: list(cm.selection().files))


async def render_map(codemap: AnyMap, focus: Focus, tokens: int) -> str:
    return await with_map(codemap, lambda cm: cm.render(focus, tokens=tokens))


@dataclass(frozen=True, slots=True)
class Project:
    root: Path
    files: tuple[str, ...]  # relative, posix, sorted
    tokens: int  # rough size of all of them, in tokens

    @classmethod
    def scan(cls, root: Path, files: Sequence[str]) -> Project:
        size = 0
        kept: list[str] = []
        for rel in files:
            try:
                length = (root / rel).stat().st_size
            except OSError:
                continue
            if length > MAX_FILE_BYTES:
                continue
            kept.append(rel)
            size += length
        return cls(root, tuple(sorted(kept)), size // BYTES_PER_TOKEN)


def list_files(root: Path) -> list[str]:
    """``git ls-files`` (tracked and untracked, not ignored), else a walk."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is not None and done.returncode == 0:
        tracked = {os.fsdecode(n) for n in done.stdout.split(b"\0") if n}
        return sorted(n for n in tracked if (root / n).is_file())
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        base = Path(folder).relative_to(root)
        found.extend((base / n).as_posix() for n in names)
    return sorted(found)


def mentioned_files(task: str, files: Sequence[str]) -> list[str]:
    """Files the task names by path or by file name, in the project's order."""
    return [f for f in files if f in task or (len(Path(f).name) > 3 and Path(f).name in task)]
