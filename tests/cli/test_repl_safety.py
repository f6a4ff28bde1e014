"""Safety commands in the REPL: /undo, /rewind, /rollback, /auto, /safety,
/permissions, /history, /template."""

from __future__ import annotations

from pathlib import Path

from mnemocode.llm.testing import text, tool_call
from tests.cli.repl_harness import repl_session


async def test_undo_after_an_approved_edit(tmp_path: Path) -> None:
    script = [tool_call("file_write", path="new.txt", content="hello\n"), text("Wrote it.")]
    async with repl_session(tmp_path, script) as s:
        s.send("write new.txt\n")
        await s.wait_for("? write new.txt")
        s.send("y\n")
        await s.wait_for("Wrote it.")
        assert (s.work / "new.txt").exists()
        s.send("/undo\n")
        await s.wait_for("removed turn(s) 1 from the conversation")
        assert not (s.work / "new.txt").exists()
        assert s.app.agent.history == []
        s.send("/history\n")
        await s.wait_for("file_write")
        s.send("/quit\n")
        assert await s.finish() == 0
    assert "restored 1 file(s)" in s.output


async def test_auto_mode_runs_workdir_writes_without_asking(tmp_path: Path) -> None:
    script = [tool_call("file_write", path="auto.txt", content="a\n"), text("done in auto")]
    async with repl_session(tmp_path, script) as s:
        s.send("/auto on\n")
        await s.wait_for("mode: auto")
        s.send("go\n")
        await s.wait_for("done in auto")
        assert "? write" not in s.output
        s.send("/auto whitelist add just build\n")
        await s.wait_for("just build (exact)")
        s.send('/auto whitelist add "npm run e2e *"\n')
        await s.wait_for("npm run e2e * (any further arguments)")
        s.send("/auto off\n")
        await s.wait_for("mode: ask")
        s.send("/quit\n")
        assert await s.finish() == 0
    assert (s.work / "auto.txt").read_text() == "a\n"


async def test_safety_off_needs_yes(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("/safety off\n")
        await s.wait_for("Type yes")
        s.send("no\n")
        await s.wait_for("safety stays on")
        assert s.app.safety.policy.mode == "ask"
        s.send("/safety off\n")
        await s.wait_for("Type yes", count=2)
        s.send("yes\n")
        await s.wait_for("safety checks are OFF")
        assert s.app.safety.policy.mode == "bypass"
        s.send("/quit\n")
        assert await s.finish() == 0


async def test_permissions_template_and_rollback(tmp_path: Path) -> None:
    script = [
        tool_call("file_edit", path="f.txt", old_string="v1", new_string="v2"),
        text("edited"),
    ]
    async with repl_session(tmp_path, script) as s:
        (s.work / "f.txt").write_text("v1\n")
        s.send("/permissions\n")
        await s.wait_for("no rules yet")
        s.send("/template add CSV export\n")
        await s.wait_for("Goal: add CSV export")
        s.send("edit\n")
        await s.wait_for("? edit f.txt")
        s.send("y\n")
        await s.wait_for("edited")
        assert (s.work / "f.txt").read_text() == "v2\n"
        s.send("/rollback f.txt\n")
        await s.wait_for("2. ")
        versions = s.app.safety.checkpoints.versions(s.work / "f.txt")
        index = next(i for i, v in enumerate(versions, 1) if v.size == 3 and v.phase == "before")
        s.send(f"/rollback f.txt {index}\n")
        await s.wait_for(f"restored f.txt to version {index}")
        s.send("/quit\n")
        assert await s.finish() == 0
    assert (s.work / "f.txt").read_text() == "v1\n"


async def test_always_saves_a_narrow_rule(tmp_path: Path) -> None:
    script = [
        tool_call("shell_exec", command="touch made.txt"),
        text("first"),
        tool_call("shell_exec", command="touch made.txt"),
        text("second"),
    ]
    async with repl_session(tmp_path, script) as s:
        s.send("one\n")
        await s.wait_for("? run: touch made.txt")
        s.send("!\n")
        await s.wait_for("first")
        s.send("two\n")
        await s.wait_for("second")
        assert s.output.count("? run: touch made.txt") == 1  # the rule answered the second time
        s.send("/permissions\n")
        await s.wait_for("run exactly `touch made.txt`")
        s.send("/quit\n")
        assert await s.finish() == 0
    rules = s.app.safety.rules.rules()
    assert [(r.prefix, r.directory) for r in rules] == [("touch made.txt", str(s.work.resolve()))]
