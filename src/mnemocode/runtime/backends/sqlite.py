"""T1, the default: one SQLite file (``[runtime] path``, else ``<home>/runtime.db``)
shared by every process on the machine — several terminals, one bus. WAL, one
``BEGIN IMMEDIATE`` transaction per write, cross-process wake-ups by polling
``PRAGMA data_version`` (see sqlite_db)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mnemocode.config.settings import RuntimeConfig
from mnemocode.runtime.backends.sqlite_bus import SqliteBus
from mnemocode.runtime.backends.sqlite_db import DB
from mnemocode.runtime.backends.sqlite_state import SqliteState
from mnemocode.runtime.backends.sqlite_tasks import SqliteTasks
from mnemocode.runtime.protocols import Backend, BackendError, Json


def database_path(config: RuntimeConfig, home: Path) -> Path:
    return Path(config.path).expanduser() if config.path else home / "runtime.db"


async def open_backend(config: RuntimeConfig, *, home: Path) -> Backend:
    db = DB(database_path(config, home))
    await db.open()
    bus = SqliteBus(db, config.namespace, config.max_events)

    async def health() -> Json:
        try:
            journal = db.peek("PRAGMA journal_mode", ())
            last_seq = await bus.last_seq()
        except BackendError as exc:
            return {"backend": "sqlite", "ok": False, "detail": str(exc), "path": str(db.path)}
        return {
            "backend": "sqlite",
            "ok": True,
            "detail": f"{db.path} ({journal})",
            "path": str(db.path),
            "sqlite_version": sqlite3.sqlite_version,
            "namespace": config.namespace,
            "last_seq": last_seq,
        }

    return Backend(
        "sqlite",
        bus,
        SqliteState(db, config.namespace),
        SqliteTasks(db, config.namespace, config.max_attempts),
        db.close,
        health,
    )
