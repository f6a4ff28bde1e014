"""Memory in a real REPL session: /memory, /remember, /forget, /context, /compact,
/end, /resume, and the saving of sessions when the REPL starts and ends. The
databases are real SQLite files; only the model is scripted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mnemocode.app import App
from mnemocode.config.settings import MemoryConfig, ModelConfig, SafetyConfig, Settings
from mnemocode.core.types import Message, TextPart, ToolCall, ToolResult
from mnemocode.llm.testing import Turn
from mnemocode.llm.tokens import count_tokens, estimate_request_tokens
from mnemocode.memory.projects import ProjectRegistry
from mnemocode.memory.service import Memory, open_core
from mnemocode.memory.types import Entry
from tests.cli.repl_harness import Session, ops_reply, repl_session, summary_reply

DAY = 86_400.0
SQLITE_OPS = ops_reply(
    {
        "op": "add",
        "layer": "project",
        "key": "db-choice",
        "value": "Use SQLite",
        "kind": "decision",
        "rationale": "Postgres is overkill here",
    },
    {
        "op": "add",
        "layer": "core",
        "key": "terse",
        "value": "Prefers short answers",
        "dimension": "communication",
    },
)


def fresh_memory(s: Session) -> Memory:
    """The project's memory opened anew: what really is in the database files."""
    registry = ProjectRegistry(open_core(s.home))
    project = registry.for_directory(s.work)
    registry.conn.close()
    assert project is not None
    return Memory(home=s.home, project=project, config=MemoryConfig(), count_tokens=count_tokens)


def populate(app: App) -> None:
    memory = app.memory
    assert memory is not None
    memory.entries.upsert(
        Entry("db-choice", "decision", "Use SQLite", rationale="simpler", pinned=True)
    )
    memory.entries.upsert(Entry("old-orm", "decision", "Use SQLAlchemy", status="reversed"))
    memory.entries.upsert(Entry("ci", "fact", "CI runs on GitHub Actions"))
    memory.entries.upsert(Entry("deploy", "fact", "Deploys go to fly.io via GitHub Actions"))
    memory.traits.observe("communication", "terse", "Prefers short answers")
    memory.traits.observe("tools", "vim", "Edits in vim", at=time.time() - 1000 * DAY)
    app.refresh_memory()


def queue_earlier_session(app: App) -> None:
    """A session an earlier run stored but never got to save (queued work)."""
    memory = app.memory
    assert memory is not None
    memory.sessions.create("earlier0001")
    call = ToolCall("c1", "file_write", {"path": "ci.yml", "content": "on: push\n"})
    messages = [
        Message.user("set up CI please"),
        Message.assistant(tool_calls=[call]),
        Message.tool(ToolResult("c1", "file_write", [TextPart("wrote ci.yml")])),
        Message.assistant("CI runs on GitHub Actions now."),
    ]
    memory.record("earlier0001", 1, messages)
    memory.end_session("earlier0001")


def line_with(output: str, needle: str) -> str:
    return next(line for line in output.splitlines() if needle in line)


async def test_memory_shows_each_layer_with_scores_pins_and_tokens(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["hello"], setup=populate) as s:
        s.send("hi\n")
        await s.wait_for("hello")
        s.send("/memory\n")
        await s.wait_for("Tokens:")
        memory = s.app.memory
        assert memory is not None
        core, project = memory.prefix_sections()
        history = sum(count_tokens(m.text) for m in s.app.agent.history)
    out = s.output
    terse = line_with(out, "Prefers short answers")
    assert "trait:1" in terse and "[communication]" in terse
    assert "score 1.00" in terse and "in prompt" in terse and "not in prompt" not in terse
    assert "score 0.00" in line_with(out, "Edits in vim")
    assert "not in prompt" in line_with(out, "Edits in vim")
    assert "db-choice: Use SQLite  (active, pinned)" in out
    assert "old-orm: Use SQLAlchemy  (reversed)" in out
    assert out.index("Decisions") < out.index("db-choice") < out.index("Facts")
    assert out.index("Facts") < out.index("ci: CI runs on GitHub Actions")
    assert "Recent sessions: 0 summaries, 0 in the prompt" in out
    assert f"Tokens: core {core.tokens:,} · project {project.tokens:,} · recent 0" in out
    assert f"history {history:,}" in out
    assert core.tokens > 0 and project.tokens > 0 and history > 0


async def test_memory_set_del_pin_unpin_change_the_prompt_and_memory_md(tmp_path: Path) -> None:
    async with repl_session(tmp_path, [], setup=populate) as s:
        s.send("/memory set db-choice Use PostgreSQL after all\n")
        await s.wait_for("updated db-choice (decision): Use PostgreSQL after all")
        s.send("/memory set build-cmd make all --kind convention\n")
        await s.wait_for("added build-cmd (convention): make all")
        s.send("/memory set notes something --kind nonsense\n")
        await s.wait_for("unknown kind 'nonsense'")
        s.send("/memory del ci\n")
        await s.wait_for("forgot ci (fact)")
        s.send("/memory del nope\n")
        await s.wait_for("no memory entry named 'nope'")
        s.send("/memory unpin db-choice\n")
        await s.wait_for("unpinned db-choice")
        s.send("/memory pin trait:2\n")
        await s.wait_for("pinned trait:2: Edits in vim")
        s.send("/memory search postgresql\n")
        await s.wait_for("[project] entry:db-choice")
        prefix = s.app.agent.context.prefix.text
    memory = fresh_memory(s)
    entry = memory.entries.get("db-choice")
    assert entry is not None
    assert (entry.kind, entry.value, entry.rationale) == (
        "decision",
        "Use PostgreSQL after all",
        "simpler",
    )
    assert not entry.pinned
    build = memory.entries.get("build-cmd")
    assert build is not None and build.kind == "convention"
    assert memory.entries.get("ci") is None and memory.entries.get("notes") is None
    assert [t.pinned for t in memory.traits.all() if t.key == "vim"] == [True]
    assert "Use PostgreSQL after all" in prefix and "make all" in prefix
    assert "[tools] Edits in vim" in prefix  # pinned: back in the prompt though faded
    mirror = (s.work / ".mnemo" / "MEMORY.md").read_text()
    assert "## Conventions\n\n- **build-cmd**: make all" in mirror
    assert "- **db-choice**: Use PostgreSQL after all — why: simpler" in mirror
    assert "**ci**" not in mirror


async def test_remember_adds_a_project_note_or_a_global_trait(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["ok"]) as s:
        s.send("/remember Deploys must go through make deploy\n")
        await s.wait_for("remembered in work:")
        s.send("/remember --global I prefer tabs over spaces\n")
        await s.wait_for("remembered about you")
        s.send("/remember --global\n")
        await s.wait_for("usage: /remember [--global] <text>")
        s.send("go\n")
        await s.wait_for("ok")
    memory = fresh_memory(s)
    (note,) = memory.entries.all()
    assert note.kind == "note" and note.value == "Deploys must go through make deploy"
    (trait,) = memory.traits.all()
    assert (trait.dimension, trait.value) == ("preferences", "I prefer tabs over spaces")
    system = "".join(block.text for block in s.model.requests[-1].system)
    assert "Deploys must go through make deploy" in system
    assert "- [preferences] I prefer tabs over spaces" in system


async def test_forget_by_key_trait_or_the_one_matching_item(tmp_path: Path) -> None:
    async with repl_session(tmp_path, [], setup=populate) as s:
        s.send("/forget github actions\n")
        await s.wait_for("2 items match 'github actions'; nothing forgotten")
        await s.wait_for("forgets exactly one")
        s.send("/forget fly.io\n")
        await s.wait_for("forgot deploy (fact): Deploys go to fly.io via GitHub Actions")
        s.send("/forget kubernetes\n")
        await s.wait_for("nothing in memory matches 'kubernetes'")
        s.send("/forget trait:1\n")
        await s.wait_for("forgot core trait trait:1 [communication]: Prefers short answers")
        s.send("/forget trait:99\n")
        await s.wait_for("no core trait 'trait:99'")
        s.send("/forget old-orm\n")
        await s.wait_for("forgot old-orm (decision)")
        prefix = s.app.agent.context.prefix.text
    listed = s.output.split("2 items match", 1)[1]
    assert "ci (fact): CI runs on GitHub Actions" in listed
    assert "deploy (fact): Deploys go to fly.io" in listed
    memory = fresh_memory(s)
    assert sorted(e.key for e in memory.entries.all()) == ["ci", "db-choice"]
    assert [t.key for t in memory.traits.all()] == ["vim"]
    assert "Prefers short answers" not in prefix and "fly.io" not in prefix


async def test_context_shows_each_part_and_the_total_against_the_window(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "AGENTS.md").write_text("Use tabs.\n")
    async with repl_session(tmp_path, ["hello there"], setup=populate) as s:
        s.send("hi\n")
        await s.wait_for("hello there")
        s.send("/context\n")
        await s.wait_for("compaction at")
        app = s.app
        request = app.agent.context.build(app.agent.history, app.tool_specs())
        total = estimate_request_tokens(request)
        prefix = count_tokens(app.agent.context.prefix.text)
        assert app.memory is not None
        core, project = app.memory.prefix_sections()
        s.send("/context full\n")
        await s.wait_for("compaction at", count=2)
    out = s.output
    first = out[: out.index("──── system prompt")]  # /context, before the full texts
    assert f"{prefix:,}" in line_with(first, "system prompt + instructions + memory")
    assert "of which AGENTS.md" in first
    assert f"{project.tokens:,}" in line_with(first, "of which project memory")
    assert f"{core.tokens:,}" in line_with(first, "of which core memory")
    assert f"{len(app.tool_specs())} tools" in line_with(first, "tool schemas")
    assert "2 messages" in line_with(first, "history")
    assert f"{total:,}" in line_with(first, "total")
    assert f"{total:,} of 128,000 tokens" in first
    assert "compaction at 64,000 (50%)" in first
    assert "1. user" in first and "2. assistant" in first
    assert "You are mnemo, a coding agent" in out  # the full texts
    assert '"name": "file_read"' in out
    assert "Use SQLite" in out.split("──── system prompt")[1]


async def test_compact_summarises_older_messages_now(tmp_path: Path) -> None:
    config = Settings(
        models={"test": ModelConfig(model="scripted")},
        active_model="test",
        safety=SafetyConfig(),
        memory=MemoryConfig(keep_recent_turns=1),
    )
    summary = summary_reply("unused", topics=["port setup"], key_facts=["PORT=8080"])
    async with repl_session(tmp_path, ["one", "two"], config=config, memory_script=[summary]) as s:
        s.send("/compact\n")
        await s.wait_for("Nothing was compacted.")
        s.send("first\n")
        await s.wait_for("one")
        s.send("second\n")
        await s.wait_for("two")
        s.send("/compact\n")
        await s.wait_for("Summarised 2 of 4 messages; 2 kept verbatim.")
        s.send("/context\n")
        await s.wait_for("compaction summary")
        app = s.app
        assert [m.text for m in app.agent.history] == ["second", "two"]
        assert "PORT=8080" in app.agent.context.summary
        session_id = app.session_id
    assert "first" in s.memory_requests[0].messages[0].text
    stored_summary, live = fresh_memory(s).sessions.live_history(session_id)
    assert stored_summary is not None and "PORT=8080" in stored_summary
    assert [m.text for m in live] == ["second", "two"]


async def chat(s: Session, *answers: str) -> None:
    """One user turn per answer (three turns make a session worth a summary)."""
    for n, answer in enumerate(answers, 1):
        s.send(f"turn {n}: postgres is overkill, use sqlite\n")
        await s.wait_for(answer)


async def test_end_saves_the_session_in_the_background_and_starts_a_new_one(
    tmp_path: Path,
) -> None:
    memory_script = [summary_reply("Switch to SQLite", topics=["database"]), SQLITE_OPS]
    chat_script = ["Noted one.", "Noted two.", "Switched."]
    async with repl_session(tmp_path, chat_script, memory_script=memory_script) as s:
        s.send("/end\n")
        await s.wait_for("nothing to save yet")
        await chat(s, *chat_script)
        old = s.app.session_id
        s.send("/end\n")
        await s.wait_for("new session")
        await s.wait_for("memory: 2 jobs done")
        app = s.app
        assert app.session_id != old and app.agent.history == []
        assert "Switch to SQLite" in app.agent.context.recent
        assert "Use SQLite" in app.agent.context.prefix.text
    assert f"Session {old} ended (saved to memory in the background)" in s.output
    memory = fresh_memory(s)
    summary = memory.summaries.for_session(old)
    assert summary is not None and summary.title == "Switch to SQLite"
    info = memory.sessions.get(old)
    assert info is not None and info.ended is not None
    entry = memory.entries.get("db-choice")
    assert entry is not None and entry.source == "judge" and entry.session_id == old
    assert [(t.dimension, t.value) for t in memory.traits.all()] == [
        ("communication", "Prefers short answers")
    ]
    assert memory.pending_jobs() == 0  # saved once, nothing queued again
    assert "turn 3: postgres is overkill" in s.memory_requests[1].messages[0].text


@pytest.mark.parametrize("leave", ["/quit\n", "\x04", "\x03\x03"])
async def test_leaving_queues_the_session_and_exits_without_a_model_call(
    tmp_path: Path, leave: str
) -> None:
    chat_script = ["Noted one.", "Noted two.", "Switched."]
    async with repl_session(tmp_path, chat_script, memory_script=[]) as s:
        await chat(s, *chat_script)
        session_id = s.app.session_id
        s.send(leave)
        assert await s.finish() == 0
    # This harness has no detached process to hand the work to: it stays queued.
    assert "memory: 2 jobs queued for the next start here" in s.output
    assert s.memory_requests == []
    memory = fresh_memory(s)
    assert memory.pending_jobs() == 2  # summary and extraction
    info = memory.sessions.get(session_id)
    assert info is not None and info.ended is not None


async def test_a_trivial_session_is_not_summarised_on_its_own(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["Paris."], memory_script=[]) as s:
        s.send("capital of France?\n")
        await s.wait_for("Paris.")
        s.send("/quit\n")
        assert await s.finish() == 0
    assert "memory: 1 job queued" in s.output
    memory = fresh_memory(s)
    job = memory.jobs.lease()
    assert job is not None and job.kind == "extract"  # no summary: one turn, no tool call
    assert memory.jobs.lease() is None


async def test_leaving_an_empty_session_saves_nothing(tmp_path: Path) -> None:
    async with repl_session(tmp_path, [], memory_script=[]) as s:
        s.send("\x04")
        assert await s.finish() == 0
    assert "memory:" not in s.output
    assert s.model.requests == []


async def test_earlier_work_runs_in_the_background_and_reports_one_line(tmp_path: Path) -> None:
    memory_script = [summary_reply("Set up CI"), ops_reply()]
    async with repl_session(
        tmp_path, ["hello again"], memory_script=memory_script, setup=queue_earlier_session
    ) as s:
        await s.wait_for("memory: 2 jobs running in the background")
        await s.wait_for("memory: 2 jobs done")
        s.send("hi\n")
        await s.wait_for("hello again")
    assert [line for line in s.output.splitlines() if line.startswith("memory:")] == [
        "memory: 2 jobs running in the background",
        "memory: 2 jobs done",
    ]
    chat = s.model.requests[-1]
    assert "Set up CI" in "".join(block.text for block in chat.system)  # the recent layer
    assert fresh_memory(s).pending_jobs() == 0


async def test_the_user_works_and_leaves_while_a_slow_model_summarises(tmp_path: Path) -> None:
    slow = Turn(text=summary_reply("never"), delay=30)
    async with repl_session(
        tmp_path, ["hello"], memory_script=[slow], setup=queue_earlier_session
    ) as s:
        await s.until(lambda: len(s.memory_requests) == 1, "the summary request")
        s.send("hi\n")
        await s.wait_for("hello")  # a turn while the summary request is unanswered
        memory = s.app.memory
        assert memory is not None and memory.summaries.for_session("earlier0001") is None
        s.send("/quit\n")
        assert await s.finish() == 0  # leaving does not wait for it either
    memory = fresh_memory(s)
    assert memory.summaries.for_session("earlier0001") is None
    assert memory.pending_jobs() == 3  # the earlier two (released, not failed) and this one's
    job = memory.jobs.lease()
    assert job is not None and job.kind == "summarize" and job.attempts == 1


async def test_a_reply_that_is_not_json_is_reported_in_one_line(tmp_path: Path) -> None:
    garbage = "Sure! Here is the summary you asked for: <<garbage that is not JSON>>"
    async with repl_session(
        tmp_path, [], memory_script=[garbage, garbage], setup=queue_earlier_session
    ) as s:
        await s.wait_for("memory: summary failed")
    line = line_with(s.output, "memory: summary failed")
    assert line == (
        "memory: summary failed: the model's reply was not valid JSON (attempt 1 of 3); "
        "retried later"
    )
    assert "garbage" not in s.output


async def test_resume_lists_sessions_and_continues_the_chosen_one(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["Paris."]) as s:
        s.send("what is the capital of France?\n")
        await s.wait_for("Paris.")
        old = s.app.session_id
        s.send("/quit\n")
        await s.finish()
    async with repl_session(tmp_path, ["About 2 million."]) as s:
        s.send("/resume zzz\n")
        await s.wait_for("no session starts with 'zzz'")
        s.send("/resume\n")
        await s.wait_for("Resume which one?")
        listed = line_with(s.output, f"1. {old[:8]}")  # one turn: no summary, its first words
        assert "what is the capital of France?" in listed and "(2 messages)" in listed
        s.send("\n")
        await s.wait_for("nothing resumed")
        s.send("/resume\n")
        await s.wait_for("Resume which one?", count=2)
        s.send("1\n")
        await s.wait_for("Resumed")
        await s.wait_for("mnemo: Paris.")
        assert s.app.session_id == old
        assert "you: what is the capital of France?" in s.output
        s.send("how many people live there?\n")
        await s.wait_for("About 2 million.")
    sent = s.model.requests[-1].messages
    assert [m.text for m in sent] == [
        "what is the capital of France?",
        "Paris.",
        "how many people live there?",
    ]
    assert fresh_memory(s).sessions.count(old) == 4  # the continuation is stored with it


async def test_resume_by_id_prefix(tmp_path: Path) -> None:
    async with repl_session(tmp_path, ["Paris."]) as s:
        s.send("capital of France?\n")
        await s.wait_for("Paris.")
        old = s.app.session_id
        s.send("/quit\n")
        await s.finish()
    async with repl_session(tmp_path, []) as s:
        s.send(f"/resume {old[:5]}\n")
        await s.wait_for("Resumed")
        await s.wait_for("2 messages loaded")
        assert s.app.session_id == old
        assert [m.text for m in s.app.agent.history] == ["capital of France?", "Paris."]
