"""Opening a memory database: WAL, a busy timeout, numbered migrations.

Every write goes through ``transaction`` (``BEGIN IMMEDIATE``): the write lock is
taken up front, so two terminals on one project serialise instead of failing
half-way, and a process killed mid-write leaves the last committed state (WAL).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mnemocode.core.errors import MnemoError
from mnemocode.core.sqlite import enable_wal

Migration = Callable[[sqlite3.Connection], None]

BUSY_TIMEOUT_MS = 15_000


class MemoryError_(MnemoError):
    """The memory database could not be opened or written."""


class Connection(sqlite3.Connection):
    """A connection that threads may share: ``transaction`` holds ``write_lock``,
    so one thread's transaction never takes in another's statements."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_lock = threading.RLock()


def connect(path: Path, migrations: Sequence[Migration]) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path`` and bring it up to date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=15, factory=Connection
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        enable_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, migrations)
    except sqlite3.DatabaseError as exc:
        raise MemoryError_(f"cannot open memory database {path}: {exc}") from exc
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any exception.

    However it ends, the connection is out of the transaction afterwards: a
    ``COMMIT`` that fails is rolled back (else every later write would join the
    dead transaction as "nested" and never be committed), and a transaction
    SQLite already rolled back itself is not rolled back twice (which would
    hide the error that did it).

    On a connection from ``connect`` another thread's transaction waits for this
    one to end (a transaction is per connection, not per thread)."""
    lock = getattr(conn, "write_lock", None)
    with lock if lock is not None else contextlib.nullcontext():
        if conn.in_transaction:  # nested: part of this thread's outer transaction
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Apply the migrations not yet recorded, in order, each in its own
    transaction. Migrations are only ever appended; a name is never reused.
    Returns how many were applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)"
    )
    applied = 0
    for migration in migrations:
        name = migration.__name__
        with transaction(conn):
            done = conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone()
            if done:
                continue
            migration(conn)
            conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
            applied += 1
    return applied
