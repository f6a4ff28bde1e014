"""Keeping mnemo's files in ``.mnemo/`` out of the user's ``git status``.

``.mnemo/MEMORY.md`` is mnemo's mirror of project memory: by default a
``.mnemo/.gitignore`` of mnemo's own ignores it (and itself), so it never shows
up as an untracked file. ``[memory] commit_mirror = true`` is for teams that
share project memory through the repository: then mnemo's ``.gitignore`` is
removed. A ``.gitignore`` the user wrote (without mnemo's first line) is never
touched.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from mnemocode.config.writer import atomic_write_text

MARK = "# Written by mnemo"
CONTENT = (
    f"{MARK}: its memory mirror stays out of git.\n"
    "# To commit MEMORY.md, set [memory] commit_mirror = true (mnemo then removes this file).\n"
    "MEMORY.md\n"
    ".gitignore\n"
)


def _ours(path: Path) -> bool | None:
    """True when ``path`` is mnemo's own ignore file, False when it is the user's,
    None when there is none."""
    try:
        return path.read_text(encoding="utf-8").startswith(MARK)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return False


def keep_mirror_out_of_git(folder: Path, *, commit: bool) -> None:
    """Write (or, with ``commit``, remove) mnemo's ``<folder>/.gitignore``."""
    path = folder / ".gitignore"
    ours = _ours(path)
    if ours is False:
        return
    if commit:
        if ours:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return
    if ours is None or path.read_text(encoding="utf-8") != CONTENT:
        with contextlib.suppress(OSError):  # a read-only folder: git status shows it, no more
            atomic_write_text(path, CONTENT)
