"""A member of a consumer group on SQLite.

The group is a durable cursor (``groups``) plus a row per unacked delivery
(``pending``: attempt, deadline). A member claims a batch in one transaction —
first deliveries whose deadline passed (a dead or slow member's, or nacked ones:
attempt + 1), then new matching events after the cursor — so whichever member
is alive redelivers what another left behind.

Acks are buffered and deleted in the member's next claim, or ``ACK_FLUSH_S`` later,
or once ``ACK_FLUSH_COUNT`` are waiting: an ack lost in a crash before its flush
only means one more delivery, which at-least-once allows. Closing a member flushes
its acks and hands back the claimed events it never handed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import deque
from dataclasses import dataclass

from mnemocode.runtime.backends.sqlite_log import Log, Row, SqliteDelivery, event_from

CLAIM_BATCH = 64
ACK_FLUSH_S = 0.005
ACK_FLUSH_COUNT = 256

Ack = tuple[int, int, int]  # group id, seq, attempt


@dataclass(slots=True)
class _Claim:
    gid: int
    cursor: int
    rows: list[tuple[Row, int]]  # (event row, attempt)
    next_due: float  # unix time of the group's earliest pending deadline (inf: none)


class GroupMember:
    def __init__(self, log: Log, name: str, pattern: str, start: int, ack_wait: float) -> None:
        self._log, self._name, self._pattern = log, name, pattern
        self._ack_wait = ack_wait
        self._gid: int | None = None
        self._start = start  # the group's cursor if this member creates it
        self._cursor = start  # the group's cursor as last seen
        self._next_due = 0.0
        self._ready: deque[SqliteDelivery] = deque()
        self._acks: list[Ack] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    def __aiter__(self) -> GroupMember:
        return self

    async def __anext__(self) -> SqliteDelivery:
        while not self._closed:
            if self._ready:
                return self._ready.popleft()
            now, last = time.time(), self._log.last_seq()
            if self._gid is None or last >= self._cursor or now >= self._next_due:
                await self._claim(last)
                continue
            await self._log.db.changed.wait(self._next_due - now)
            # Let the publishes already scheduled in this process land first, to
            # claim a burst in one transaction (a timed sleep here cost ~1.3 ms a event).
            await asyncio.sleep(0)
        raise StopAsyncIteration

    async def _claim(self, last: int) -> None:
        acks, self._acks = self._acks, []
        claim = await self._log.db.write(lambda conn: self._claim_in(conn, acks, last))
        self._gid, self._cursor, self._next_due = claim.gid, claim.cursor, claim.next_due
        self._ready.extend(SqliteDelivery(event_from(row), n, self) for row, n in claim.rows)

    def _claim_in(self, conn: sqlite3.Connection, acks: list[Ack], last: int) -> _Claim:
        now = time.time()
        deadline = now + self._ack_wait
        gid, cursor = self._group(conn)
        _delete_acked(conn, acks)
        claimed: list[tuple[Row, int]] = []
        for seq, attempt, subject, data, when in conn.execute(
            "SELECT p.seq, p.attempt, e.subject, e.data, e.time FROM pending p "
            "LEFT JOIN events e ON e.ns = ? AND e.seq = p.seq "
            "WHERE p.gid = ? AND p.deadline <= ? ORDER BY p.seq LIMIT ?",
            (self._log.ns, gid, now, CLAIM_BATCH),
        ).fetchall():
            if subject is None:  # dropped by retention meanwhile
                conn.execute("DELETE FROM pending WHERE gid = ? AND seq = ?", (gid, seq))
                continue
            conn.execute(
                "UPDATE pending SET attempt = ?, deadline = ? WHERE gid = ? AND seq = ?",
                (attempt + 1, deadline, gid, seq),
            )
            claimed.append(((seq, subject, data, when), attempt + 1))
        if not claimed and cursor <= last:
            rows, cursor = self._log.read(conn, self._pattern, cursor, last, CLAIM_BATCH)
            conn.executemany(
                "INSERT OR REPLACE INTO pending (gid, seq, attempt, deadline) VALUES (?, ?, 1, ?)",
                [(gid, row[0], deadline) for row in rows],
            )
            conn.execute("UPDATE groups SET cursor = ? WHERE id = ?", (cursor, gid))
            claimed.extend((row, 1) for row in rows)
        (next_due,) = conn.execute(
            "SELECT min(deadline) FROM pending WHERE gid = ?", (gid,)
        ).fetchone()
        return _Claim(gid, cursor, claimed, float("inf") if next_due is None else next_due)

    def _group(self, conn: sqlite3.Connection) -> tuple[int, int]:
        if self._gid is None:
            conn.execute(
                "INSERT OR IGNORE INTO groups (ns, name, pattern, cursor) VALUES (?, ?, ?, ?)",
                (self._log.ns, self._name, self._pattern, self._start),
            )
            row = conn.execute(
                "SELECT id, cursor FROM groups WHERE ns = ? AND name = ? AND pattern = ?",
                (self._log.ns, self._name, self._pattern),
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT id, cursor FROM groups WHERE id = ?", (self._gid,)
            ).fetchone()
        return int(row[0]), int(row[1])

    async def acked(self, delivery: SqliteDelivery) -> None:
        if self._gid is None:
            return
        self._acks.append((self._gid, delivery.event.seq, delivery.attempt))
        if len(self._acks) >= ACK_FLUSH_COUNT:
            await self._flush()
        elif self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_soon())

    async def nacked(self, delivery: SqliteDelivery, delay: float) -> None:
        gid, seq, attempt = self._gid, delivery.event.seq, delivery.attempt
        due = time.time() + delay
        await self._log.db.write(
            lambda conn: conn.execute(
                "UPDATE pending SET deadline = ? WHERE gid = ? AND seq = ? AND attempt = ?",
                (due, gid, seq, attempt),
            )
        )
        self._next_due = min(self._next_due, due)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        unsent = [(self._gid, d.event.seq, d.attempt) for d in self._ready]
        acks, self._acks, self._ready = self._acks, [], deque()
        if acks or unsent:
            await self._log.db.write(lambda conn: _settle(conn, acks, unsent))
        self._log.db.changed.notify()

    async def _flush_soon(self) -> None:
        try:
            while self._acks:
                await asyncio.sleep(ACK_FLUSH_S)
                await self._flush()
        finally:
            self._flusher = None

    async def _flush(self) -> None:
        acks, self._acks = self._acks, []
        if acks:
            await self._log.db.write(lambda conn: _delete_acked(conn, acks))


def _delete_acked(conn: sqlite3.Connection, acks: list[Ack]) -> None:
    conn.executemany("DELETE FROM pending WHERE gid = ? AND seq = ? AND attempt = ?", acks)


def _settle(
    conn: sqlite3.Connection, acks: list[Ack], unsent: list[tuple[int | None, int, int]]
) -> None:
    _delete_acked(conn, acks)
    # Claimed but never handed out: due at once, and this claim does not count.
    conn.executemany(
        "UPDATE pending SET attempt = attempt - 1, deadline = 0 "
        "WHERE gid = ? AND seq = ? AND attempt = ?",
        unsent,
    )
