"""/project in a real REPL session: show, list, new, rename, delete, workdir, switch.
The registry and each project's memory are real SQLite files under the test's home."""

from __future__ import annotations

from pathlib import Path

from mnemocode.app import App
from mnemocode.config.settings import MemoryConfig
from mnemocode.llm.testing import text, tool_call
from mnemocode.llm.tokens import count_tokens
from mnemocode.memory.projects import Project, ProjectRegistry
from mnemocode.memory.service import Memory, open_core
from mnemocode.memory.types import Entry
from tests.cli.repl_harness import repl_session


def registry(home: Path) -> ProjectRegistry:
    return ProjectRegistry(open_core(home))


def add_project(app: App, name: str, folder: Path, fact: str | None = None) -> Project:
    """Register another project (with one remembered fact) before the REPL starts."""
    folder.mkdir(parents=True, exist_ok=True)
    assert app.memory is not None
    project = app.memory.registry.create(folder, name)
    if fact is not None:
        memory = Memory(
            home=app.home, project=project, config=MemoryConfig(), count_tokens=count_tokens
        )
        memory.entries.upsert(Entry(f"{name}-fact", "fact", fact))
        memory.close()
    return project


def open_memory(home: Path, name: str) -> Memory:
    projects = registry(home)
    project = projects.require(name)
    projects.conn.close()
    return Memory(home=home, project=project, config=MemoryConfig(), count_tokens=count_tokens)


async def test_project_shows_the_current_project(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["hi"]) as s:
        s.send("hello\n")
        await s.wait_for("hi")
        s.send("/project\n")
        await s.wait_for("tokens  ")
        project = s.app.project
        assert project is not None
    assert s.output.splitlines()[0].startswith("mnemo · work · test")  # the banner names it
    words = " ".join(s.output.split())  # long paths wrap at the console's width
    assert "project work" in words
    assert f"work directory {tmp_path / 'work'}" in words
    assert f"data {project.data_dir(tmp_path / 'home')}" in words
    assert "sessions 1" in words
    assert "tokens core 0 · project 0 · recent 0 · history" in words


async def test_project_list_and_new(tmp_path: Path) -> None:
    (tmp_path / "side").mkdir()

    def setup(app: App) -> None:
        add_project(app, "other", tmp_path / "other")

    async with repl_session(tmp_path, [], setup=setup) as s:
        s.send("/project list\n")
        await s.wait_for(f"other  {tmp_path / 'other'}")
        s.send("/project new side ../side\n")
        await s.wait_for("created project side")
        s.send("/project new side\n")
        await s.wait_for("a project named 'side' already exists")
        s.send("/project new bad*name\n")
        await s.wait_for("invalid project name")
        s.send("/project list\n")
        await s.wait_for("side  ")
    lines = s.output.splitlines()
    assert any(line.startswith("● work") for line in lines)
    assert any(line.startswith("  other") and "0 sessions" in line for line in lines)
    side = registry(s.home).require("side")
    assert side.workdir == (tmp_path / "side").resolve()


async def test_rename_keeps_sessions_and_memory(tmp_path: Path) -> None:
    def setup(app: App) -> None:
        assert app.memory is not None
        app.memory.entries.upsert(Entry("db-choice", "decision", "Use SQLite"))
        add_project(app, "other", tmp_path / "other", fact="Other uses Rust")

    async with repl_session(tmp_path, ["ok"], setup=setup) as s:
        before = s.app.project
        assert before is not None
        s.send("noted?\n")
        await s.wait_for("ok")
        s.send("/project rename my app\n")  # two words: OLD NEW
        await s.wait_for("no project named 'my'")
        s.send('/project rename "my app"\n')
        await s.wait_for("renamed work to my app (sessions and memory kept)")
        s.send("/project rename other other-2\n")
        await s.wait_for("renamed other to other-2")
        s.send("/memory\n")
        await s.wait_for("Project memory — my app (1)")
        assert s.app.project_name == "my app"
        assert "Project memory: my app" in s.app.agent.context.prefix.text
        session_id = s.app.session_id
    projects = registry(s.home)
    assert projects.get("work") is None and projects.get("other") is None
    renamed = projects.require("my app")
    assert renamed.slug == before.slug and renamed.workdir == before.workdir
    memory = open_memory(s.home, "my app")
    assert memory.entries.get("db-choice") is not None
    assert memory.sessions.count(session_id) == 2
    assert open_memory(s.home, "other-2").entries.get("other-fact") is not None
    mirror = (s.work / ".mnemo" / "MEMORY.md").read_text()
    assert mirror.startswith("# Project memory: my app\n")


async def test_delete_asks_first_and_removes_registry_rows_and_data(tmp_path: Path) -> None:
    made: dict[str, Project] = {}

    def setup(app: App) -> None:
        for name in ("old-a", "old-b", "keep"):
            made[name] = add_project(app, name, tmp_path / name, fact=f"{name} fact")

    async with repl_session(tmp_path, [], setup=setup) as s:
        home = s.home
        assert all(p.data_dir(home).is_dir() for p in made.values())
        s.send("/project delete old-*\n")
        await s.wait_for("Type delete to confirm")
        s.send("no\n")
        await s.wait_for("nothing deleted")
        assert registry(home).get("old-a") is not None
        s.send("/project delete old-*\n")
        await s.wait_for("Type delete to confirm", count=2)
        s.send("delete\n")
        await s.wait_for("deleted old-a, old-b")
        s.send("/project delete work\n")
        await s.wait_for("work is the current project; it is not deleted")
        await s.wait_for("no project to delete matches 'work'")
        s.send("/project delete nothing-like-this\n")
        await s.wait_for("no project to delete matches 'nothing-like-this'")
    listed = s.output.split("This deletes 2 project(s)", 1)[1]
    assert "old-a" in listed and "old-b" in listed and "keep" not in listed.split("Type")[0]
    projects = registry(home)
    assert sorted(p.name for p in projects.all()) == ["keep", "work"]
    assert not made["old-a"].data_dir(home).exists()
    assert not made["old-b"].data_dir(home).exists()
    assert made["keep"].data_dir(home).is_dir()
    assert (tmp_path / "old-a").is_dir()  # the work directory itself is not touched
    assert s.app.project is not None and s.app.project.data_dir(home).is_dir()


async def test_workdir_shows_and_moves_the_project(tmp_path: Path) -> None:
    (tmp_path / "moved").mkdir()
    async with repl_session(tmp_path, []) as s:
        s.send("/project workdir\n")
        await s.wait_for(str(tmp_path / "work"))
        s.send("/project workdir ../moved\n")
        await s.wait_for("work directory of work is now")
        s.send("/project workdir ../missing\n")
        await s.wait_for("is not a directory")
    assert registry(s.home).require("work").workdir == (tmp_path / "moved").resolve()
    assert s.app.project is not None and s.app.project.workdir == (tmp_path / "moved").resolve()


async def test_switch_saves_the_session_and_works_in_the_other_project(tmp_path: Path) -> None:
    other_dir = tmp_path / "other"

    def setup(app: App) -> None:
        add_project(app, "other", other_dir, fact="The other project is written in Rust")

    script = [
        text("hello from work"),
        tool_call("file_write", path="x.txt", content="x\n"),
        text("written"),
    ]
    async with repl_session(tmp_path, script, memory_script=[], setup=setup, switchable=True) as s:
        s.send("hi\n")
        await s.wait_for("hello from work")
        old_session = s.app.session_id
        s.send("/project switch nope\n")
        await s.wait_for("no project named 'nope'")
        s.send("/project switch work\n")
        await s.wait_for("already in project work")
        s.send("/project switch other\n")
        await s.wait_for("now in project other")
        assert s.app.project_name == "other"
        assert s.app.cwd == other_dir.resolve()
        assert s.app.agent.history == []
        s.send("write x\n")
        await s.wait_for("? write x.txt")  # the new app's approver asks at this terminal
        s.send("y\n")
        await s.wait_for("written")
        new_session = s.app.session_id
    # Handed off, not done here (this harness has no detached process: it stays queued).
    assert "memory: 1 job queued for the next start here" in s.output
    assert s.memory_requests == []
    assert (other_dir / "x.txt").read_text() == "x\n"
    assert not (tmp_path / "work" / "x.txt").exists()
    system = "".join(block.text for block in s.model.requests[-2].system)
    assert "The other project is written in Rust" in system
    assert f"Working directory: {other_dir.resolve()}" in system
    work = open_memory(s.home, "work")
    info = work.sessions.get(old_session)
    assert info is not None and info.ended is not None and work.pending_jobs() == 1
    assert open_memory(s.home, "other").sessions.count(new_session) == 4


async def test_switch_without_rebuild_says_to_restart(tmp_path: Path) -> None:
    def setup(app: App) -> None:
        add_project(app, "other", tmp_path / "other")

    async with repl_session(tmp_path, [], setup=setup) as s:
        s.send("/project switch other\n")
        await s.wait_for("restart with `mnemo --project other` to switch")
        assert s.app.project_name == "work"
