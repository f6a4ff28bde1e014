"""Undo, rewind and rollback after a turn that changed files with the file tools
and with shell commands; byte-for-byte, and across a restart."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mnemocode.app import App, build_app
from mnemocode.config.settings import ModelConfig, RouterConfig, Settings
from mnemocode.core.events import AgentEvent
from mnemocode.llm.testing import ScriptedModel, Turn, text, tool_call
from mnemocode.safety.approvers import StaticApprover

BINARY = bytes(range(256)) * 4


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def make_app(work: Path, home: Path, script: list[Turn]) -> App:
    settings = Settings(  # the tool loop's own undo (the router's: tests/agent/test_router.py)
        models={"t": ModelConfig(model="scripted")},
        active_model="t",
        router=RouterConfig(strategy="direct"),
    )
    return build_app(
        settings,
        cwd=work,
        home=home,
        approver=StaticApprover(True),
        env={},
        model=ScriptedModel(script),
    )


def project(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_bytes(b"line one\r\nline two\r\n")
    (work / "data.bin").write_bytes(BINARY)
    (work / ".gitignore").write_text("build/\n")
    (work / "build").mkdir()
    (work / "build" / "cache.o").write_bytes(b"artifact")
    return work


def edit_turns(tag: str) -> list[Turn]:
    return [
        tool_call("file_edit", path="a.txt", old_string="line two", new_string=f"line two {tag}"),
        tool_call(
            "shell_exec",
            command=f"echo {tag} > new-{tag}.txt && rm data.bin && echo x >> build/cache.o",
        ),
        text(f"done {tag}"),
    ]


async def test_undo_restores_files_and_conversation(tmp_path: Path, isolated_home: Path) -> None:
    work = project(tmp_path)
    before = tree(work)
    app = make_app(work, isolated_home, edit_turns("one"))
    events: list[AgentEvent] = []
    finished = await app.run_turn("change things", events.append)
    assert finished.stop_reason == "end_turn"
    assert (work / "new-one.txt").exists() and not (work / "data.bin").exists()

    report = app.undo_last_turn()

    assert "restored 4 file(s)" in report
    assert tree(work) == before
    assert (work / "a.txt").read_bytes() == b"line one\r\nline two\r\n"  # CRLF, byte for byte
    assert not (work / "new-one.txt").exists()  # new files are removed
    assert (work / "build" / "cache.o").read_bytes() == b"artifact"  # ignored, restored too
    assert app.agent.history == []


async def test_undo_restores_ignored_files_the_shell_changed(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path)
    (work / ".gitignore").write_text("build/\n.env\nnode_modules/\n")
    (work / "build" / "old.o").write_bytes(BINARY)
    (work / ".env").write_bytes(b"TOKEN=1\r\n")
    (work / "node_modules").mkdir()
    (work / "node_modules" / "dep.js").write_text("dep\n")
    before = tree(work)
    script = [
        tool_call(
            "shell_exec",
            command="printf 'x' >> build/cache.o && echo made > build/new.o"
            " && rm build/old.o && echo TOKEN=2 > .env && echo more >> node_modules/dep.js",
        ),
        text("rebuilt"),
    ]
    app = make_app(work, isolated_home, script)
    await app.run_turn("rebuild", lambda e: None)
    assert (work / "build" / "new.o").exists() and not (work / "build" / "old.o").exists()

    report = app.undo_last_turn()

    assert "restored 4 file(s)" in report
    after = tree(work)
    assert after.pop("node_modules/dep.js") != before.pop("node_modules/dep.js")  # heavy: left
    assert after == before  # cache.o, old.o, .env byte for byte; new.o removed


async def test_rewind_over_two_turns_and_keep_the_conversation(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path)
    before = tree(work)
    script = [
        tool_call("file_write", path="first.txt", content="1\n"),
        text("first"),
        tool_call("file_edit", path="a.txt", old_string="line one", new_string="LINE ONE"),
        text("second"),
    ]
    app = make_app(work, isolated_home, script)
    await app.run_turn("one", lambda e: None)
    await app.run_turn("two", lambda e: None)
    history_len = len(app.agent.history)

    report = app.rewind(1, files=True, conversation=False)

    assert "restored 2 file(s)" in report
    assert tree(work) == before
    assert len(app.agent.history) == history_len  # conversation kept, as asked


async def test_rollback_after_a_restart(tmp_path: Path, isolated_home: Path) -> None:
    work = project(tmp_path)
    script = [
        tool_call("file_edit", path="a.txt", old_string="line one", new_string="version 2"),
        text("ok"),
    ]
    first = make_app(work, isolated_home, script)
    await first.run_turn("edit", lambda e: None)
    assert b"version 2" in (work / "a.txt").read_bytes()

    # A new process: another App over the same MNEMO_HOME and project.
    second = make_app(work, isolated_home, [])
    versions = second.safety.checkpoints.versions(work / "a.txt")
    original = next(
        v
        for v in versions
        if v.sha
        == hashlib.sha1(
            b"blob %d\x00" % len(b"line one\r\nline two\r\n") + b"line one\r\nline two\r\n"
        ).hexdigest()
    )
    second.safety.checkpoints.restore_version(work / "a.txt", original.id)
    assert (work / "a.txt").read_bytes() == b"line one\r\nline two\r\n"


async def test_every_decision_is_audited(tmp_path: Path, isolated_home: Path) -> None:
    work = project(tmp_path)
    script = [
        tool_call("shell_exec", command="rm -rf /"),
        tool_call("file_read", path="a.txt"),
        text("ok"),
    ]
    app = make_app(work, isolated_home, script)
    await app.run_turn("go", lambda e: None)
    entries = app.safety.audit.query(session=app.session_id)
    assert [(e.tool, e.decision, e.outcome) for e in entries] == [
        ("shell_exec", "deny", "denied"),
        ("file_read", "allow", "approved"),
    ]


async def test_undo_after_a_resume_reaches_the_turns_before_it(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path)
    before = tree(work)
    first = make_app(work, isolated_home, edit_turns("one"))
    await first.run_turn("change things", lambda e: None)
    after_one = tree(work)
    session_id = first.session_id
    assert first.memory is not None
    first.memory.close()  # the process ends; `mnemo --continue` picks it up

    second = make_app(work, isolated_home, edit_turns("two"))
    second.resume(session_id)
    assert sorted(second.agent.turn_starts) == [1]
    await second.run_turn("more changes", lambda e: None)
    assert sorted(second.agent.turn_starts) == [1, 2]

    assert "restored" in second.undo_last_turn()  # the turn of this process
    assert tree(work) == after_one
    report = second.undo_last_turn()  # the turn of the process before
    assert "restored 4 file(s)" in report and "removed turn(s) 1" in report
    assert tree(work) == before
    assert second.agent.history == []
    assert second.memory is not None
    assert second.memory.sessions.messages(session_id) == []
    assert second.undo_last_turn() == "nothing to undo"
    second.memory.close()
