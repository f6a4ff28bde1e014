"""A process killed with SIGKILL in the middle of a big write: the database
reopens intact, with exactly the transactions that committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from mnemocode.core.types import Message
from mnemocode.memory.db import connect
from mnemocode.memory.migrations import PROJECT_MIGRATIONS
from mnemocode.memory.search import MemorySearch
from mnemocode.memory.sessions import SessionStore

BATCH = 500

# Writes transactions of BATCH messages, printing the committed total after each
# COMMIT. With "pause" it stops inside the transaction after PAUSE_AFTER commits
# (its pages already spilled to the WAL: a tiny page cache) and waits on stdin,
# so the parent kills it mid-transaction for certain.
CHILD = r"""
import sys
from pathlib import Path

from mnemocode.core.types import Message
from mnemocode.memory.db import connect, transaction
from mnemocode.memory.migrations import PROJECT_MIGRATIONS
from mnemocode.memory.sessions import SessionStore

path, batch, mode, pause_after = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
conn = connect(path, PROJECT_MIGRATIONS)
conn.execute("PRAGMA cache_size = 8")  # spill dirty pages to the WAL before COMMIT
store = SessionStore(conn)
store.create("big")
committed = store.count("big")
while True:
    n = committed // batch
    messages = [
        Message.user(f"transaction {n} message {i} about the flaky importer" + " padding" * 20)
        for i in range(batch)
    ]
    with transaction(conn):
        store.append("big", n + 1, messages[: batch // 2])
        if mode == "pause" and n == pause_after:
            print(f"inside {n}", flush=True)
            sys.stdin.readline()  # never answered: killed here
        store.append("big", n + 1, messages[batch // 2 :])
    committed += batch
    print(committed, flush=True)
"""


def run_child(tmp_path: Path, db: Path, mode: str, pause_after: int) -> subprocess.Popen[str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(script), str(db), str(BATCH), mode, str(pause_after)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def check_database(db: Path, at_least: int, *, write_after: bool = False) -> int:
    """Reopen and verify; returns the message count."""
    conn = connect(db, PROJECT_MIGRATIONS)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        store = SessionStore(conn)
        count = store.count("big")
        assert count % BATCH == 0, f"{count} messages: a partial transaction survived"
        assert count >= at_least
        seqs = [r[0] for r in conn.execute("SELECT seq FROM messages ORDER BY seq")]
        assert seqs == list(range(count))
        indexed = conn.execute("SELECT COUNT(*) FROM messages_fts").fetchone()[0]
        assert indexed == count

        hits = MemorySearch(conn).search("flaky importer transaction", limit=5)
        assert len(hits) == 5 and all("flaky importer" in h.text for h in hits)
        last = count // BATCH - 1
        hits = MemorySearch(conn).search(f"transaction {last} message {BATCH - 1}", limit=20)
        assert f"user: transaction {last} message {BATCH - 1} about" in " ".join(
            h.text for h in hits
        )

        if write_after:  # it takes new writes where it left off
            assert store.append("big", 999, [Message.user("after the crash")]) == [count]
        return count
    finally:
        conn.close()


def test_sigkill_inside_a_transaction_keeps_exactly_the_committed_ones(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    proc = run_child(tmp_path, db, "pause", pause_after=3)
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip() for _ in range(4)]
    assert lines == ["500", "1000", "1500", "inside 3"]
    # Half of the fourth transaction is written (and spilled to the WAL), not committed.
    assert (tmp_path / "memory.db-wal").stat().st_size > 0
    kill(proc)

    assert check_database(db, at_least=1500, write_after=True) == 1500


def test_sigkill_at_an_arbitrary_point_of_a_write_loop(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    proc = run_child(tmp_path, db, "run", pause_after=-1)
    assert proc.stdout is not None
    last = 0
    while last < 2_000:  # kill as soon as it has committed four; it is writing the fifth
        line = proc.stdout.readline().strip()
        assert line, proc.stderr.read() if proc.stderr else "the child stopped"
        last = int(line)
    kill(proc)

    count = check_database(db, at_least=last)
    assert count in (last, last + BATCH)  # the fifth committed or not, never half

    # Killed again, after the recovery: still consistent.
    proc = run_child(tmp_path, db, "run", pause_after=-1)
    assert proc.stdout is not None
    reported = int(proc.stdout.readline().strip())
    kill(proc)
    check_database(db, at_least=reported, write_after=True)
