"""Core memory: what mnemo knows about the user, across projects, by dimension.

Seeing a trait again reinforces it: stability × 1.1 (capped at 2× the
dimension's default), ``last_seen`` = now. The update is one SQL statement, so
two terminals reinforcing at once both count.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from mnemocode.memory.db import transaction
from mnemocode.memory.forgetting import REINFORCE_FACTOR, STABILITY_CAP, default_stability
from mnemocode.memory.types import Trait


def _trait(row: sqlite3.Row) -> Trait:
    return Trait(
        dimension=row["dimension"],
        key=row["key"],
        value=row["value"],
        stability_days=row["stability_days"],
        reinforcements=row["reinforcements"],
        last_seen=row["last_seen"],
        pinned=bool(row["pinned"]),
        id=row["id"],
        created=row["created"],
    )


class TraitStore:
    def __init__(self, conn: sqlite3.Connection, *, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock

    def observe(
        self, dimension: str, key: str, value: str, *, pinned: bool = False, at: float | None = None
    ) -> Trait:
        """Add a trait, or reinforce it (and take the new wording) when it exists.
        A deleted trait seen again starts over: default stability, no pin."""
        now = at if at is not None else self.clock()
        default = default_stability(dimension)
        with transaction(self.conn):
            self.conn.execute(
                """
                INSERT INTO traits (dimension, key, value, stability_days, last_seen, pinned,
                                    created)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (dimension, key) DO UPDATE SET
                    value = excluded.value,
                    stability_days = CASE WHEN traits.deleted IS NOT NULL
                        THEN excluded.stability_days
                        ELSE MIN(traits.stability_days * ?, ?) END,
                    reinforcements = CASE WHEN traits.deleted IS NOT NULL
                        THEN 0 ELSE traits.reinforcements + 1 END,
                    last_seen = excluded.last_seen,
                    pinned = CASE WHEN traits.deleted IS NOT NULL THEN excluded.pinned
                        ELSE MAX(traits.pinned, excluded.pinned) END,
                    created = CASE WHEN traits.deleted IS NOT NULL
                        THEN excluded.created ELSE traits.created END,
                    deleted = NULL
                """,
                (
                    dimension,
                    key,
                    value,
                    default,
                    now,
                    int(pinned),
                    now,
                    REINFORCE_FACTOR,
                    STABILITY_CAP * default,
                ),
            )
        trait = self.get(dimension, key)
        assert trait is not None
        return trait

    def get(self, dimension: str, key: str) -> Trait | None:
        row = self.conn.execute(
            "SELECT * FROM traits WHERE dimension = ? AND key = ? AND deleted IS NULL",
            (dimension, key),
        ).fetchone()
        return _trait(row) if row else None

    def find(self, key: str) -> list[Trait]:
        rows = self.conn.execute(
            "SELECT * FROM traits WHERE key = ? AND deleted IS NULL", (key,)
        ).fetchall()
        return [_trait(r) for r in rows]

    def all(self) -> list[Trait]:
        rows = self.conn.execute(
            "SELECT * FROM traits WHERE deleted IS NULL ORDER BY dimension, key"
        ).fetchall()
        return [_trait(r) for r in rows]

    def delete(self, trait_id: int) -> bool:
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE traits SET deleted = ? WHERE id = ? AND deleted IS NULL",
                (self.clock(), trait_id),
            )
        return cur.rowcount > 0

    def set_pinned(self, trait_id: int, pinned: bool) -> bool:
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE traits SET pinned = ? WHERE id = ? AND deleted IS NULL",
                (int(pinned), trait_id),
            )
        return cur.rowcount > 0

    def search(
        self, match: str, limit: int, *, start: float | None = None, end: float | None = None
    ) -> list[tuple[Trait, float]]:
        """With ``start``/``end``: only traits last seen in [start, end)."""
        rows = self.conn.execute(
            """
            SELECT t.*, bm25(traits_fts, 1.0, 1.0) AS score
            FROM traits_fts JOIN traits t ON t.id = traits_fts.rowid
            WHERE traits_fts MATCH ? AND t.deleted IS NULL
              AND t.last_seen >= COALESCE(?, t.last_seen) AND t.last_seen < COALESCE(?, 1e300)
            ORDER BY score LIMIT ?
            """,
            (match, start, end, limit),
        ).fetchall()
        return [(_trait(r), r["score"]) for r in rows]
