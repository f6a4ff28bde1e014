"""Which ignored files the snapshot holds too, so that undo restores what a shell
command did to them (``make`` rewriting ``build/``, ``echo >> .env``).

An ignored file is snapshotted when it is at most ``MAX_FILE_BYTES`` (1 MB), is not
inside a directory named in ``HEAVY_DIRS`` (dependency trees, virtualenvs, caches:
large, and rebuilt by a command rather than restored) or in a nested repository,
and the snapshot holds fewer than ``MAX_FILES`` (2,000) of them when it first sees
it. The others are left alone, as before: undo neither restores nor removes them
(a file tool's write to one is still backed up on its own).

Finding them costs one ``git ls-files --others --ignored --directory`` against an
empty index (a wholly ignored folder comes back as one entry, walked here with the
heavy folders pruned) and a stat per file; hashing is git's, with its stat cache.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 1 << 20
MAX_FILES = 2_000
HEAVY_DIRS = frozenset(
    {
        b".git",
        b"node_modules",
        b"bower_components",
        b".venv",
        b"venv",
        b"site-packages",
        b"__pycache__",
        b".tox",
        b".nox",
        b".eggs",
        b".mypy_cache",
        b".pytest_cache",
        b".ruff_cache",
        b".cache",
        b"target",  # cargo, maven
        b".gradle",
        b".next",
        b".nuxt",
        b".turbo",
        b".parcel-cache",
        b".terraform",
    }
)


def heavy(rel: bytes) -> bool:
    """Whether a path (relative to the shadow work tree) lies in a heavy folder."""
    return any(part in HEAVY_DIRS for part in rel.split(b"/")[:-1])


def small_enough(path: bytes) -> bool:
    """A regular file or a link, at most ``MAX_FILE_BYTES``; True when absent (a
    file about to be created is left to the snapshot after it)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.S_ISLNK(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE_BYTES)


def select(
    root: Path,
    listed: bytes,
    kept: set[bytes],
    skipped: set[bytes],
    private: bytes | None = None,
) -> tuple[list[bytes], set[bytes]]:
    """The ignored files to snapshot and those left out, from ``ls-files -z
    --directory`` output (paths relative to ``root``; folders end with a slash) and
    the previous snapshot's two sets. A path keeps its side while it exists: one
    left out stays out even when it would fit now, and one that grew past the cap
    leaves. Otherwise undo would take a file that joined the snapshot for the first
    time (a log cut short, a file moving under the count cap) for one the turn
    created, and delete it. ``private``: a folder never looked into (the store's)."""
    base = os.fsencode(root)
    chosen: list[bytes] = []
    left_out: set[bytes] = set()
    for rel, fits in _candidates(base, listed, private):
        if rel in skipped or not fits or (rel not in kept and len(chosen) >= MAX_FILES):
            left_out.add(rel)
        else:
            chosen.append(rel)
    return chosen, left_out


def _candidates(base: bytes, listed: bytes, private: bytes | None) -> list[tuple[bytes, bool]]:
    found: list[tuple[bytes, bool]] = []
    skip = base + b"/" + private if private is not None else None
    for rel in sorted(p for p in listed.split(b"\0") if p):
        if private is not None and (rel.rstrip(b"/") == private or rel.startswith(private + b"/")):
            continue
        if rel.endswith(b"/"):
            _walk(base, rel.rstrip(b"/"), found, skip)
        elif not heavy(rel):
            found.append((rel, _fits(base + b"/" + rel)))
    return found


def _walk(base: bytes, top: bytes, found: list[tuple[bytes, bool]], skip: bytes | None) -> None:
    if heavy(top + b"/x") or os.path.lexists(base + b"/" + top + b"/.git"):
        return
    for folder, dirs, names in os.walk(base + b"/" + top):
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in HEAVY_DIRS
            and folder + b"/" + d != skip
            and not os.path.lexists(folder + b"/" + d + b"/.git")
        )
        rel = folder[len(base) + 1 :]
        found.extend((rel + b"/" + name, _fits(folder + b"/" + name)) for name in sorted(names))


def _fits(path: bytes) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(st.st_mode):
        return True
    return stat.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE_BYTES and os.access(path, os.R_OK)
