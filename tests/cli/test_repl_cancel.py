"""Cancelling a turn from the keyboard: the conversation stays consistent and a
running command's whole process group is killed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from mnemocode.llm.testing import Turn, call, calls, text, tool_call
from tests.cli.repl_harness import repl_session, settings, unanswered_calls


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


async def test_ctrl_c_during_model_delay(tmp_path: Path) -> None:
    script = [Turn(text="too late", delay=30), text("fresh answer")]
    async with repl_session(tmp_path, script) as s:
        s.send("slow question\n")
        await s.until(lambda: len(s.model.requests) == 1, "the model call")
        s.send("\x03")
        await s.wait_for("Interrupted.")
        assert not s.task.done()  # the REPL goes on
        s.send("next\n")
        await s.wait_for("fresh answer")
    assert "too late" not in s.output
    messages = s.model.requests[1].messages
    assert [m.role for m in messages] == ["user", "assistant", "user"]
    assert unanswered_calls(messages) == []


async def test_esc_cancels_too(tmp_path: Path) -> None:
    async with repl_session(tmp_path, [Turn(text="never", delay=30)]) as s:
        s.send("slow\n")
        await s.until(lambda: len(s.model.requests) == 1, "the model call")
        s.send("\x1b")
        await s.wait_for("Interrupted.")
    assert "never" not in s.output


async def test_ctrl_c_kills_running_command_and_answers_its_call(tmp_path: Path) -> None:
    command = "sleep 30 & echo $! > child.pid; wait"
    script = [
        calls(call("shell_exec", command=command), call("file_read", path="child.pid")),
        text("recovered"),
    ]
    async with repl_session(tmp_path, script, config=settings("bypass")) as s:
        s.send("run the slow thing\n")
        pid_file = s.work / "child.pid"
        await s.until(
            lambda: pid_file.exists() and pid_file.read_text().strip() != "", "the command"
        )
        child = int(pid_file.read_text())
        assert _alive(child)
        s.send("\x03")
        await s.wait_for("Interrupted.")
        await s.until(lambda: not _alive(child), "the command's process group to die")
        assert unanswered_calls(s.app.agent.history) == []
        s.send("go on\n")
        await s.wait_for("recovered")
    messages = s.model.requests[1].messages
    assert unanswered_calls(messages) == []
    results = [m.text for m in messages if m.role == "tool"]
    assert len(results) == 2  # the shell call and the never-run file_read
    assert any("cancelled by the user" in r for r in results)


async def test_typed_ahead_during_a_turn_goes_to_the_next_prompt(tmp_path: Path) -> None:
    async with repl_session(tmp_path, [Turn(text="first", delay=0.3), text("second")]) as s:
        s.send("one\n")
        await s.until(lambda: len(s.model.requests) == 1, "the model call")
        s.send("two\n")  # typed while the model works
        await s.wait_for("second")
    assert s.model.requests[1].messages[-1].text == "two"


async def test_sigint_cancels_the_turn_and_is_restored_after(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGINT)
    async with repl_session(tmp_path, [Turn(text="never", delay=30), text("ok")]) as s:
        s.send("slow\n")
        await s.until(lambda: len(s.model.requests) == 1, "the model call")
        os.kill(os.getpid(), signal.SIGINT)
        await s.wait_for("Interrupted.")
        s.send("next\n")
        await s.wait_for("ok")
        s.send("/quit\n")
        await s.finish()
    assert signal.getsignal(signal.SIGINT) is before
    assert unanswered_calls(s.model.requests[1].messages) == []


async def test_ctrl_c_at_the_approval_question_cancels_the_turn(tmp_path: Path) -> None:
    script = [tool_call("file_write", path="x.txt", content="x"), text("carry on")]
    async with repl_session(tmp_path, script) as s:
        s.send("write it\n")
        await s.wait_for("? write x.txt")
        s.send("\x03")
        await s.wait_for("Interrupted.")
        assert "denied (interrupted)" in s.output
        assert unanswered_calls(s.app.agent.history) == []
        s.send("continue\n")
        await s.wait_for("carry on")
    assert not (s.work / "x.txt").exists()
    assert unanswered_calls(s.model.requests[1].messages) == []


async def test_interrupted_command_stays_on_screen_and_the_model_hears_what_it_printed(
    tmp_path: Path,
) -> None:
    command = "echo first-part; echo second-part; sleep 30"
    script = [tool_call("shell_exec", command=command), text("seen")]
    async with repl_session(tmp_path, script, config=settings("bypass")) as s:
        s.send("run it\n")
        await s.until(lambda: "second-part" in s.repl.renderer.running_tail(), "output")
        s.send("\x03")
        await s.wait_for("Interrupted.")
        s.send("go on\n")
        await s.wait_for("seen")
    screen = s.output
    assert f"shell_exec  {command}" in screen
    assert "interrupted after" in screen and "second-part" in screen
    told = [m.text for m in s.model.requests[1].messages if m.role == "tool"]
    assert len(told) == 1 and "Not run" not in told[0]
    assert told[0].startswith("Interrupted by the user after ")
    assert "first-part\nsecond-part" in told[0]


async def test_interrupted_user_command_stays_on_screen_and_is_told(tmp_path: Path) -> None:
    async with repl_session(tmp_path, [text("noted")], config=settings("bypass")) as s:
        s.send("!echo partial-line; sleep 30\n")
        await s.until(lambda: "partial-line" in s.repl.renderer.running_tail(), "output")
        s.send("\x03")
        await s.wait_for("Interrupted.")
        s.send("what happened?\n")
        await s.wait_for("noted")
    assert "shell_exec  echo partial-line; sleep 30" in s.output
    assert "interrupted after" in s.output
    sent = s.model.requests[0].messages[-1].text
    assert "interrupted it after" in sent and "partial-line" in sent
