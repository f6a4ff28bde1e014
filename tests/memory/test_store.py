"""The SQLite stores underneath memory, on real database files: migrations, WAL,
entries, traits, sessions and their transcripts, summaries, the job queue."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mnemocode.core.types import Message, ToolCall, ToolResult
from mnemocode.memory.db import connect, migrate, transaction
from mnemocode.memory.entries import EntryStore
from mnemocode.memory.forgetting import REINFORCE_FACTOR, STABILITY_CAP
from mnemocode.memory.jobs import MAX_ATTEMPTS, JobQueue
from mnemocode.memory.migrations import CORE_MIGRATIONS, PROJECT_MIGRATIONS
from mnemocode.memory.search import fts_query
from mnemocode.memory.sessions import SessionStore
from mnemocode.memory.summaries import SummaryStore
from mnemocode.memory.traits import TraitStore
from mnemocode.memory.types import DIMENSION_STABILITY_DAYS, Entry, Summary


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def project_db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "memory.db", PROJECT_MIGRATIONS)
    yield conn
    conn.close()


@pytest.fixture
def core_db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "core.db", CORE_MIGRATIONS)
    yield conn
    conn.close()


def applied(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


# ---- migrations and the connection ------------------------------------------------


def test_migrations_are_recorded_once_and_reopening_applies_none(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    first = connect(path, PROJECT_MIGRATIONS)
    assert applied(first) == [m.__name__ for m in PROJECT_MIGRATIONS]
    assert migrate(first, PROJECT_MIGRATIONS) == 0
    first.close()

    second = connect(path, PROJECT_MIGRATIONS)
    assert applied(second) == [m.__name__ for m in PROJECT_MIGRATIONS]
    assert migrate(second, PROJECT_MIGRATIONS) == 0
    second.close()


def test_an_appended_migration_is_applied_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    connect(path, PROJECT_MIGRATIONS).close()
    runs: list[int] = []

    def m900_test_extra(conn: sqlite3.Connection) -> None:
        runs.append(1)
        conn.execute("CREATE TABLE extra (x INTEGER)")
        conn.execute("INSERT INTO extra VALUES (42)")

    extended = [*PROJECT_MIGRATIONS, m900_test_extra]
    for _ in range(3):
        conn = connect(path, extended)
        assert [tuple(r) for r in conn.execute("SELECT x FROM extra")] == [(42,)]
        conn.close()
    assert runs == [1]
    conn = connect(path, extended)
    assert applied(conn)[-1] == "m900_test_extra"
    assert len(applied(conn)) == len(extended)
    conn.close()


def test_a_failing_migration_leaves_nothing_behind_and_is_retried(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    connect(path, PROJECT_MIGRATIONS).close()
    fail = [True]

    def m901_half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x INTEGER)")
        if fail[0]:
            raise sqlite3.OperationalError("disk on fire")

    with pytest.raises(Exception, match="disk on fire"):
        connect(path, [*PROJECT_MIGRATIONS, m901_half_done])
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchone() is None
    assert "m901_half_done" not in [r[0] for r in conn.execute("SELECT name FROM _migrations")]
    conn.close()

    fail[0] = False
    conn = connect(path, [*PROJECT_MIGRATIONS, m901_half_done])
    assert applied(conn)[-1] == "m901_half_done"
    conn.close()


def test_wal_mode_and_busy_timeout(project_db: sqlite3.Connection, tmp_path: Path) -> None:
    assert project_db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert project_db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5_000
    assert project_db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # WAL is a property of the file: a plain connection sees it too.
    other = sqlite3.connect(tmp_path / "memory.db")
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()


# ---- project entries ---------------------------------------------------------------


def test_entries_upsert_get_update_delete_and_revive(project_db: sqlite3.Connection) -> None:
    clock = Clock()
    store = EntryStore(project_db, clock=clock)
    added = store.upsert(Entry("db-choice", "decision", "Use SQLite", rationale="no server"))
    assert added.id is not None
    assert (added.created, added.updated) == (clock.now, clock.now)
    assert store.get("db-choice") == added

    clock.now += 60
    changed = store.upsert(Entry("db-choice", "decision", "Use PostgreSQL", status="active"))
    assert changed.id == added.id
    assert changed.created == added.created and changed.updated == clock.now
    assert (changed.value, changed.rationale) == ("Use PostgreSQL", "")
    assert [e.key for e in store.all()] == ["db-choice"]

    clock.now += 60
    assert store.delete("db-choice") is True
    assert store.get("db-choice") is None
    assert store.all() == []
    assert store.delete("db-choice") is False  # already deleted
    assert store.delete("never-there") is False
    # A soft delete: the row is still there, marked.
    row = project_db.execute(
        "SELECT deleted, value FROM entries WHERE key = 'db-choice'"
    ).fetchone()
    assert row["deleted"] == clock.now and row["value"] == "Use PostgreSQL"
    assert store.search(fts_query(["postgresql"]), 10) == []

    clock.now += 60
    revived = store.upsert(Entry("db-choice", "decision", "Use SQLite again"))
    assert revived.id == added.id
    assert store.get("db-choice") == revived
    assert [e.value for e, _ in store.search(fts_query(["sqlite"]), 10)] == ["Use SQLite again"]


def test_a_pin_survives_an_update_that_does_not_set_it(project_db: sqlite3.Connection) -> None:
    store = EntryStore(project_db)
    store.upsert(Entry("style", "convention", "ruff format", pinned=True))

    kept = store.upsert(Entry("style", "convention", "ruff format, line length 100"))
    assert kept.pinned is True and kept.value == "ruff format, line length 100"

    unpinned = store.upsert(Entry("style", "convention", "black"), keep_pin=False)
    assert unpinned.pinned is False

    assert store.set_pinned("style", True) is True
    assert store.get("style").pinned is True  # type: ignore[union-attr]
    assert store.set_pinned("missing", True) is False


def test_a_deleted_entry_does_not_come_back_pinned(project_db: sqlite3.Connection) -> None:
    store = EntryStore(project_db)
    store.upsert(Entry("style", "convention", "ruff format", pinned=True))
    store.delete("style")
    # Years later the judge adds the same key: the user's old pin is gone with
    # the entry they deleted, so the judge can keep maintaining it.
    revived = store.upsert(Entry("style", "convention", "black", source="judge"))
    assert revived.pinned is False


# ---- core traits ---------------------------------------------------------------------


def test_trait_reinforcement_maths_through_the_store(core_db: sqlite3.Connection) -> None:
    clock = Clock()
    store = TraitStore(core_db, clock=clock)
    default = DIMENSION_STABILITY_DAYS["tools"]
    assert default == 90.0

    first = store.observe("tools", "uses-uv", "Uses uv for Python projects")
    assert first.stability_days == 90.0
    assert first.reinforcements == 0
    assert first.last_seen == first.created == clock.now

    expected = 90.0
    for n in range(1, 7):
        clock.now += 3_600
        trait = store.observe("tools", "uses-uv", f"Uses uv (seen {n})")
        expected = expected * REINFORCE_FACTOR
        assert trait.stability_days == expected  # exact: the same float operations
        assert trait.reinforcements == n
        assert trait.last_seen == clock.now and trait.created == first.created
        assert trait.value == f"Uses uv (seen {n})"
    assert trait.stability_days == pytest.approx(90.0 * 1.1**6)
    assert trait.stability_days < STABILITY_CAP * default

    for _ in range(10):
        trait = store.observe("tools", "uses-uv", "Uses uv")
    assert trait.stability_days == STABILITY_CAP * default == 180.0
    assert trait.reinforcements == 16
    assert len(store.all()) == 1

    other = store.observe("no-such-dimension", "k", "v")  # unknown: the default's default
    assert other.stability_days == DIMENSION_STABILITY_DAYS["preferences"]
    explicit = store.observe("languages", "rust", "Writes Rust", at=123.0)
    assert explicit.stability_days == 120.0 and explicit.last_seen == 123.0


def test_pinned_traits_and_deleted_traits(core_db: sqlite3.Connection) -> None:
    store = TraitStore(core_db)
    pinned = store.observe("communication", "terse", "Wants terse answers", pinned=True)
    assert pinned.pinned is True
    again = store.observe("communication", "terse", "Wants terse answers")
    assert again.pinned is True  # observing without a pin keeps it
    assert again.id is not None and store.set_pinned(again.id, False) is True
    assert store.get("communication", "terse").pinned is False  # type: ignore[union-attr]
    store.set_pinned(again.id, True)

    for _ in range(5):
        store.observe("communication", "terse", "Wants terse answers")
    assert store.delete(again.id) is True
    assert store.get("communication", "terse") is None
    assert store.delete(again.id) is False
    assert store.search(fts_query(["terse"]), 10) == []

    # Seen again after a delete: a fresh trait, not the old reinforced pinned one.
    fresh = store.observe("communication", "terse", "Wants short answers")
    assert fresh.id == again.id
    assert fresh.stability_days == DIMENSION_STABILITY_DAYS["communication"]
    assert fresh.reinforcements == 0
    assert fresh.pinned is False
    assert [t.key for t in store.find("terse")] == ["terse"]


# ---- sessions and transcripts -------------------------------------------------------


def conversation() -> list[Message]:
    call = ToolCall("c1", "shell_exec", {"command": "pytest -q"})
    return [
        Message.user("why does the importer crash on empty files"),
        Message.assistant("Let me run the tests.", [call]),
        Message.tool(ToolResult.of_text(call, "1 failed: ZeroDivisionError in ratio()")),
        Message.assistant("ratio() divides by the line count; guard it."),
        Message.user("ok, add the guard and a regression test"),
    ]


def test_append_assigns_contiguous_seqs_and_keeps_messages_whole(
    project_db: sqlite3.Connection,
) -> None:
    clock = Clock()
    store = SessionStore(project_db, clock=clock)
    info = store.create("s1", model="gpt-test", title="importer")
    assert (info.started, info.updated, info.messages) == (clock.now, clock.now, 0)
    msgs = conversation()
    assert store.append("s1", 1, msgs[:3]) == [0, 1, 2]
    clock.now += 10
    assert store.append("s1", 2, msgs[3:]) == [3, 4]
    assert store.messages("s1") == msgs
    assert store.messages("s1", from_seq=3) == msgs[3:]
    assert store.count("s1") == 5
    info = store.get("s1")
    assert info is not None
    assert (info.turns, info.messages, info.updated, info.model) == (2, 5, clock.now, "gpt-test")
    # Another session numbers from 0 on its own.
    store.create("s2")
    assert store.append("s2", 1, [Message.user("hello")]) == [0]
    assert [s.id for s in store.recent()] == ["s2", "s1"]
    store.create("s3")  # no messages: not listed unless asked
    assert "s3" not in [s.id for s in store.recent()]
    assert "s3" in [s.id for s in store.recent(with_messages=False)]
    assert {s.id for s in store.find("s")} == {"s1", "s2", "s3"}
    assert store.find("s_") == []  # "_" is not a wildcard


def test_the_context_column_holds_the_neighbours_text(project_db: sqlite3.Connection) -> None:
    store = SessionStore(project_db)
    store.create("s1")
    texts = ["alpha question", "bravo answer", "charlie middle", "delta reply", "echo end"]
    for i, t in enumerate(texts):
        store.append("s1", i + 1, [Message.user(t)])
    context = {
        r["seq"]: r["context"]
        for r in project_db.execute("SELECT seq, context FROM messages WHERE session_id = 's1'")
    }
    assert context[2] == "alpha question bravo answer delta reply echo end"
    assert context[0] == "bravo answer charlie middle"
    assert context[4] == "charlie middle delta reply"
    assert "charlie" not in context[2]  # a message is not its own context

    # The question finds its answer: "alpha" is only in seq 0's text, and in the
    # context of seq 1 and 2.
    rows = project_db.execute(
        "SELECT m.seq FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
        "WHERE messages_fts MATCH ? ORDER BY m.seq",
        (fts_query(["alpha"]),),
    ).fetchall()
    assert [r[0] for r in rows] == [0, 1, 2]


def test_live_turn_starts_leave_out_a_turn_cut_by_compaction(
    project_db: sqlite3.Connection,
) -> None:
    store = SessionStore(project_db)
    store.create("s1")
    msgs = conversation()
    store.append("s1", 1, msgs[:4])  # seq 0-3: a turn with a tool call
    store.append("s1", 2, msgs[4:])  # seq 4
    store.append("s1", 3, [Message.user("and the docs"), Message.assistant("Done.")])  # 5-6
    assert store.live_turn_starts("s1") == {1: 0, 2: 4, 3: 5}

    store.record_compaction("s1", 2, "## Summary")  # turn 1's start is summarised
    summary, live = store.live_history("s1")
    assert (summary, live) == ("## Summary", store.messages("s1")[2:])
    assert store.live_turn_starts("s1") == {2: 2, 3: 3}
    assert live[2].text == "ok, add the guard and a regression test"


def test_live_history_after_compaction_and_truncate(project_db: sqlite3.Connection) -> None:
    store = SessionStore(project_db)
    store.create("s1")
    msgs = conversation()
    store.append("s1", 1, msgs)
    assert store.live_history("s1") == (None, msgs)

    store.record_compaction("s1", 3, "## Summary\n- ratio() crash analysed")
    assert store.live_history("s1") == ("## Summary\n- ratio() crash analysed", msgs[3:])
    compacted = [r[0] for r in project_db.execute("SELECT compacted FROM messages ORDER BY seq")]
    assert compacted == [1, 1, 1, 0, 0]
    # Every message is still stored and searchable.
    assert store.count("s1") == 5
    hits = project_db.execute(
        "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH ?",
        (fts_query(["zerodivisionerror"]),),
    ).fetchone()[0]
    assert hits >= 1

    store.record_compaction("s1", 4, "## Summary 2")
    assert store.live_history("s1") == ("## Summary 2", msgs[4:])

    # A rewind to seq 4 keeps both compactions; to seq 2 drops them.
    store.truncate("s1", 4)
    assert store.live_history("s1") == ("## Summary 2", [])
    store.truncate("s1", 2)
    assert store.live_history("s1") == (None, msgs[:2])
    assert store.count("s1") == 2
    assert [r[0] for r in project_db.execute("SELECT compacted FROM messages ORDER BY seq")] == [
        0,
        0,
    ]
    # New messages continue after the cut.
    assert store.append("s1", 2, [Message.user("try again")]) == [2]


def test_truncated_messages_leave_the_search_index(project_db: sqlite3.Connection) -> None:
    store = SessionStore(project_db)
    store.create("s1")
    store.append("s1", 1, [Message.user("keep this kiwi"), Message.assistant("kiwi noted")])
    store.append("s1", 2, [Message.user("undo me zucchini"), Message.assistant("zucchini done")])

    def matches(word: str) -> int:
        return int(
            project_db.execute(
                "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH ?",
                (fts_query([word]),),
            ).fetchone()[0]
        )

    assert matches("zucchini") == 4  # two texts, and the context of the two before
    store.truncate("s1", 2)
    assert matches("zucchini") == 0
    assert matches("kiwi") == 2
    project_db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


def test_deleting_a_session_deletes_its_transcript(project_db: sqlite3.Connection) -> None:
    store = SessionStore(project_db)
    store.create("s1")
    store.append("s1", 1, conversation())
    store.record_compaction("s1", 2, "sum")
    store.delete("s1")
    assert store.get("s1") is None
    assert project_db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    assert project_db.execute("SELECT COUNT(*) FROM compactions").fetchone()[0] == 0
    project_db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


# ---- summaries -----------------------------------------------------------------------


def summary(session: str, day: int, title: str) -> Summary:
    start = 1_700_000_000.0 + day * 86_400
    return Summary(session, start, start + 3_600, title, f"## Topics\n- {title}")


def test_adding_a_summary_replaces_the_sessions_level_zero_summary(
    project_db: sqlite3.Connection,
) -> None:
    store = SummaryStore(project_db)
    store.add(summary("s1", 1, "first take"))
    store.add(summary("s2", 2, "other session"))
    second = store.add(summary("s1", 3, "resumed and ended again"))
    assert [s.title for s in store.current()] == ["resumed and ended again", "other session"]
    assert store.for_session("s1") == second
    assert [s.title for s, _ in store.search(fts_query(["take"]), 10)] == []
    assert [s.title for s, _ in store.search(fts_query(["resumed"]), 10)] == [
        "resumed and ended again"
    ]
    assert [s.title for s in store.current(limit=1)] == ["resumed and ended again"]


def test_consolidate_folds_summaries_into_a_coarser_one(project_db: sqlite3.Connection) -> None:
    store = SummaryStore(project_db)
    parts = [store.add(summary(f"s{i}", i, f"session {i} kiwi")) for i in range(1, 4)]
    newest = store.add(summary("s9", 9, "latest work"))
    merged = store.consolidate(
        parts,
        Summary(
            "*", parts[0].started, parts[-1].ended, "three sessions", "- kiwi",
            level=1, covers=["s1", "s2", "s3"],
        ),
    )  # fmt: skip
    assert merged.id is not None
    assert [s.title for s in store.current()] == ["latest work", "three sessions"]
    assert store.current()[1].covers == ["s1", "s2", "s3"]
    assert store.current()[1].level == 1
    consolidated = project_db.execute(
        "SELECT consolidated_into FROM summaries WHERE session_id IN ('s1', 's2', 's3')"
    ).fetchall()
    assert [r[0] for r in consolidated] == [merged.id] * 3
    # The originals are still searchable.
    assert {s.session_id for s, _ in store.search(fts_query(["kiwi"]), 10)} == {
        "s1", "s2", "s3", "*",
    }  # fmt: skip
    # A consolidated session summarised again: a new level-0 summary, the
    # consolidated original stays where it is.
    store.add(summary("s2", 10, "s2 resumed"))
    assert [s.title for s in store.current()] == ["s2 resumed", "latest work", "three sessions"]
    assert project_db.execute("SELECT COUNT(*) FROM summaries").fetchone()[0] == 6
    assert newest.id is not None


# ---- the job queue -------------------------------------------------------------------


def state(conn: sqlite3.Connection, job_id: int) -> tuple[str, int, str | None]:
    row = conn.execute("SELECT state, attempts, error FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row[0], row[1], row[2]


def test_enqueue_deduplicates_and_lease_takes_the_oldest(project_db: sqlite3.Connection) -> None:
    jobs = JobQueue(project_db)
    jobs.enqueue("summarize", "s1")
    jobs.enqueue("summarize", "s1")
    jobs.enqueue("extract", "s1")
    jobs.enqueue("extract", "s1", {"from_seq": 40})
    jobs.enqueue("extract", "s1", {"from_seq": 40})
    assert jobs.counts() == {"pending": 3}

    first = jobs.lease()
    assert first is not None
    assert (first.kind, first.session_id, first.payload, first.attempts) == (
        "summarize", "s1", {}, 1,
    )  # fmt: skip
    second = jobs.lease()
    third = jobs.lease()
    assert second is not None and third is not None
    assert (second.kind, second.payload) == ("extract", {})
    assert (third.kind, third.payload) == ("extract", {"from_seq": 40})
    assert jobs.lease() is None  # all leased
    assert jobs.counts() == {"running": 3}

    # Queued again while running: still one job, still running.
    jobs.enqueue("summarize", "s1")
    assert jobs.counts() == {"running": 3}
    jobs.done(first)
    assert jobs.counts() == {"running": 2, "done": 1}
    # Queued again after it was done: a new request with fresh attempts.
    jobs.enqueue("summarize", "s1")
    again = jobs.lease()
    assert again is not None and again.id == first.id and again.attempts == 1


def test_an_expired_lease_is_leased_again(project_db: sqlite3.Connection) -> None:
    jobs = JobQueue(project_db)
    jobs.enqueue("summarize", "s1")
    crashed = jobs.lease(lease_s=-1.0)  # its runner died: the lease is already over
    assert crashed is not None
    taken_over = jobs.lease()
    assert taken_over is not None
    assert taken_over.id == crashed.id and taken_over.attempts == 2
    assert jobs.lease() is None  # a live lease is not taken


def test_failed_jobs_are_retried_until_max_attempts_then_failed(
    project_db: sqlite3.Connection,
) -> None:
    jobs = JobQueue(project_db)
    jobs.enqueue("extract", "s1")
    for attempt in range(1, MAX_ATTEMPTS):
        job = jobs.lease()
        assert job is not None and job.attempts == attempt
        assert jobs.failed(job, f"bad JSON #{attempt}") is True
        assert state(project_db, job.id) == ("pending", attempt, f"bad JSON #{attempt}")
    job = jobs.lease()
    assert job is not None and job.attempts == MAX_ATTEMPTS
    assert jobs.failed(job, "bad JSON, last") is False
    assert state(project_db, job.id) == ("failed", MAX_ATTEMPTS, "bad JSON, last")
    assert jobs.lease() is None
    assert jobs.failures() == [("extract", "s1", "bad JSON, last")]
    assert jobs.counts() == {"failed": 1}

    # Asked for again (the session was resumed and ended): a fresh set of attempts.
    jobs.enqueue("extract", "s1")
    job = jobs.lease()
    assert job is not None and job.attempts == 1
    jobs.done(job)
    assert state(project_db, job.id) == ("done", 1, None)
    assert jobs.failures() == []


# ---- transactions ----------------------------------------------------------------


def test_a_failed_commit_leaves_no_transaction_open(tmp_path: Path) -> None:
    def m900_deferred(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.execute(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER "
            "REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
        )

    path = tmp_path / "memory.db"
    conn = connect(path, [*PROJECT_MIGRATIONS, m900_deferred])
    # A deferred foreign key is checked at COMMIT: the COMMIT fails.
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), transaction(conn):
        conn.execute("INSERT INTO child (parent) VALUES (42)")
    assert not conn.in_transaction
    # Later writes are committed for real, not swallowed by the dead transaction.
    EntryStore(conn).upsert(Entry("after", "fact", "committed"))
    other = sqlite3.connect(path)
    assert other.execute("SELECT key FROM entries").fetchall() == [("after",)]
    assert other.execute("SELECT COUNT(*) FROM child").fetchone()[0] == 0
    other.close()
    conn.close()


def test_an_error_that_rolled_back_by_itself_is_the_one_raised(tmp_path: Path) -> None:
    def m900_guarded(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE guarded (x INTEGER)")
        conn.execute(
            "CREATE TRIGGER no_negatives BEFORE INSERT ON guarded WHEN new.x < 0 "
            "BEGIN SELECT RAISE(ROLLBACK, 'negative x'); END"
        )

    conn = connect(tmp_path / "memory.db", [*PROJECT_MIGRATIONS, m900_guarded])
    with pytest.raises(sqlite3.IntegrityError, match="negative x"), transaction(conn):
        conn.execute("INSERT INTO guarded VALUES (1)")
        conn.execute("INSERT INTO guarded VALUES (-1)")
    assert not conn.in_transaction
    assert conn.execute("SELECT COUNT(*) FROM guarded").fetchone()[0] == 0
    with transaction(conn):
        conn.execute("INSERT INTO guarded VALUES (2)")
    assert conn.execute("SELECT x FROM guarded").fetchall()[0][0] == 2
    conn.close()


def test_nested_transactions_commit_once_with_the_outer_one(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    conn = connect(path, PROJECT_MIGRATIONS)
    other = sqlite3.connect(path)
    entries = EntryStore(conn)
    with pytest.raises(RuntimeError), transaction(conn):
        entries.upsert(Entry("one", "fact", "inner write"))  # its own transaction, nested
        assert other.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 0
        raise RuntimeError("the outer one fails")
    assert entries.all() == []  # rolled back with the outer one
    with transaction(conn):
        entries.upsert(Entry("two", "fact", "inner write"))
    assert other.execute("SELECT key FROM entries").fetchall() == [("two",)]
    other.close()
    conn.close()


def test_a_released_job_is_available_again_without_losing_an_attempt(
    project_db: sqlite3.Connection,
) -> None:
    jobs = JobQueue(project_db)
    jobs.enqueue("summarize", "s1")
    job = jobs.lease()
    assert job is not None and job.attempts == 1
    jobs.release(job)
    assert state(project_db, job.id) == ("pending", 0, None)
    again = jobs.lease()
    assert again is not None and again.id == job.id and again.attempts == 1
    jobs.done(again)
    jobs.release(again)  # too late: a finished job stays finished
    assert state(project_db, job.id)[0] == "done"


def test_threads_sharing_a_connection_get_whole_transactions(tmp_path: Path) -> None:
    # The embeddings job runs in a worker thread on the memory's connection while
    # the agent keeps recording messages on it: one thread's transaction must not
    # swallow, commit or roll back the other's.
    def m900_pairs(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE pairs (thread INTEGER, i INTEGER, half TEXT)")

    conn = connect(tmp_path / "memory.db", [*PROJECT_MIGRATIONS, m900_pairs])
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(thread: int) -> None:
        start.wait()
        for i in range(2_000):
            try:
                with transaction(conn):
                    conn.execute("INSERT INTO pairs VALUES (?, ?, 'a')", (thread, i))
                    if i % 5 == 0:
                        raise KeyError(i)  # this one is rolled back, whole
                    conn.execute("INSERT INTO pairs VALUES (?, ?, 'b')", (thread, i))
            except KeyError:
                pass
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert not conn.in_transaction
    for thread in range(2):
        rows = conn.execute(
            "SELECT i, group_concat(half, '') FROM (SELECT * FROM pairs WHERE thread = ? "
            "ORDER BY half) GROUP BY i ORDER BY i",
            (thread,),
        ).fetchall()
        assert [(r[0], r[1]) for r in rows] == [(i, "ab") for i in range(2_000) if i % 5]
    conn.close()
