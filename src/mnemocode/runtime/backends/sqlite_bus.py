"""The event bus on SQLite: one ``events`` log per namespace, trimmed to
``max_events`` on every publish (see sqlite_subscriptions and sqlite_groups for
the consumers)."""

from __future__ import annotations

import sqlite3
import time

from mnemocode.runtime.backends.shared import dump_json
from mnemocode.runtime.backends.sqlite_db import DB
from mnemocode.runtime.backends.sqlite_groups import GroupMember
from mnemocode.runtime.backends.sqlite_log import Log
from mnemocode.runtime.backends.sqlite_subscriptions import PlainSubscription
from mnemocode.runtime.protocols import Json
from mnemocode.runtime.subjects import validate_pattern, validate_subject


class SqliteBus:
    def __init__(self, db: DB, namespace: str, max_events: int) -> None:
        self._log = Log(db, namespace)
        self._max_events = max_events

    async def publish(self, subject: str, data: Json) -> int:
        validate_subject(subject)
        text = dump_json(data)
        return await self._log.db.write(lambda conn: self._append(conn, subject, text))

    def _append(self, conn: sqlite3.Connection, subject: str, data: str) -> int:
        ns = self._log.ns
        (seq,) = conn.execute(
            "SELECT coalesce(max(seq), 0) + 1 FROM events WHERE ns = ?", (ns,)
        ).fetchone()
        conn.execute(
            "INSERT INTO events (ns, seq, subject, data, time) VALUES (?, ?, ?, ?, ?)",
            (ns, seq, subject, data, time.time()),
        )
        if seq > self._max_events:
            conn.execute(
                "DELETE FROM events WHERE ns = ? AND seq <= ?", (ns, seq - self._max_events)
            )
        return int(seq)

    async def last_seq(self) -> int:
        return self._log.last_seq()

    def subscribe(
        self,
        pattern: str,
        *,
        group: str | None = None,
        start: int | None = None,
        ack_wait: float = 30.0,
    ) -> PlainSubscription | GroupMember:
        validate_pattern(pattern)
        # Fixed now, so events published once subscribe() returns are not missed.
        cursor = self._log.last_seq() + 1 if start is None else start
        if group is None:
            return PlainSubscription(self._log, pattern, cursor)
        return GroupMember(self._log, group, pattern, cursor, ack_wait)
