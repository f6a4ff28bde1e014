"""The "recent" layer: structured summaries of past sessions, newest first.

Old summaries are consolidated: several level-0 summaries become one coarser
level-1 summary; the originals stay (searchable) but leave the injected set.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

from mnemocode.memory.db import transaction
from mnemocode.memory.types import Summary


def _summary(row: sqlite3.Row) -> Summary:
    return Summary(
        session_id=row["session_id"],
        started=row["started"],
        ended=row["ended"],
        title=row["title"],
        body=row["body"],
        level=row["level"],
        id=row["id"],
        covers=json.loads(row["covers"]),
    )


class SummaryStore:
    def __init__(self, conn: sqlite3.Connection, *, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock

    def add(self, summary: Summary) -> Summary:
        """Store a summary; a session's level-0 summary is replaced, not duplicated
        (a session resumed and ended again is summarised again)."""
        with transaction(self.conn):
            if summary.level == 0:
                self.conn.execute(
                    "DELETE FROM summaries WHERE session_id = ? AND level = 0 "
                    "AND consolidated_into IS NULL",
                    (summary.session_id,),
                )
            cur = self.conn.execute(
                "INSERT INTO summaries (session_id, level, started, ended, title, body, covers,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    summary.session_id,
                    summary.level,
                    summary.started,
                    summary.ended,
                    summary.title,
                    summary.body,
                    json.dumps(summary.covers),
                    self.clock(),
                ),
            )
        summary.id = cur.lastrowid
        return summary

    def current(self, limit: int | None = None) -> list[Summary]:
        """Summaries not consolidated into a coarser one, newest first."""
        rows = self.conn.execute(
            "SELECT * FROM summaries WHERE consolidated_into IS NULL "
            "ORDER BY ended DESC, id DESC LIMIT ?",
            (limit if limit is not None else -1,),
        ).fetchall()
        return [_summary(r) for r in rows]

    def for_session(self, session_id: str) -> Summary | None:
        row = self.conn.execute(
            "SELECT * FROM summaries WHERE session_id = ? AND level = 0 ORDER BY id DESC LIMIT 1",
            (session_id,),
        ).fetchone()
        return _summary(row) if row else None

    def consolidate(self, parts: list[Summary], into: Summary) -> Summary:
        """Replace ``parts`` by the coarser ``into`` in one transaction."""
        with transaction(self.conn):
            stored = self.add(into)
            self.conn.executemany(
                "UPDATE summaries SET consolidated_into = ? WHERE id = ?",
                [(stored.id, p.id) for p in parts],
            )
        return stored

    def search(
        self, match: str, limit: int, *, start: float | None = None, end: float | None = None
    ) -> list[tuple[Summary, float]]:
        """With ``start``/``end``: only summaries whose session ended in [start, end)."""
        rows = self.conn.execute(
            """
            SELECT s.*, bm25(summaries_fts, 2.0, 1.0) AS score
            FROM summaries_fts JOIN summaries s ON s.id = summaries_fts.rowid
            WHERE summaries_fts MATCH ?
              AND s.ended >= COALESCE(?, s.ended) AND s.ended < COALESCE(?, 1e300)
            ORDER BY score LIMIT ?
            """,
            (match, start, end, limit),
        ).fetchall()
        return [(_summary(r), r["score"]) for r in rows]
