"""The REPL end to end: prompts, approvals, attachments, ``!cmd``, multi-line input."""

from __future__ import annotations

import base64
from pathlib import Path

from mnemocode.config.settings import ModelConfig
from mnemocode.core.types import ImagePart
from mnemocode.llm.testing import call, calls, text, tool_call
from tests.cli.repl_harness import repl_session, settings, unanswered_calls

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def test_prompt_tool_call_approved_then_answer(tmp_path: Path) -> None:
    script = [
        tool_call("file_write", path="hello.txt", content="hi\n"),
        text("I created **hello.txt**."),
    ]
    async with repl_session(tmp_path, script) as s:
        s.send("create hello.txt\n")
        await s.wait_for("? write hello.txt")
        await s.wait_for("+hi")  # the preview diff comes with the question
        assert not (s.work / "hello.txt").exists()  # asked before anything ran
        s.send("y\n")
        await s.wait_for("I created hello.txt.")
        s.send("/quit\n")
        assert await s.finish() == 0
    assert (s.work / "hello.txt").read_text() == "hi\n"
    out = s.output
    assert out.index("+++ b/hello.txt") < out.index("● file_write  hello.txt")
    assert "⎿ Created hello.txt" in out
    first = s.model.requests[0]
    assert first.messages[-1].text == "create hello.txt"
    assert {t.name for t in first.tools} >= {"file_write", "shell_exec"}
    assert s.app.agent.turns == 1
    assert (s.home / "history").read_text().count("create hello.txt") == 1


async def test_denied_with_reason_reaches_the_model(tmp_path: Path) -> None:
    script = [
        tool_call("file_write", path="x.txt", content="x"),
        text("Understood, I will not write it."),
    ]
    async with repl_session(tmp_path, script) as s:
        s.send("write x.txt\n")
        await s.wait_for("? write x.txt")
        s.send("n")  # one key, no Enter
        await s.wait_for("reason for the model")
        s.send("use y.txt instead\n")
        await s.wait_for("Understood, I will not write it.")
    assert not (s.work / "x.txt").exists()
    second = s.model.requests[1].messages
    tool_message = next(m for m in second if m.role == "tool")
    assert "Denied by user: use y.txt instead" in tool_message.text
    assert "⎿ Denied by user: use y.txt instead" in s.output
    assert unanswered_calls(second) == []


async def test_allow_for_session_asks_once(tmp_path: Path) -> None:
    script = [
        calls(call("file_write", path="a.txt", content="a")),
        calls(call("file_write", path="b.txt", content="b")),
        text("both written"),
    ]
    async with repl_session(tmp_path, script) as s:
        s.send("write two files\n")
        await s.wait_for("? write a.txt")
        s.send("a\n")
        await s.wait_for("both written")
    assert "? write b.txt" not in s.output
    assert (s.work / "b.txt").read_text() == "b"


async def test_shell_command_output_shown_and_passed_to_next_prompt(tmp_path: Path) -> None:
    async with repl_session(tmp_path, [text("noted")]) as s:
        s.send("!echo hi-from-shell\n")  # read-only: runs without a question
        await s.wait_for("● shell_exec  echo hi-from-shell")
        assert "? run:" not in s.output
        await s.wait_for("hi-from-shell", count=2)  # the call line, then the output
        assert s.model.requests == []  # the model is not called for !cmd
        s.send("what did it print?\n")
        await s.wait_for("noted")
    sent = s.model.requests[0].messages[-1].text
    assert sent.startswith("I ran `echo hi-from-shell` myself; output:")
    assert "hi-from-shell" in sent.split("output:", 1)[1]
    assert sent.endswith("what did it print?")
    assert len(s.model.requests[0].messages) == 1  # one user message, no fake tool call


async def test_attachments_text_inlined_and_image_as_image_part(tmp_path: Path) -> None:
    config = settings(test=ModelConfig(model="scripted", vision=True))
    async with repl_session(tmp_path, [text("seen")], config=config) as s:
        (s.work / "notes.txt").write_text("remember the milk\n")
        (s.work / "pic.png").write_bytes(PNG)
        s.send("look at @notes.txt and @pic.png\n")
        await s.wait_for("seen")
    message = s.model.requests[0].messages[-1]
    assert message.text.startswith("look at @notes.txt and @pic.png")
    assert '<file path="notes.txt">\nremember the milk\n</file>' in message.text
    images = [p for p in message.content if isinstance(p, ImagePart)]
    assert [i.media_type for i in images] == ["image/png"]
    assert "@ notes.txt: 1 lines inlined" in s.output


async def test_multi_line_input(tmp_path: Path) -> None:
    async with repl_session(tmp_path, [text("one"), text("two"), text("three")]) as s:
        s.send("first line\\\nsecond line\n")
        await s.wait_for("one")
        s.send("alpha\x1b\rbeta\n")  # Esc Enter (what Alt-Enter sends) adds a line
        await s.wait_for("two")
        s.send("\x1b[200~pasted\r\nlines\x1b[201~\n")  # bracketed paste keeps newlines
        await s.wait_for("three")
    assert s.model.requests[0].messages[-1].text == "first line\nsecond line"
    assert s.model.requests[1].messages[-1].text == "alpha\nbeta"
    assert s.model.requests[2].messages[-1].text == "pasted\nlines"


async def test_ctrl_d_exits(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("\x04")
        assert await s.finish() == 0


async def test_second_ctrl_c_at_empty_prompt_exits(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("some text\x03")  # with text, Ctrl-C only clears the line
        s.send("\x03")
        await s.wait_for("Ctrl-C again")
        assert not s.task.done()
        s.send("\x03")
        assert await s.finish() == 0


async def test_an_approved_edit_shows_its_diff_once(tmp_path: Path) -> None:
    script = [
        tool_call("file_edit", path="app.py", old_string="x = 1", new_string="x = 2"),
        text("Changed it."),
    ]
    async with repl_session(tmp_path, script) as s:
        (s.work / "app.py").write_text("a = 0\nx = 1\nb = 3\n")
        s.send("change x\n")
        await s.wait_for("? edit app.py")
        await s.wait_for("+x = 2")
        s.send("y\n")
        await s.wait_for("Changed it.")
        s.send("/quit\n")
        assert await s.finish() == 0
    assert (s.work / "app.py").read_text() == "a = 0\nx = 2\nb = 3\n"
    assert s.output.count("+x = 2") == 1
    assert s.output.count("-x = 1") == 1
