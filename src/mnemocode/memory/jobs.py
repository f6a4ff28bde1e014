"""A durable queue of memory work (session summaries, extraction) in the project
database. Work a process could not finish — it exited, crashed, lost its model —
stays here and is done at the next start, never silently dropped.

A job is leased while it runs; a lease that expires (its runner died) makes the
job available again. After ``MAX_ATTEMPTS`` failures a job is marked failed and
reported, not retried forever.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from mnemocode.memory.db import transaction

MAX_ATTEMPTS = 3
LEASE_S = 300.0


@dataclass(slots=True)
class Job:
    id: int
    kind: str
    session_id: str
    payload: dict[str, Any]
    attempts: int


class JobQueue:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def enqueue(self, kind: str, session_id: str, payload: dict[str, Any] | None = None) -> None:
        """Queue work once: the same (kind, session, payload) pending twice is one job.
        Asking again for a job that finished (done, or failed for good) is a new
        request: it gets its full set of attempts again."""
        now = time.time()
        with transaction(self.conn):
            self.conn.execute(
                """
                INSERT INTO jobs (kind, session_id, payload, created, updated)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (kind, session_id, payload) DO UPDATE SET
                    state = CASE WHEN jobs.state = 'running' THEN 'running' ELSE 'pending' END,
                    attempts = CASE WHEN jobs.state IN ('done', 'failed') THEN 0
                        ELSE jobs.attempts END,
                    updated = excluded.updated
                """,
                (kind, session_id, json.dumps(payload or {}, sort_keys=True), now, now),
            )

    def lease(self, *, lease_s: float = LEASE_S) -> Job | None:
        """Take the oldest available job (pending, or running with an expired lease)."""
        now = time.time()
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT * FROM jobs WHERE state = 'pending' "
                "OR (state = 'running' AND lease_until < ?) ORDER BY id LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                return None
            self.conn.execute(
                "UPDATE jobs SET state = 'running', lease_until = ?, attempts = attempts + 1, "
                "updated = ? WHERE id = ?",
                (now + lease_s, now, row["id"]),
            )
        return Job(
            row["id"], row["kind"], row["session_id"], json.loads(row["payload"]),
            row["attempts"] + 1,
        )  # fmt: skip

    def done(self, job: Job) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE jobs SET state = 'done', lease_until = NULL, error = NULL, updated = ? "
                "WHERE id = ?",
                (time.time(), job.id),
            )

    def release(self, job: Job) -> None:
        """Give a leased job back untried (its run was interrupted, not failed):
        available again at once, the attempt not counted."""
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE jobs SET state = 'pending', lease_until = NULL, "
                "attempts = MAX(attempts - 1, 0), updated = ? WHERE id = ? AND state = 'running'",
                (time.time(), job.id),
            )

    def failed(self, job: Job, error: str) -> bool:
        """Record a failure; returns True when the job will be retried."""
        retry = job.attempts < MAX_ATTEMPTS
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE jobs SET state = ?, lease_until = NULL, error = ?, updated = ? "
                "WHERE id = ?",
                ("pending" if retry else "failed", error[:2_000], time.time(), job.id),
            )
        return retry

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {r[0]: r[1] for r in rows}

    def failures(self) -> list[tuple[str, str, str]]:
        rows = self.conn.execute(
            "SELECT kind, session_id, COALESCE(error, '') FROM jobs WHERE state = 'failed'"
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]
