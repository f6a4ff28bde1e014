"""Per-file tags in SQLite: one row per file, its tags in one blob.

A row is keyed by the map's root and the file's path, and remembers the file's
mtime, size and content hash. A file whose mtime and size match is not read; one
whose mtime or size changed is read and hashed, and parsed only when its content
did change. Any number of processes may build at once: WAL, a busy timeout, and
each build writing its rows in one short transaction at its end.
"""

from __future__ import annotations

import marshal
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mnemocode.agent.codemap.tags import FileTags
from mnemocode.core.sqlite import enable_wal

# Bump when the blob's layout or the tag extraction changes: old rows are dropped.
FORMAT = f"tags-1 py{sys.version_info[0]}.{sys.version_info[1]}"
BUSY_TIMEOUT_MS = 30_000


@dataclass(frozen=True, slots=True)
class Entry:
    """What the cache knows of one file: why it is left out, or its tags."""

    mtime_ns: int
    size: int
    digest: bytes
    reason: str | None  # binary, generated, minified; None: covered
    tags: FileTags


def encode(entry: Entry) -> bytes:
    return marshal.dumps((entry.reason, entry.tags.definitions, entry.tags.references))


def decode(mtime_ns: int, size: int, digest: bytes, blob: bytes) -> Entry:
    reason, definitions, references = marshal.loads(blob)
    return Entry(mtime_ns, size, digest, reason, FileTags(definitions, references))


class TagCache:
    """The rows of one root in the SQLite file at ``path``."""

    def __init__(self, path: Path, root: str) -> None:
        self.path = path
        self.root = root

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        enable_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS codemap_files (root TEXT NOT NULL, path TEXT NOT NULL,"
            " format TEXT NOT NULL, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL,"
            " digest BLOB NOT NULL, data BLOB NOT NULL, PRIMARY KEY (root, path))"
        )
        return conn

    def load(self) -> dict[str, Entry]:
        """Every row of this root, in one read."""
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT path, mtime_ns, size, digest, data FROM codemap_files"
                " WHERE root = ? AND format = ?",
                (self.root, FORMAT),
            ).fetchall()
        finally:
            conn.close()
        return {path: decode(m, s, d, blob) for path, m, s, d, blob in rows}

    def save(self, changed: Iterable[tuple[str, Entry]], removed: Iterable[str]) -> None:
        """Write ``changed`` rows and drop ``removed`` ones, in one transaction."""
        rows = [
            (self.root, path, FORMAT, e.mtime_ns, e.size, e.digest, encode(e))
            for path, e in changed
        ]
        gone = [(self.root, path) for path in removed]
        if not rows and not gone:
            return
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR REPLACE INTO codemap_files VALUES (?,?,?,?,?,?,?)", rows)
            conn.executemany("DELETE FROM codemap_files WHERE root = ? AND path = ?", gone)
            conn.execute("COMMIT")
        finally:
            conn.close()
