"""Per-file tags in SQLite: one row per file, its tags and its words in one blob; and
a small memo of finished answers (focus, ranking, rendered map) per tree state.

A row is keyed by the map's root and the file's path, and remembers the file's
mtime, size and content hash. A file whose mtime and size match is not read; one
whose mtime or size changed is read and hashed, and parsed only when its content
did change. Any number of processes may build at once: WAL, a busy timeout, and
each build writing its rows in one short transaction (upserts) at its end.

A row's blob holds the tags and the lexical document still encoded: they are
decoded only when a ranking needs them, so a build answered from the memo never
decodes any.
"""

from __future__ import annotations

import marshal
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mnemocode.agent.codemap.lexical import Document
from mnemocode.agent.codemap.tags import EMPTY, FileTags
from mnemocode.core.sqlite import enable_wal

# Bump when the blob's layout or the tag extraction changes: old rows are dropped.
FORMAT = f"tags-3 py{sys.version_info[0]}.{sys.version_info[1]}"
BUSY_TIMEOUT_MS = 30_000
MEMO_ROWS = 64  # memo rows kept per root, the oldest written dropped


@dataclass(frozen=True, slots=True)
class Entry:
    """What the cache knows of one file: why it is left out, or its encoded tags
    and lexical document (``tags_of``, ``document_of``)."""

    mtime_ns: int
    size: int
    digest: bytes
    reason: str | None  # binary, generated, minified; None: covered
    tags: bytes = b""  # encode_tags(); b"": none
    terms: bytes = b""  # encode_document(); b"": none


def encode_tags(tags: FileTags) -> bytes:
    return marshal.dumps((tags.definitions, tags.references)) if tags != EMPTY else b""


def tags_of(entry: Entry) -> FileTags:
    if not entry.tags:
        return EMPTY
    definitions, references = marshal.loads(entry.tags)
    return FileTags(definitions, references)


def encode_document(doc: Document) -> bytes:
    fields = tuple(dict(f) for f in doc.fields)
    return marshal.dumps((fields, doc.lengths, doc.defines))


def document_of(entry: Entry) -> Document | None:
    if not entry.terms:
        return None
    fields, lengths, defines = marshal.loads(entry.terms)
    return Document(fields=fields, lengths=lengths, defines=defines)


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
        conn.execute(
            "CREATE TABLE IF NOT EXISTS codemap_memo (root TEXT NOT NULL, key BLOB NOT NULL,"
            " used INTEGER NOT NULL, value BLOB NOT NULL, PRIMARY KEY (root, key))"
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
        return {path: Entry(m, s, d, *marshal.loads(blob)) for path, m, s, d, blob in rows}

    def save(self, changed: Iterable[tuple[str, Entry]], removed: Iterable[str]) -> None:
        """Write ``changed`` rows and drop ``removed`` ones, in one transaction."""
        rows = [
            (
                self.root,
                path,
                FORMAT,
                e.mtime_ns,
                e.size,
                e.digest,
                marshal.dumps((e.reason, e.tags, e.terms)),
            )
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

    def memo_get(self, key: bytes) -> bytes | None:
        """The memoised answer under ``key``; None when there is none, or the memo
        cannot be read (it only saves time)."""
        try:
            conn = self._connect()
            try:
                row = conn.execute(
                    "SELECT value FROM codemap_memo WHERE root = ? AND key = ?", (self.root, key)
                ).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return None
        return None if row is None else bytes(row[0])

    def memo_put(self, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key``, keeping the ``MEMO_ROWS`` newest rows; a memo
        that cannot be written is left as it is."""
        try:
            self._memo_put(key, value)
        except sqlite3.Error:
            return

    def _memo_put(self, key: bytes, value: bytes) -> None:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            (used,) = conn.execute(
                "SELECT COALESCE(MAX(used), 0) + 1 FROM codemap_memo WHERE root = ?", (self.root,)
            ).fetchone()
            conn.execute(
                "INSERT OR REPLACE INTO codemap_memo VALUES (?,?,?,?)",
                (self.root, key, used, value),
            )
            conn.execute(
                "DELETE FROM codemap_memo WHERE root = ? AND used <= ?",
                (self.root, used - MEMO_ROWS),
            )
            conn.execute("COMMIT")
        finally:
            conn.close()
