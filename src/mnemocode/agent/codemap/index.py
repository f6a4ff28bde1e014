"""Bring the tags of every selected file up to date: stat each file, reuse what the
cache holds for an unchanged one, read and hash a changed one, parse it only when
its content changed."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from mnemocode.agent.codemap.cache import Entry, TagCache
from mnemocode.agent.codemap.files import content_reason, list_files, path_reason
from mnemocode.agent.codemap.languages import language_of
from mnemocode.agent.codemap.tags import EMPTY, FileTags, parse_tags
from mnemocode.agent.codemap.types import Selection


@dataclass(slots=True)
class BuildStats:
    """What the last build did: files parsed, read but unchanged (same hash), reused."""

    parsed: int = 0
    rehashed: int = 0
    reused: int = 0
    parsed_paths: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Index:
    selection: Selection
    tags: dict[str, FileTags]  # every covered file, sorted by path
    entries: dict[str, Entry]  # every file read (covered or left out for its content)
    stats: BuildStats


def digest_of(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def read_entry(full: str, st: os.stat_result, old: Entry | None) -> tuple[Entry, bool]:
    """The entry of a file whose mtime or size changed, and whether it was parsed."""
    try:
        with open(full, "rb") as f:
            data = f.read()
    except OSError:
        return Entry(st.st_mtime_ns, st.st_size, b"", "unreadable", EMPTY), False
    digest = digest_of(data)
    if old is not None and old.digest == digest:
        return replace(old, mtime_ns=st.st_mtime_ns, size=st.st_size), False
    reason = content_reason(data)
    language = language_of(full)
    if reason is not None or language is None:
        return Entry(st.st_mtime_ns, st.st_size, digest, reason, EMPTY), False
    return Entry(st.st_mtime_ns, st.st_size, digest, None, parse_tags(data, language)), True


def build_index(  # noqa: PLR0912
    root: Path, *, cache: TagCache | None, known: Mapping[str, Entry], max_file_bytes: int
) -> Index:
    """The index of ``root``; ``known`` is the previous build's entries (in this
    process), else the cache is read."""
    skipped: Counter[str] = Counter()
    candidates: list[tuple[str, os.stat_result]] = []
    for rel in list_files(root):
        reason = path_reason(rel)
        if reason is None:
            try:
                st = os.stat(os.path.join(root, rel))
            except OSError:
                continue
            reason = "large" if st.st_size > max_file_bytes else None
        if reason is not None:
            skipped[reason] += 1
        else:
            candidates.append((rel, st))
    stored = known if known else (cache.load() if cache is not None else {})
    stats = BuildStats()
    entries: dict[str, Entry] = {}
    changed: list[tuple[str, Entry]] = []
    for rel, st in candidates:
        old = stored.get(rel)
        if old is not None and old.mtime_ns == st.st_mtime_ns and old.size == st.st_size:
            entries[rel] = old
            stats.reused += 1
            continue
        entry, parsed = read_entry(os.path.join(root, rel), st, old)
        entries[rel] = entry
        changed.append((rel, entry))
        if parsed:
            stats.parsed += 1
            stats.parsed_paths.append(rel)
        else:
            stats.rehashed += 1
    if cache is not None:
        removed = sorted(set(stored) - set(entries))
        cache.save(changed, removed)
    tags: dict[str, FileTags] = {}
    unparsed: list[str] = []
    for rel in sorted(entries):
        entry = entries[rel]
        if entry.reason is not None:
            skipped[entry.reason] += 1
            continue
        tags[rel] = entry.tags
        if language_of(rel) is None:
            unparsed.append(rel)
    selection = Selection(
        files=tuple(tags), skipped=dict(sorted(skipped.items())), unparsed=tuple(unparsed)
    )
    return Index(selection, tags, entries, stats)
