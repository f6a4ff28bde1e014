"""Project instructions: AGENTS.md (or CLAUDE.md where a folder has no AGENTS.md)
from ``~/.mnemo/``, then each folder from the repository root down to the
current directory. Later files are more specific and win on conflicts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

INSTRUCTION_FILES = ("AGENTS.md", "CLAUDE.md")
MAX_INSTRUCTION_CHARS = 40_000


@dataclass(frozen=True, slots=True)
class InstructionFile:
    path: Path
    text: str


def _repo_root(cwd: Path) -> Path:
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder
    return cwd


def _read_first(folder: Path) -> InstructionFile | None:
    for name in INSTRUCTION_FILES:
        path = folder / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            return InstructionFile(path, text[:MAX_INSTRUCTION_CHARS].strip())
    return None


def find_instructions(cwd: Path, home: Path) -> list[InstructionFile]:
    cwd = cwd.resolve()
    root = _repo_root(cwd)
    folders = [home]
    chain = [cwd, *cwd.parents]
    folders += list(reversed(chain[: chain.index(root) + 1]))
    found: list[InstructionFile] = []
    seen: set[Path] = set()
    for folder in folders:
        item = _read_first(folder)
        if item and item.path.resolve() not in seen and item.text:
            seen.add(item.path.resolve())
            found.append(item)
    return found
