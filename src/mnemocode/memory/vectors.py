"""The embeddings side of memory search: a vector per message, entry and summary.

``index_pending`` embeds the rows with no current vector (none, another model's, or
the row changed since) and drops the vectors of rows gone; each batch is its own
``INSERT OR REPLACE`` transaction, so it can be interrupted, and run by two
processes at once. ``search`` ranks this model's vectors by cosine (numpy, brute
force) into hits like ``MemorySearch``'s BM25 ones (same ref, text, when, session)
for rank fusion: ``MemorySearch(conn, vector_search=index.search)``. The vectors
are loaded once, then rows written since (a higher rowid) are read in; a deletion
(``vectors_state.deletions``) or a count that does not add up reloads them all.
numpy comes with the ``embeddings`` extra and is imported only when needed.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from mnemocode.memory.db import transaction
from mnemocode.memory.embeddings import Embedder, pack_vector
from mnemocode.memory.search import SNIPPET_CHARS
from mnemocode.memory.types import SearchHit, SearchSource

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float32]

EMBED_CHARS = 2_000  # of a row's text, embedded: about one 512-token window
_NO_ID = 2**63 - 1  # above every rowid


@dataclass(frozen=True, slots=True)
class _Source:
    """How one table becomes vectors: SQL expressions over its alias ``x``."""

    name: SearchSource
    table: str
    prefix: str  # every ref starts with it; the next character is ':'
    ref: str
    when: str
    session: str
    text: str  # the hit's text, as search.py shows it
    body: str  # what is embedded
    live: str  # which rows are searchable
    find: str  # the row of vector ``v`` (through an index)


_ENTRY_TEXT = (
    "x.kind || ' ' || x.key"
    " || CASE WHEN x.status = 'active' THEN '' ELSE ' [' || x.status || ']' END"
    " || ': ' || x.value"
    " || CASE WHEN x.rationale != '' THEN ' — why: ' || x.rationale ELSE '' END"
)
_SUMMARY_TEXT = "x.title || char(10) || x.body"
_SOURCES = (
    _Source(
        "project", "entries", "entry", "'entry:' || x.key", "x.updated", "NULL",
        _ENTRY_TEXT, f"substr({_ENTRY_TEXT}, 1, {EMBED_CHARS})", "x.deleted IS NULL",
        "x.key = substr(v.ref, 7)",
    ),
    _Source(
        "summary", "summaries", "summary", "'summary:' || x.id", "x.ended", "x.session_id",
        f"substr({_SUMMARY_TEXT}, 1, {SNIPPET_CHARS * 2})",
        f"substr({_SUMMARY_TEXT}, 1, {EMBED_CHARS})", "1",
        "x.id = CAST(substr(v.ref, 9) AS INTEGER)",
    ),
    _Source(
        "history", "messages", "msg", "'msg:' || x.session_id || ':' || x.seq", "x.created",
        "x.session_id", f"x.role || ': ' || substr(x.text, 1, {SNIPPET_CHARS})",
        f"substr(x.text, 1, {EMBED_CHARS})", "trim(x.text) != ''",
        "x.session_id = v.session_id"
        " AND x.seq = CAST(substr(v.ref, length(v.session_id) + 6) AS INTEGER)",
    ),
)  # fmt: skip

# A vector whose row is gone (not pruned yet) is no hit.
_ALIVE = " OR ".join(
    f"(v.source = '{s.name}' AND EXISTS (SELECT 1 FROM {s.table} x WHERE {s.find} AND {s.live}))"
    for s in _SOURCES
)


def _pending_sql(src: _Source) -> str:
    """Rows of ``src`` with no current vector of model ``?``, below id ``?``, newest first."""
    return (
        f"SELECT {src.ref} AS ref, {src.when} AS when_ts, {src.session} AS session_id,"
        f" {src.text} AS text, {src.body} AS body, x.id AS ord"
        f" FROM {src.table} x LEFT JOIN vectors v ON v.ref = {src.ref}"
        f" WHERE {src.live} AND (v.ref IS NULL OR v.model IS NOT ?"
        f" OR v.when_ts IS NOT {src.when} OR v.text IS NOT {src.text})"
        " AND x.id < ? ORDER BY x.id DESC LIMIT ?"
    )


class VectorIndex:
    """Vectors of one project database made by ``embedder``; see the module doc."""

    def __init__(self, conn: sqlite3.Connection, embedder: Embedder) -> None:
        self.conn = conn
        self.embedder = embedder
        self._lock = threading.Lock()  # guards the in-memory copy below
        self._refs: list[str] = []
        self._slot: dict[str, int] = {}
        self._matrix: Matrix | None = None  # unit rows; capacity >= len(_refs)
        self._last_rowid = 0
        self._deletions = -1

    # ---- indexing ------------------------------------------------------------

    def pending(self, limit: int | None = None) -> int:
        """How many messages, entries and summaries lack a current vector (up to ``limit``)."""
        total = 0
        for src in _SOURCES:
            left = -1 if limit is None else limit - total
            if left == 0:
                break
            row = self.conn.execute(
                f"SELECT count(*) FROM ({_pending_sql(src)})",
                (self.embedder.name, _NO_ID, left),
            ).fetchone()
            total += int(row[0])
        return total

    def index_pending(self, batch: int = 64, limit: int | None = None) -> int:
        """Embed up to ``limit`` rows lacking a current vector (entries, then
        summaries, then messages; newest first), ``batch`` per transaction, and
        drop the vectors of deleted rows. Returns how many rows were embedded."""
        if batch <= 0:
            raise ValueError(f"batch must be > 0, not {batch}")
        self.prune()
        done = 0
        for src in _SOURCES:
            below = _NO_ID  # keyset paging: a row is looked at once per call
            while limit is None or done < limit:
                n = batch if limit is None else min(batch, limit - done)
                params = (self.embedder.name, below, n)
                rows = self.conn.execute(_pending_sql(src), params).fetchall()
                if not rows:
                    break
                below, vecs = rows[-1]["ord"], self.embedder.embed([r["body"] for r in rows])
                with transaction(self.conn):
                    self.conn.executemany(
                        "INSERT OR REPLACE INTO vectors (ref, source, model, dim, vector,"
                        " when_ts, session_id, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(r["ref"], src.name, self.embedder.name, len(v), pack_vector(v),
                          r["when_ts"], r["session_id"], r["text"])
                         for r, v in zip(rows, vecs, strict=True)],
                    )  # fmt: skip
                done += len(rows)
        return done

    def prune(self) -> int:
        """Drop vectors whose message, entry or summary is gone; returns how many."""
        dropped = 0
        with transaction(self.conn):
            for src in _SOURCES:
                cur = self.conn.execute(
                    f"DELETE FROM vectors WHERE ref >= ? AND ref < ? AND ref NOT IN"
                    f" (SELECT {src.ref} FROM {src.table} x WHERE {src.live})",
                    (src.prefix + ":", src.prefix + ";"),
                )
                dropped += cur.rowcount
        return dropped

    # ---- search --------------------------------------------------------------

    def search(self, query: str, k: int) -> list[SearchHit]:
        """The ``k`` stored rows most similar to ``query``, best first (score: cosine)."""
        if k <= 0 or not query.strip():
            return []
        import numpy as np

        q = np.asarray(self.embedder.embed_query([query])[0], dtype=np.float32)
        q /= float(np.linalg.norm(q)) or 1.0
        with self._lock:
            self._refresh()
            n = len(self._refs)
            if n == 0 or self._matrix is None:
                return []
            scores = self._matrix[:n] @ q
            top = np.argpartition(-scores, min(k, n) - 1)[: min(k, n)]
            top = top[np.argsort(-scores[top], kind="stable")]
            best = {self._refs[i]: float(scores[i]) for i in top}
        marks = ", ".join("?" * len(best))
        rows = self.conn.execute(
            "SELECT ref, source, text, when_ts, session_id FROM vectors v"
            f" WHERE ref IN ({marks}) AND ({_ALIVE})",
            list(best),
        ).fetchall()
        found = {r["ref"]: r for r in rows}
        return [
            SearchHit(
                cast("SearchSource", r["source"]), ref, r["text"], score, r["when_ts"],
                r["session_id"],
            )
            for ref, score in best.items()
            if (r := found.get(ref)) is not None
        ]  # fmt: skip

    def _refresh(self) -> None:
        """Bring the in-memory vectors up to date (the caller holds the lock): read the
        rows written since; all over again after a deletion, or when the rows held do
        not add up (a ref went over to another model)."""
        model, dim = self.embedder.name, self.embedder.dim
        deletions = self.conn.execute("SELECT deletions FROM vectors_state").fetchone()[0]
        if deletions != self._deletions:
            self._reset()
            self._deletions = deletions
        for reload in (False, False, True):  # the second pass: rows replaced meanwhile
            if reload:
                self._reset()
            self._load(model, dim)
            if self._count(model, dim, self._last_rowid) == len(self._refs):
                return

    def _count(self, model: str, dim: int, upto: int) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM vectors WHERE model = ? AND dim = ? AND rowid <= ?",
            (model, dim, upto),
        ).fetchone()
        return int(row[0])

    def _reset(self) -> None:
        self._refs, self._slot, self._matrix, self._last_rowid = [], {}, None, 0

    def _load(self, model: str, dim: int) -> None:
        """Read in the rows written since the last load (a re-embedded ref keeps its slot)."""
        import numpy as np

        cursor = self.conn.execute(
            "SELECT rowid, ref, vector FROM vectors WHERE model = ? AND dim = ? AND rowid > ?"
            " ORDER BY rowid",
            (model, dim, self._last_rowid),
        )
        while rows := cursor.fetchmany(4096):
            block = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(-1, dim)
            norms = np.linalg.norm(block, axis=1)
            norms[norms == 0.0] = 1.0
            slots = [self._slot_of(r[1]) for r in rows]
            if self._matrix is None or self._matrix.shape[0] < len(self._refs):
                total = self._count(model, dim, _NO_ID) if self._matrix is None else 0
                size = max(total, len(self._refs)) * 5 // 4 + 1024  # room to grow
                grown = np.empty((size, dim), dtype=np.float32)
                if self._matrix is not None:
                    grown[: self._matrix.shape[0]] = self._matrix
                self._matrix = grown
            self._matrix[slots] = block / norms[:, None]
            self._last_rowid = rows[-1][0]

    def _slot_of(self, ref: str) -> int:
        slot = self._slot.get(ref)
        if slot is None:
            slot = self._slot[ref] = len(self._refs)
            self._refs.append(ref)
        return slot
