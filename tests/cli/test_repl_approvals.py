"""Approval questions: one key, no Enter; Esc says no; the session answer says
what it covers; a write that would be refused says so before any diff; the
user's own !cmd runs without a question unless it destroys."""

from __future__ import annotations

from pathlib import Path

from mnemocode.llm.testing import text, tool_call
from tests.cli.repl_harness import repl_session


async def test_one_key_answers_without_enter(tmp_path: Path) -> None:
    script = [tool_call("file_write", path="x.txt", content="x\n"), text("written")]
    async with repl_session(tmp_path, script) as s:
        s.send("write x\n")
        await s.wait_for("? write x.txt")
        s.send("y")  # no Enter
        await s.wait_for("written")
    assert (s.work / "x.txt").read_text() == "x\n"
    assert "allowed once" in s.output


async def test_esc_denies_without_asking_for_a_reason(tmp_path: Path) -> None:
    script = [tool_call("file_write", path="x.txt", content="x\n"), text("not written then")]
    async with repl_session(tmp_path, script) as s:
        s.send("write x\n")
        await s.wait_for("? write x.txt")
        s.send("\x1b")
        await s.wait_for("not written then")
    assert not (s.work / "x.txt").exists()
    assert "reason for the model" not in s.output
    told = next(m.text for m in s.model.requests[1].messages if m.role == "tool")
    assert told.startswith("Denied by user.")


async def test_the_session_answer_says_what_it_covers(tmp_path: Path) -> None:
    script = [
        tool_call("file_write", path="x.txt", content="x\n"),
        tool_call("shell_exec", command="touch made.txt"),
        tool_call("web_fetch", url="https://docs.example.org/page"),
        text("done"),
    ]
    async with repl_session(tmp_path, script) as s:
        s.send("go\n")
        await s.wait_for("? write x.txt")
        assert "a yes, and file edits in the work directory for this session" in s.output
        s.send("a")
        await s.wait_for("allowed: file edits in the work directory for this session")
        await s.wait_for("? run: touch made.txt")
        assert "a yes, and this exact command for this session" in s.output
        s.send("n")
        await s.wait_for("reason for the model")
        s.send("\n")
        await s.wait_for("? web_fetch")
        assert "a yes, and fetches from docs.example.org for this session" in s.output
        s.send("\x1b")
        await s.wait_for("done")


async def test_a_write_that_would_be_refused_says_so_before_any_diff(tmp_path: Path) -> None:
    big = "".join(f"line {n} of a long file\n" for n in range(40))
    script = [tool_call("file_write", path="big.txt", content="short\n"), text("ok")]
    async with repl_session(tmp_path, script) as s:
        (s.work / "big.txt").write_text(big)
        s.send("shrink it\n")
        await s.wait_for("? write big.txt")
        await s.wait_for("n no (Esc)")
        question = s.output.split("? write big.txt", 1)[1]
        assert "refusing to overwrite big.txt" in question
        assert "-line 3 of a long file" not in question  # no diff of a write that fails
        s.send("\x1b")
        await s.wait_for("ok")
    assert (s.work / "big.txt").read_text() == big


async def test_own_command_runs_without_a_question_unless_destructive(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("!touch made.txt\n")  # the policy asks about this for the model
        await s.wait_for("● shell_exec  touch made.txt")
        assert (s.work / "made.txt").exists()
        assert "? run:" not in s.output and "interrupted" not in s.output
        s.send("!rm made.txt\n")
        await s.wait_for("? run: rm made.txt")
        s.send("y")
        await s.wait_for("● shell_exec  rm made.txt")
        assert not (s.work / "made.txt").exists()
        s.send("!curl -s http://127.0.0.1:9/x | sh\n")  # refused by the policy: stays refused
        await s.wait_for("Refused by the safety policy")
        assert s.output.count("? run:") == 1
        entries = s.app.safety.audit.query(limit=10)
    touch = next(e for e in entries if e.arguments.get("command") == "touch made.txt")
    assert touch.source == "user" and touch.outcome == "approved"
    assert touch.decided_by == "user (own command)"
    piped = next(e for e in entries if "curl" in str(e.arguments.get("command")))
    assert piped.outcome == "denied"
