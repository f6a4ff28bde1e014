"""The SQLite file behind the T1 backend: connections, schema, and the change feed.

Writes are ``BEGIN IMMEDIATE`` transactions. Each one is first tried on the loop
thread with a connection that never waits for a lock (a transaction here takes tens
of microseconds, less than a hop to a thread); if another connection holds the
lock, it runs instead on this backend's worker thread, whose connection waits
(``busy_timeout``) without blocking the event loop. Reads likewise.

A third connection on the loop thread answers cheap questions: "did any connection
commit?" (``PRAGMA data_version``) and the small position reads (last seq, last
change id) that ``subscribe`` and ``watch`` need when they are called.

Waiters (subscriptions, ``lease(wait=...)``, watches) sleep on ``DB.changed``:
woken at once by this process's commits and, for other processes' commits, by a
poll of ``data_version`` — every 2 ms while things change, backing off to 50 ms
when idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from mnemocode.core.sqlite import enable_wal
from mnemocode.runtime.backends.shared import Signal
from mnemocode.runtime.protocols import BackendError

T = TypeVar("T")

FAST_POLL = 0.002
IDLE_POLL = 0.05
BUSY_TIMEOUT_MS = 10_000

_MIGRATIONS: list[str] = [
    # 1: events, consumer groups, state, tasks
    """
    CREATE TABLE events (
        ns TEXT NOT NULL, seq INTEGER NOT NULL, subject TEXT NOT NULL,
        data TEXT NOT NULL, time REAL NOT NULL, PRIMARY KEY (ns, seq)
    ) WITHOUT ROWID;
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY, ns TEXT NOT NULL, name TEXT NOT NULL,
        pattern TEXT NOT NULL, cursor INTEGER NOT NULL, UNIQUE (ns, name, pattern)
    );
    CREATE TABLE pending (
        gid INTEGER NOT NULL, seq INTEGER NOT NULL, attempt INTEGER NOT NULL,
        deadline REAL NOT NULL, PRIMARY KEY (gid, seq)
    ) WITHOUT ROWID;
    CREATE INDEX pending_due ON pending (gid, deadline);
    CREATE TABLE state (
        ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        revision INTEGER NOT NULL, expires REAL, PRIMARY KEY (ns, key)
    ) WITHOUT ROWID;
    CREATE INDEX state_expires ON state (ns, expires) WHERE expires IS NOT NULL;
    CREATE TABLE changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, key TEXT NOT NULL,
        op TEXT NOT NULL, value TEXT
    );
    CREATE INDEX changes_ns ON changes (ns, id);
    CREATE TABLE tasks (
        ns TEXT NOT NULL, queue TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL,
        priority INTEGER NOT NULL, ord INTEGER NOT NULL, attempts INTEGER NOT NULL,
        enqueued REAL NOT NULL, error TEXT NOT NULL, status TEXT NOT NULL,
        available REAL NOT NULL, token TEXT NOT NULL, deadline REAL NOT NULL,
        PRIMARY KEY (ns, queue, id)
    ) WITHOUT ROWID;
    CREATE INDEX tasks_next ON tasks (ns, queue, status, priority DESC, ord);
    """,
    # 2: enqueue's next order number and the lease deadline scan, without a table scan
    """
    CREATE INDEX tasks_ord ON tasks (ns, queue, ord);
    CREATE INDEX tasks_deadline ON tasks (ns, queue, status, deadline);
    """,
]


SQLITE_BUSY, SQLITE_LOCKED = 5, 6


def _connect(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    enable_wal(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            for statement in filter(str.strip, script.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class DB:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.changed = Signal()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="mnemo-runtime-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._peek: sqlite3.Connection | None = None
        self._fast: sqlite3.Connection | None = None
        self._feed: asyncio.Task[None] | None = None

    async def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot create the runtime database {self.path}: {exc}") from exc
        try:
            self._conn = await self._in_worker(_connect, self.path)
            await self._in_worker(_migrate, self._conn)
            self._peek = _connect(self.path)
            self._fast = _connect(self.path, busy_timeout_ms=0)
        except sqlite3.Error as exc:
            await self.close()
            raise BackendError(f"cannot open the runtime database {self.path}: {exc}") from exc
        self._feed = asyncio.create_task(self._watch_commits())

    async def close(self) -> None:
        if self._feed is not None:
            self._feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feed
            self._feed = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._in_worker(conn.close)
        for extra in (self._peek, self._fast):
            if extra is not None:
                extra.close()
        self._peek = self._fast = None
        self._worker.shutdown(wait=True)

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(work, writes=False)

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._run(work, writes=True)
        finally:
            self.changed.notify()

    async def _run(self, work: Callable[[sqlite3.Connection], T], *, writes: bool) -> T:
        if self._fast is None or self._conn is None:
            raise BackendError("the runtime backend is closed")
        try:
            return _transaction(self._fast, work, writes)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (SQLITE_BUSY, SQLITE_LOCKED):
                raise BackendError(f"runtime database {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise BackendError(f"runtime database {self.path}: {exc}") from exc
        try:
            return await self._in_worker(_transaction, self._conn, work, writes)
        except sqlite3.Error as exc:
            raise BackendError(f"runtime database {self.path}: {exc}") from exc

    def peek(self, sql: str, params: tuple[Any, ...]) -> Any:
        """One value, read on the loop thread (WAL readers never wait for writers)."""
        if self._peek is None:
            raise BackendError("the runtime backend is closed")
        try:
            return self._peek.execute(sql, params).fetchone()[0]
        except sqlite3.Error as exc:
            raise BackendError(f"runtime database {self.path}: {exc}") from exc

    async def _in_worker(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, partial(function, *args))

    async def _watch_commits(self) -> None:
        interval = FAST_POLL
        seen = self.peek("PRAGMA data_version", ())
        while True:
            await asyncio.sleep(interval)
            version = self.peek("PRAGMA data_version", ())
            if version != seen:
                seen, interval = version, FAST_POLL
                self.changed.notify()
            else:
                interval = min(interval * 1.5, IDLE_POLL)


def _transaction(
    conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T], writes: bool
) -> T:
    """``work`` in one transaction (``BEGIN IMMEDIATE`` when it writes); rolled back
    if it raises (a ConflictError included)."""
    if not writes:
        return work(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result
