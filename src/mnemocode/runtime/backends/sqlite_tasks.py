"""The task queue on SQLite: one row per task (``ready``, ``leased`` or ``dead``).

A lease writes a fresh token and a deadline; ack, nack and extend only touch the row
while the token matches, so a worker whose lease expired (and was re-leased) gets
False. Expired leases are reclaimed — as a failed attempt — by whoever next leases,
counts or lists dead letters in that queue. All times are unix times, shared by
every process on the machine.
"""

from __future__ import annotations

import sqlite3
import time
import uuid

from mnemocode.runtime.backends.shared import default_backoff, dump_json, load_json
from mnemocode.runtime.backends.sqlite_db import DB
from mnemocode.runtime.protocols import Json, Lease, QueueStats, Task

_TASK_COLUMNS = "id, queue, payload, priority, attempts, enqueued, error"


def _task(row: tuple[str, str, str, int, int, float, str]) -> Task:
    return Task(row[0], row[1], load_json(row[2]), int(row[3]), int(row[4]), row[5], row[6])


class SqliteTasks:
    def __init__(self, db: DB, namespace: str, max_attempts: int) -> None:
        self._db, self._ns, self._max_attempts = db, namespace, max_attempts

    async def enqueue(
        self, queue: str, payload: Json, *, priority: int = 0, task_id: str | None = None
    ) -> str:
        text, new_id = dump_json(payload), task_id or uuid.uuid4().hex

        def insert(conn: sqlite3.Connection) -> None:
            (order,) = conn.execute(
                "SELECT coalesce(max(ord), 0) + 1 FROM tasks WHERE ns = ? AND queue = ?",
                (self._ns, queue),
            ).fetchone()
            conn.execute(
                "INSERT OR IGNORE INTO tasks (ns, queue, id, payload, priority, ord, attempts, "
                "enqueued, error, status, available, token, deadline) "
                "VALUES (?, ?, ?, ?, ?, ?, 0, ?, '', 'ready', 0, '', 0)",
                (self._ns, queue, new_id, text, priority, order, time.time()),
            )

        await self._db.write(insert)
        return new_id

    async def lease(
        self, queue: str, *, visibility: float = 60.0, wait: float = 0.0
    ) -> Lease | None:
        give_up = time.monotonic() + wait
        while True:
            # Try to take one first (the usual case when tasks are waiting); only
            # when there is none, find out when one will be due.
            lease = await self._db.write(lambda conn: self._take(conn, queue, visibility))
            if lease is not None:
                return lease
            due = await self._db.read(lambda conn: self._next_due(conn, queue))
            if due <= time.time():
                continue
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                return None
            await self._db.changed.wait(min(remaining, due - time.time()))

    async def ack(self, lease: Lease) -> bool:
        return await self._db.write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM tasks WHERE ns = ? AND queue = ? AND id = ? AND token = ? "
                    "AND status = 'leased'",
                    (self._ns, lease.task.queue, lease.task.id, lease.token),
                ).rowcount
                == 1
            )
        )

    async def nack(self, lease: Lease, *, error: str = "", delay: float | None = None) -> bool:
        def fail(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT attempts FROM tasks WHERE ns = ? AND queue = ? AND id = ? AND token = ? "
                "AND status = 'leased'",
                (self._ns, lease.task.queue, lease.task.id, lease.token),
            ).fetchone()
            if row is None:
                return False
            self._fail(conn, lease.task, int(row[0]), error=error, delay=delay)
            return True

        return await self._db.write(fail)

    async def extend(self, lease: Lease, visibility: float) -> Lease | None:
        deadline = time.time() + visibility
        extended = await self._db.write(
            lambda conn: (
                conn.execute(
                    "UPDATE tasks SET deadline = ? WHERE ns = ? AND queue = ? AND id = ? "
                    "AND token = ? AND status = 'leased'",
                    (deadline, self._ns, lease.task.queue, lease.task.id, lease.token),
                ).rowcount
            )
        )
        return Lease(lease.task, lease.token, deadline) if extended else None

    async def dead_letters(self, queue: str) -> list[Task]:
        def dead(conn: sqlite3.Connection) -> list[Task]:
            self._reclaim(conn, queue)
            rows = conn.execute(
                f"SELECT {_TASK_COLUMNS} FROM tasks WHERE ns = ? AND queue = ? "
                "AND status = 'dead' ORDER BY ord",
                (self._ns, queue),
            ).fetchall()
            return [_task(row) for row in rows]

        return await self._db.write(dead)

    async def stats(self, queue: str) -> QueueStats:
        def count(conn: sqlite3.Connection) -> QueueStats:
            self._reclaim(conn, queue)
            now = time.time()
            counts = dict(
                conn.execute(
                    "SELECT CASE WHEN status = 'ready' AND available > ? THEN 'delayed' "
                    "ELSE status END AS kind, count(*) FROM tasks WHERE ns = ? AND queue = ? "
                    "GROUP BY kind",
                    (now, self._ns, queue),
                ).fetchall()
            )
            return QueueStats(
                counts.get("ready", 0),
                counts.get("leased", 0),
                counts.get("delayed", 0),
                counts.get("dead", 0),
            )

        return await self._db.write(count)

    def _next_due(self, conn: sqlite3.Connection, queue: str) -> float:
        """When a task of ``queue`` can next be leased (unix time; inf: none)."""
        whens = [
            conn.execute(
                f"SELECT min({column}) FROM tasks WHERE ns = ? AND queue = ? AND status = ?",
                (self._ns, queue, status),
            ).fetchone()[0]
            for column, status in (("available", "ready"), ("deadline", "leased"))
        ]
        return min((float(w) for w in whens if w is not None), default=float("inf"))

    def _take(self, conn: sqlite3.Connection, queue: str, visibility: float) -> Lease | None:
        self._reclaim(conn, queue)
        now = time.time()
        row = conn.execute(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE ns = ? AND queue = ? AND status = 'ready' "
            "AND available <= ? ORDER BY priority DESC, ord LIMIT 1",
            (self._ns, queue, now),
        ).fetchone()
        if row is None:
            return None
        token, deadline = uuid.uuid4().hex, now + visibility
        conn.execute(
            "UPDATE tasks SET status = 'leased', token = ?, deadline = ? "
            "WHERE ns = ? AND queue = ? AND id = ?",
            (token, deadline, self._ns, queue, row[0]),
        )
        return Lease(_task(row), token, deadline)

    def _reclaim(self, conn: sqlite3.Connection, queue: str) -> None:
        """Expired leases: a failed attempt each (workers that died holding them)."""
        expired = conn.execute(
            "SELECT id, attempts FROM tasks WHERE ns = ? AND queue = ? AND status = 'leased' "
            "AND deadline <= ?",
            (self._ns, queue, time.time()),
        ).fetchall()
        for task_id, attempts in expired:
            self._fail(
                conn, Task(task_id, queue, {}), int(attempts), error="lease expired", delay=0.0
            )

    def _fail(
        self,
        conn: sqlite3.Connection,
        task: Task,
        attempts: int,
        *,
        error: str,
        delay: float | None,
    ) -> None:
        attempts += 1
        status = "dead" if attempts >= self._max_attempts else "ready"
        wait = default_backoff(attempts) if delay is None else delay
        conn.execute(
            "UPDATE tasks SET status = ?, attempts = ?, error = ?, available = ?, token = '' "
            "WHERE ns = ? AND queue = ? AND id = ?",
            (status, attempts, error, time.time() + wait, self._ns, task.queue, task.id),
        )
