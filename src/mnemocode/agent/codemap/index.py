"""Bring the tags of every selected file up to date: stat each file, reuse what the
cache holds for an unchanged one, read and hash a changed one, parse it only when
its content changed.

Reading, hashing, parsing and tokenising (for the lexical prior) run in a pool of
processes when many files changed (a cold build); a few changed files are read in
this process. Results are put back in path order, so the index is the same
whichever worker finished first.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from multiprocessing.context import BaseContext
from pathlib import Path

from mnemocode.agent.codemap.cache import Entry, TagCache, encode_document, encode_tags
from mnemocode.agent.codemap.files import (
    MAX_FILES,
    content_reason,
    list_files,
    path_reason,
)
from mnemocode.agent.codemap.languages import language_of
from mnemocode.agent.codemap.lexical import Document, document
from mnemocode.agent.codemap.tags import parse_tags
from mnemocode.agent.codemap.types import Selection

PARALLEL_MIN = 48  # files to read before a pool of processes pays for itself
MAX_WORKERS = 8
# LexicalIndex.build's size limit: a larger file is indexed by its path alone.
LEXICAL_MAX_BYTES = 1_000_000
# (path, mtime_ns, size, the digest the cache holds or b"")
Job = tuple[str, int, int, bytes]


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
    entries: dict[str, Entry]  # every file read (covered or left out for its content)
    stats: BuildStats
    # Changes whenever a covered file's content, or the set of files, changes.
    fingerprint: bytes


def digest_of(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def read_file(root: str, job: Job) -> Entry | None:
    """The entry of a file whose mtime or size changed; None when its content did not
    (same digest as the cache's)."""
    rel, mtime_ns, size, old_digest = job
    try:
        with open(os.path.join(root, rel), "rb") as f:
            data = f.read()
    except OSError:
        return Entry(mtime_ns, size, b"", "unreadable")
    digest = digest_of(data)
    if digest == old_digest:
        return None
    reason = content_reason(data)
    if reason is not None:
        return Entry(mtime_ns, size, digest, reason)
    language = language_of(rel)
    tags = encode_tags(parse_tags(data, language)) if language is not None else b""
    return Entry(mtime_ns, size, digest, None, tags, encode_document(_document(rel, data)))


def _document(rel: str, data: bytes) -> Document:
    if len(data) > LEXICAL_MAX_BYTES:
        return document(rel, "")
    text = data.decode("utf-8", "replace")
    if "\r" in text:  # as a file opened in text mode reads it
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return document(rel, text)


def build_index(
    root: Path,
    *,
    cache: TagCache | None,
    known: Mapping[str, Entry],
    max_file_bytes: int,
    max_files: int = MAX_FILES,
    workers: int | None = None,
) -> Index:
    """The index of ``root``; ``known`` is the previous build's entries (in this
    process), else the cache is read. ``workers``: processes parsing at once (None:
    one per CPU when enough files changed; 1: in this process)."""
    listing = list_files(root, max_files=max_files)
    skipped: Counter[str] = Counter(listing.skipped)
    candidates = _candidates(root, listing.files, max_file_bytes, skipped)
    stored = known if known else (cache.load() if cache is not None else {})
    stats = BuildStats()
    entries: dict[str, Entry] = {}
    jobs: list[Job] = []
    for rel, mtime_ns, size in candidates:
        old = stored.get(rel)
        if old is not None and old.mtime_ns == mtime_ns and old.size == size:
            entries[rel] = old
            stats.reused += 1
        else:
            jobs.append((rel, mtime_ns, size, old.digest if old is not None else b""))
    changed: list[tuple[str, Entry]] = []
    for job, read in zip(jobs, _read_all(str(root), jobs, workers), strict=True):
        rel, mtime_ns, size, _ = job
        if read is None:
            entry = replace(stored[rel], mtime_ns=mtime_ns, size=size)
            stats.rehashed += 1
        elif read.reason is None and language_of(rel) is not None:
            entry = read
            stats.parsed += 1
            stats.parsed_paths.append(rel)
        else:
            entry = read
            stats.rehashed += 1
        entries[rel] = entry
        changed.append((rel, entry))
    if cache is not None:
        cache.save(changed, sorted(set(stored) - set(entries)))
    selection, fingerprint = _selection(entries, skipped)
    return Index(selection, entries, stats, fingerprint)


def _candidates(
    root: Path, files: Sequence[str], max_file_bytes: int, skipped: Counter[str]
) -> list[tuple[str, int, int]]:
    """(path, mtime_ns, size) of the listed regular files not left out by name or size."""
    out: list[tuple[str, int, int]] = []
    for rel in files:
        reason = path_reason(rel)
        if reason is None:
            try:
                st = os.stat(os.path.join(root, rel))
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):  # a submodule, a fifo
                continue
            reason = "large" if st.st_size > max_file_bytes else None
        if reason is not None:
            skipped[reason] += 1
        else:
            out.append((rel, st.st_mtime_ns, st.st_size))
    return out


def _selection(entries: Mapping[str, Entry], skipped: Counter[str]) -> tuple[Selection, bytes]:
    covered: list[str] = []
    unparsed: list[str] = []
    fingerprint = hashlib.blake2b(digest_size=16)
    for rel in sorted(entries):
        entry = entries[rel]
        if entry.reason is not None:
            skipped[entry.reason] += 1
            continue
        covered.append(rel)
        fingerprint.update(rel.encode("utf-8", "surrogateescape") + b"\0" + entry.digest)
        if language_of(rel) is None:
            unparsed.append(rel)
    selection = Selection(
        files=tuple(covered), skipped=dict(sorted(skipped.items())), unparsed=tuple(unparsed)
    )
    return selection, fingerprint.digest()


def _read_all(root: str, jobs: Sequence[Job], workers: int | None) -> list[Entry | None]:
    if workers is None:
        few = len(jobs) < PARALLEL_MIN
        workers = 1 if few else min(MAX_WORKERS, _cpus(), len(jobs) // (PARALLEL_MIN // 2))
    workers = min(workers, len(jobs))
    if workers < 2:
        return [read_file(root, job) for job in jobs]
    # Largest files first, so the last chunks handed out are small ones.
    order = sorted(range(len(jobs)), key=lambda i: (-jobs[i][2], jobs[i][0]))
    chunk = max(1, min(16, len(jobs) // (workers * 32)))  # small: the largest come first
    out: list[Entry | None] = [None] * len(jobs)
    try:
        with ProcessPoolExecutor(workers, mp_context=_context()) as pool:
            done = pool.map(partial(read_file, root), [jobs[i] for i in order], chunksize=chunk)
            for i, entry in zip(order, done, strict=True):
                out[i] = entry
    except (BrokenExecutor, OSError):  # no processes to be had here: read them all here
        return [read_file(root, job) for job in jobs]
    return out


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _context() -> BaseContext:
    """``fork`` (the cheapest start) in a single-threaded process; with other threads
    running (a session's map thread), a fork could inherit a held lock: forkserver."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")
