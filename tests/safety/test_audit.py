"""The audit log on a real file: appends, torn records, concurrent writers, queries."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mnemocode.safety.audit import RESULT_CHARS, AuditEntry, AuditLog, summarize_result
from mnemocode.safety.secrets import Redactor

KEY = "sk-proj-Zq8Rk2LmN4pQ7sT1uV3wX5yZ9aB0cD6eF"
REDACTOR = Redactor({"OPENAI_API_KEY": KEY, "DB_PASSWORD": "hunter2-is-long"})


def entry(**changes: object) -> AuditEntry:
    values: dict[str, object] = {
        "session": "s1",
        "turn": 1,
        "tool": "shell_exec",
        "arguments": {"command": "ls"},
        "decision": "allow",
        "outcome": "approved",
        "decided_by": "shell:read-only",
        "reason": "a read-only command",
        "result": "a.txt",
    }
    values.update(changes)
    return AuditEntry(**values)  # type: ignore[arg-type]


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "projects" / "demo" / "audit.jsonl", redactor=REDACTOR)


def test_records_are_json_lines_in_a_private_file(log: AuditLog) -> None:
    before = datetime.now(UTC)
    log.record(entry(checkpoint="ckpt-1"))
    log.record(
        entry(turn=2, tool="file_write", decision="ask", outcome="denied", decided_by="user")
    )
    raw = log.path.read_bytes()
    lines = raw.decode().splitlines()
    assert len(lines) == 2 and raw.endswith(b"\n")
    first = json.loads(lines[0])
    assert next(iter(first)) == "time"
    assert first["checkpoint"] == "ckpt-1" and first["decided_by"] == "shell:read-only"
    stamp = datetime.fromisoformat(first["time"])
    assert stamp.utcoffset() == timedelta(0) and before <= stamp <= datetime.now(UTC)
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    read = log.query()
    assert [(e.turn, e.tool, e.outcome) for e in read] == [
        (1, "shell_exec", "approved"),
        (2, "file_write", "denied"),
    ]
    assert read[0].checkpoint == "ckpt-1" and read[1].checkpoint is None


def test_secrets_never_reach_the_file(log: AuditLog) -> None:
    log.record(
        entry(
            arguments={
                "command": f"curl -H 'Authorization: Bearer {KEY}' https://x",
                "password": "swordfish-1",
                "env": {"DB": "postgres://app:hunter2-is-long@db/app"},
            },
            reason=f"asks because of {KEY}",
            result=f"token {KEY}\nsecond line",
        )
    )
    text = log.path.read_text()
    assert KEY not in text and "hunter2-is-long" not in text and "swordfish-1" not in text
    (got,) = log.query()
    assert got.arguments["password"] == "[REDACTED:password]"
    assert "[REDACTED:" in got.arguments["command"] and "[REDACTED:" in got.reason
    assert got.result == "token [REDACTED:OPENAI_API_KEY]"  # first line only


def test_result_summary_is_the_first_line_capped() -> None:
    assert summarize_result("\n\n  first line  \nsecond") == "first line"
    long = summarize_result("x" * 1000)
    assert len(long) == RESULT_CHARS and long.endswith("…")
    assert summarize_result("") == ""


def test_query_filters(log: AuditLog) -> None:
    start = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    plan = [
        ("s1", "shell_exec", "allow", "approved"),
        ("s1", "file_write", "ask", "approved"),
        ("s2", "shell_exec", "ask", "denied"),
        ("s2", "web_fetch", "deny", "denied"),
        ("s1", "shell_exec", "deny", "denied"),
    ]
    for minute, (session, tool, decision, outcome) in enumerate(plan):
        when = (start + timedelta(minutes=minute)).isoformat()
        log.record(entry(session=session, tool=tool, decision=decision, outcome=outcome, time=when))

    def turns(found: list[AuditEntry]) -> list[str]:
        return [f"{e.session}:{e.tool}:{e.decision}" for e in found]

    assert len(log.query()) == 5
    assert turns(log.query(session="s2")) == ["s2:shell_exec:ask", "s2:web_fetch:deny"]
    assert turns(log.query(tool="shell_exec", session="s1")) == [
        "s1:shell_exec:allow",
        "s1:shell_exec:deny",
    ]
    assert turns(log.query(decision="ask")) == ["s1:file_write:ask", "s2:shell_exec:ask"]
    assert len(log.query(decision="denied")) == 3  # outcome matches too
    since = start + timedelta(minutes=3)
    assert turns(log.query(since=since)) == ["s2:web_fetch:deny", "s1:shell_exec:deny"]
    naive = since.replace(tzinfo=None)  # naive means UTC
    assert turns(log.query(since=naive)) == turns(log.query(since=since))
    assert turns(log.query(limit=2)) == ["s2:web_fetch:deny", "s1:shell_exec:deny"]
    assert turns(log.query(session="s1", limit=1)) == ["s1:shell_exec:deny"]
    assert log.query(limit=0) == []
    assert log.query(tool="nothing") == []


def test_a_missing_log_reads_as_empty(tmp_path: Path) -> None:
    assert AuditLog(tmp_path / "none.jsonl", redactor=REDACTOR).query() == []


def test_a_torn_last_record_is_skipped_and_spoils_nothing_after_it(log: AuditLog) -> None:
    log.record(entry(turn=1))
    log.record(entry(turn=2))
    # The process was killed in the middle of writing record 2.
    size = log.path.stat().st_size
    os.truncate(log.path, size - 25)
    assert [e.turn for e in log.query()] == [1]
    log.record(entry(turn=3))
    log.record(entry(turn=4))
    assert [e.turn for e in log.query()] == [1, 3, 4]
    lines = log.path.read_bytes().split(b"\n")
    assert len(lines) == 5 and lines[-1] == b""  # 1, torn 2, 3, 4 and the final newline


def test_damaged_and_foreign_lines_are_tolerated(log: AuditLog) -> None:
    good = entry(turn=7).to_json()
    newer = json.loads(entry(turn=8).to_json())
    newer["added_in_a_later_version"] = True
    log.path.parent.mkdir(parents=True)
    log.path.write_text(
        "\n".join(
            [
                "",
                "not json at all",
                "[1, 2, 3]",
                '{"time": "yesterday", "session": "s", "turn": 1}',
                json.dumps({**json.loads(good), "turn": "seven"}),
                json.dumps({**json.loads(good), "time": "not a time"}),
                '{"time":"2025-01-01T00:00:00+00:00","sess' + good,  # torn, then glued
                json.dumps(newer),
                "\x00\x00\x00",
            ]
        )
        + "\n"
    )
    assert [e.turn for e in log.query()] == [7, 8]


def test_fsync_flag(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl", fsync=True, redactor=REDACTOR)
    log.record(entry())
    assert len(log.query()) == 1


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mnemocode.safety.audit import AuditEntry, AuditLog
    from mnemocode.safety.secrets import Redactor

    path, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    log = AuditLog(path, redactor=Redactor({}))
    sys.stdin.readline()  # start together
    for n in range(count):
        log.record(AuditEntry(
            session=name, turn=n, tool="file_write",
            arguments={"path": f"{name}-{n}.txt", "content": name * 4000},
            decision="allow", outcome="approved", decided_by="auto:workdir",
        ))
    """
)


RAW_WRITER = textwrap.dedent(
    """
    import json, os, sys
    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.stdin.readline()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    for n in range(count):  # a tight loop, to land between two writes if there were two
        record = {
            "time": "2025-01-01T00:00:00+00:00", "session": name, "turn": n,
            "tool": "x", "arguments": {"content": name * 4000}, "decision": "allow",
            "outcome": "approved", "decided_by": "raw",
        }
        os.write(fd, (json.dumps(record) + "\\n").encode())
    """
)


def _run_writers(path: Path, writers: dict[str, tuple[str, int]]) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), name, str(count)],
            stdin=subprocess.PIPE,
            text=True,
        )
        for name, (script, count) in writers.items()
    ]
    for proc in procs:  # all of them have started Python before any writes
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.close()
    for proc in procs:
        assert proc.wait(timeout=120) == 0


def _check_all_there(path: Path, counts: dict[str, int]) -> None:
    found = AuditLog(path, redactor=Redactor({})).query()
    for name, count in counts.items():
        mine = [e for e in found if e.session == name]
        assert [e.turn for e in mine] == list(range(count))  # in order, none missing
        assert all(e.arguments["content"] == name * 4000 for e in mine)


def test_concurrent_writers_in_separate_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    names, count = ["a", "b", "c", "d"], 250
    _run_writers(path, {name: (WRITER, count) for name in names})
    lines = path.read_bytes().split(b"\n")
    # Exactly one line per record: none interleaved, no stray blank lines.
    assert lines[-1] == b"" and len(lines) == len(names) * count + 1
    for raw in lines[:-1]:
        json.loads(raw)
    _check_all_there(path, dict.fromkeys(names, count))


def test_records_stay_whole_next_to_a_writer_that_does_not_lock(tmp_path: Path) -> None:
    # Another program appending to the log without the lock (each line in one
    # write) cannot split our records: each is a single O_APPEND write.
    path = tmp_path / "audit.jsonl"
    counts = {"a": 300, "b": 300, "raw": 3000}
    procs = {"a": WRITER, "b": WRITER, "raw": RAW_WRITER}
    _run_writers(path, {name: (procs[name], counts[name]) for name in counts})
    lines = [raw for raw in path.read_bytes().split(b"\n") if raw]
    assert len(lines) == sum(counts.values())
    for raw in lines:
        json.loads(raw)
    _check_all_there(path, counts)


def test_now_checks_decision_and_one_line_reads_well(log: AuditLog) -> None:
    made = AuditEntry.now(
        session="s9",
        turn=3,
        tool="shell_exec",
        arguments={"command": "rm -rf build\n  && make"},
        decision="ask",
        outcome="approved",
        decided_by="user",
        checkpoint="t3",
    )
    assert abs(made.when - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(ValueError, match="decision/outcome"):
        AuditEntry.now(
            session="s",
            turn=1,
            tool="x",
            arguments={},
            decision="maybe",
            outcome="approved",
            decided_by="user",
        )
    log.record(made)
    (got,) = log.query()
    assert got.to_dict() == made.to_dict() and next(iter(got.to_dict())) == "time"
    line = got.one_line()
    assert line.startswith(made.when.strftime("%Y-%m-%d %H:%M:%S"))
    assert line.endswith(
        "turn 3  shell_exec  ask/approved by user  rm -rf build && make  [checkpoint t3]"
    )
    other = entry(tool="web_fetch", arguments={"url": "https://x/" + "y" * 200}).one_line()
    assert '{"url": "https://x/yyy' in other and other.endswith("…")
