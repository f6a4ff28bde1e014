"""The event log as the SQLite consumers read it, and the delivery they hand out."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Protocol

from mnemocode.runtime.backends.shared import load_json
from mnemocode.runtime.backends.sqlite_db import DB
from mnemocode.runtime.protocols import Event
from mnemocode.runtime.subjects import literal_prefix, matches

Row = tuple[int, str, str, float]  # seq, subject, data, time


class _Consumer(Protocol):
    async def acked(self, delivery: SqliteDelivery) -> None: ...

    async def nacked(self, delivery: SqliteDelivery, delay: float) -> None: ...


@dataclass(slots=True)
class SqliteDelivery:
    event: Event
    attempt: int
    _owner: _Consumer

    async def ack(self) -> None:
        await self._owner.acked(self)

    async def nack(self, delay: float = 0.0) -> None:
        await self._owner.nacked(self, delay)


def event_from(row: Row) -> Event:
    return Event(row[1], load_json(row[2]), row[0], row[3])


@dataclass(frozen=True, slots=True)
class Log:
    db: DB
    ns: str

    def last_seq(self) -> int:
        """Read on the loop thread: cheap, and what ``subscribe`` needs synchronously."""
        return int(
            self.db.peek("SELECT coalesce(max(seq), 0) FROM events WHERE ns = ?", (self.ns,))
        )

    def read(
        self, conn: sqlite3.Connection, pattern: str, cursor: int, upto: int, limit: int
    ) -> tuple[list[Row], int]:
        """Matching rows in ``[cursor, upto]`` (at most ``limit`` scanned), and the
        cursor after them."""
        if literal_prefix(pattern) == pattern:  # no wildcard: let the index filter
            where, params = "AND subject = ?", [pattern]
        else:
            where, params = "", []
        rows: list[Row] = conn.execute(
            "SELECT seq, subject, data, time FROM events WHERE ns = ? AND seq BETWEEN ? AND ? "
            f"{where} ORDER BY seq LIMIT ?",
            (self.ns, cursor, upto, *params, limit),
        ).fetchall()
        after = rows[-1][0] + 1 if len(rows) == limit else upto + 1
        return [row for row in rows if matches(pattern, row[1])], after
