"""What every SQLite file of ours needs when it is opened."""

from __future__ import annotations

import sqlite3
import time


def enable_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode.

    Switching needs a moment alone with the file, and SQLite answers "database is
    locked" at once (the busy timeout does not apply) while another process is
    opening or switching the same file, so this retries for about 25 s."""
    for attempt in range(50):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            time.sleep(0.02 * (attempt + 1))
    conn.execute("PRAGMA journal_mode = WAL")
