"""Key/value state on SQLite. Every write appends to ``changes`` (its id is the new
revision, so revisions only grow) and watchers read that log. The log keeps the
last ``CHANGES_KEPT`` changes: a watcher that falls further behind skips the rest.
An expired key (``expires`` passed) reads as missing and is purged on later writes;
its expiry is not a watch event."""

from __future__ import annotations

import sqlite3
import time
from collections import deque

from mnemocode.runtime.backends.shared import dump_json, load_json
from mnemocode.runtime.backends.sqlite_db import DB
from mnemocode.runtime.protocols import ConflictError, Json, StateChange, StateEntry
from mnemocode.runtime.subjects import SubjectError

CHANGES_KEPT = 10_000
_LIVE = "(expires IS NULL OR expires > ?)"


class SqliteState:
    def __init__(self, db: DB, namespace: str) -> None:
        self._db, self._ns = db, namespace

    async def get(self, key: str) -> StateEntry | None:
        _check(key)
        row = await self._db.read(
            lambda conn: conn.execute(
                f"SELECT value, revision FROM state WHERE ns = ? AND key = ? AND {_LIVE}",
                (self._ns, key, time.time()),
            ).fetchone()
        )
        return None if row is None else StateEntry(key, load_json(row[0]), int(row[1]))

    async def put(self, key: str, value: Json, *, ttl: float | None = None) -> int:
        _check(key)
        text = dump_json(value)
        return await self._db.write(lambda conn: self._write(conn, key, text, ttl))

    async def cas(self, key: str, value: Json, expected: int, *, ttl: float | None = None) -> int:
        _check(key)
        text = dump_json(value)

        def swap(conn: sqlite3.Connection) -> int:
            actual = self._revision(conn, key)
            if (actual or 0) != expected:
                raise ConflictError(key, expected, actual)
            return self._write(conn, key, text, ttl)

        return await self._db.write(swap)

    async def delete(self, key: str) -> bool:
        _check(key)

        def remove(conn: sqlite3.Connection) -> bool:
            existed = self._revision(conn, key) is not None
            conn.execute("DELETE FROM state WHERE ns = ? AND key = ?", (self._ns, key))
            if existed:
                self._log(conn, key, "delete", None)
            return existed

        return await self._db.write(remove)

    async def keys(self, prefix: str = "") -> list[str]:
        rows = await self._db.read(
            lambda conn: conn.execute(
                f"SELECT key FROM state WHERE ns = ? AND key >= ? AND {_LIVE} ORDER BY key",
                (self._ns, prefix, time.time()),
            ).fetchall()
        )
        found = []
        for (key,) in rows:  # sorted, so the keys with the prefix come first
            if not key.startswith(prefix):
                break
            found.append(key)
        return found

    def watch(self, key: str, *, prefix: bool = False) -> SqliteWatch:
        if not prefix:
            _check(key)
        return SqliteWatch(self._db, self._ns, key, prefix)

    def _revision(self, conn: sqlite3.Connection, key: str) -> int | None:
        row = conn.execute(
            f"SELECT revision FROM state WHERE ns = ? AND key = ? AND {_LIVE}",
            (self._ns, key, time.time()),
        ).fetchone()
        return None if row is None else int(row[0])

    def _write(self, conn: sqlite3.Connection, key: str, value: str, ttl: float | None) -> int:
        now = time.time()
        conn.execute("DELETE FROM state WHERE ns = ? AND expires <= ?", (self._ns, now))
        revision = self._log(conn, key, "put", value)
        conn.execute(
            "INSERT INTO state (ns, key, value, revision, expires) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, "
            "revision = excluded.revision, expires = excluded.expires",
            (self._ns, key, value, revision, None if ttl is None else now + ttl),
        )
        return revision

    def _log(self, conn: sqlite3.Connection, key: str, op: str, value: str | None) -> int:
        cursor = conn.execute(
            "INSERT INTO changes (ns, key, op, value) VALUES (?, ?, ?, ?)",
            (self._ns, key, op, value),
        )
        revision = int(cursor.lastrowid or 0)
        conn.execute(
            "DELETE FROM changes WHERE ns = ? AND id <= ?", (self._ns, revision - CHANGES_KEPT)
        )
        return revision


class SqliteWatch:
    def __init__(self, db: DB, namespace: str, key: str, prefix: bool) -> None:
        self._db, self._ns, self._key, self._prefix = db, namespace, key, prefix
        self._ready: deque[StateChange] = deque()
        self._after = self._last_change()  # fixed now: only later changes are seen

    def __aiter__(self) -> SqliteWatch:
        return self

    async def __anext__(self) -> StateChange:
        while not self._ready:
            last = self._last_change()
            if last > self._after:
                await self._fill(last)
            else:
                await self._db.changed.wait(None)
        return self._ready.popleft()

    def _last_change(self) -> int:
        sql = "SELECT coalesce(max(id), 0) FROM changes WHERE ns = ?"
        return int(self._db.peek(sql, (self._ns,)))

    async def _fill(self, last: int) -> None:
        where = "key >= ?" if self._prefix else "key = ?"
        sql = (
            "SELECT id, key, op, value FROM changes "
            f"WHERE ns = ? AND id > ? AND id <= ? AND {where} ORDER BY id"
        )
        params = (self._ns, self._after, last, self._key)
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        self._after = last
        for revision, key, op, value in rows:
            if key.startswith(self._key):
                data = None if value is None else load_json(value)
                self._ready.append(StateChange(key, op, data, int(revision)))


def _check(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise SubjectError("keys must be non-empty strings")
