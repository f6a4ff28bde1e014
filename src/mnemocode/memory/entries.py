"""Project memory: decisions, architecture, conventions, progress, tasks, facts.

One row per key. Writes are single SQL statements inside ``BEGIN IMMEDIATE`` so
two terminals never overwrite each other with stale reads; deletes are soft
(``deleted``) so a delete is an update too, and ``MEMORY.md`` sync can tell
"deleted" from "never existed".
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from mnemocode.memory.db import transaction
from mnemocode.memory.types import Entry

_COLUMNS = "id, key, kind, value, rationale, status, pinned, source, session_id, created, updated"


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        key=row["key"],
        kind=row["kind"],
        value=row["value"],
        rationale=row["rationale"],
        status=row["status"],
        pinned=bool(row["pinned"]),
        source=row["source"],
        id=row["id"],
        created=row["created"],
        updated=row["updated"],
        session_id=row["session_id"],
    )


class EntryStore:
    def __init__(self, conn: sqlite3.Connection, *, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock

    def upsert(self, entry: Entry, *, keep_pin: bool = True) -> Entry:
        """Add or replace the entry under ``entry.key`` (reviving a deleted one).
        With ``keep_pin`` an existing pin survives an update that does not set it; a
        deleted entry's pin does not survive its deletion."""
        now = self.clock()
        pinned = (
            "CASE WHEN entries.deleted IS NOT NULL THEN excluded.pinned "
            "ELSE MAX(entries.pinned, excluded.pinned) END"
            if keep_pin
            else "excluded.pinned"
        )
        with transaction(self.conn):
            self.conn.execute(
                f"""
                INSERT INTO entries (key, kind, value, rationale, status, pinned, source,
                                     session_id, created, updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET
                    kind = excluded.kind, value = excluded.value,
                    rationale = excluded.rationale, status = excluded.status,
                    pinned = {pinned}, source = excluded.source,
                    session_id = excluded.session_id, updated = excluded.updated,
                    deleted = NULL
                """,
                (
                    entry.key,
                    entry.kind,
                    entry.value,
                    entry.rationale,
                    entry.status,
                    int(entry.pinned),
                    entry.source,
                    entry.session_id,
                    now,
                    now,
                ),
            )
            stored = self.get(entry.key)
        assert stored is not None
        return stored

    def get(self, key: str) -> Entry | None:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE key = ? AND deleted IS NULL", (key,)
        ).fetchone()
        return _entry(row) if row else None

    def all(self) -> list[Entry]:
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE deleted IS NULL ORDER BY kind, key"
        ).fetchall()
        return [_entry(r) for r in rows]

    def delete(self, key: str) -> bool:
        now = self.clock()
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE entries SET deleted = ?, updated = ? WHERE key = ? AND deleted IS NULL",
                (now, now, key),
            )
        return cur.rowcount > 0

    def set_pinned(self, key: str, pinned: bool) -> bool:
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE entries SET pinned = ?, updated = ? WHERE key = ? AND deleted IS NULL",
                (int(pinned), self.clock(), key),
            )
        return cur.rowcount > 0

    def search(
        self, match: str, limit: int, *, start: float | None = None, end: float | None = None
    ) -> list[tuple[Entry, float]]:
        """FTS5 ``match`` expression → (entry, bm25 score; lower is better); with
        ``start``/``end``, only entries last updated in [start, end)."""
        rows = self.conn.execute(
            f"""
            SELECT {", ".join("e." + c for c in _COLUMNS.split(", "))},
                   bm25(entries_fts, 2.0, 1.0, 0.5) AS score
            FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid
            WHERE entries_fts MATCH ? AND e.deleted IS NULL
              AND e.updated >= COALESCE(?, e.updated) AND e.updated < COALESCE(?, 1e300)
            ORDER BY score LIMIT ?
            """,
            (match, start, end, limit),
        ).fetchall()
        return [(_entry(r), r["score"]) for r in rows]
