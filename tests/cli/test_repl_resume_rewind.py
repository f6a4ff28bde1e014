"""Starting on a stored session says which one and shows its last exchange; the
/rewind list is one line per turn, with attachments and !cmd output left out."""

from __future__ import annotations

from pathlib import Path

from mnemocode.app import App
from mnemocode.cli.attachments import typed_prompt
from mnemocode.llm.testing import text
from tests.cli.repl_harness import repl_session


async def test_starting_on_a_stored_session_says_what_it_resumed(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["first answer", "the last answer"]) as s:
        s.send("first question\n")
        await s.wait_for("first answer")
        s.send("the last question\n")
        await s.wait_for("the last answer")
        s.send("/quit\n")
        await s.finish()
        stored = s.app.session_id

    def resume(app: App) -> None:
        app.resume(stored)

    async with repl_session(tmp_path, [], setup=resume) as s:
        await s.wait_for("mnemo: the last answer")
    out = s.output
    assert f"Resumed {stored}: 2 turns, last: the last question" in out
    assert "  you: the last question" in out
    assert "first answer" not in out  # only the last exchange


def test_typed_prompt_leaves_out_attachments_and_command_output() -> None:
    message = (
        "I ran `ls -la` myself; output:\n```\nExit code: 0\ntotal 4\nfile.txt\n```\n\n"
        "look at @notes.txt\nand fix it\n\n"
        '<file path="notes.txt">\nremember\nthe milk\n</file>\n\n'
        "[mnemo] big.bin: binary, not attached"
    )
    assert typed_prompt(message) == "[!ls -la] look at @notes.txt and fix it"


async def test_rewind_list_is_one_line_per_turn(tmp_path: Path) -> None:
    async with repl_session(tmp_path, [text("one"), text("two")]) as s:
        (s.work / "notes.txt").write_text("line a\nline b\n" * 20)
        s.send("!echo shell-output-line\n")
        await s.wait_for("shell-output-line", count=2)
        s.send("first line\\\nsecond line @notes.txt\n")
        await s.wait_for("one")
        s.send("plain\n")
        await s.wait_for("two")
        s.send("/rewind\n")
        await s.wait_for("/rewind N")
    listing = s.output.split("  1: ", 1)[1].split("/rewind N", 1)[0]
    assert listing.splitlines() == [
        "[!echo shell-output-line] first line second line @notes.txt",
        "  2: plain",
    ]
