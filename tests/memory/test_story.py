"""Memory across sessions, through the real app (``build_app``) with only the model
scripted: a decision taken, reversed in a later session, recalled in a third;
resume; pins the judge cannot touch; memory work that survives failures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path
from typing import Any

from mnemocode.app import App, build_app
from mnemocode.config.settings import MemoryConfig, ModelConfig, RouterConfig, Settings
from mnemocode.core.events import AgentEvent
from mnemocode.core.types import ModelRequest
from mnemocode.llm.testing import ScriptedModel, Turn, text, tool_call
from mnemocode.memory.types import Entry
from mnemocode.safety.approvers import StaticApprover

STAMP = r"\d{4}-\d{2}-\d{2} (?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{2}:\d{2}"


def settings(**memory: Any) -> Settings:
    """Every session is summarised here, one-turn stories included."""
    return Settings(
        models={"t": ModelConfig(model="scripted")},
        active_model="t",
        memory=MemoryConfig(**{"trivial_turns": 0, **memory}),
        router=RouterConfig(strategy="direct"),  # the scripts are tool-loop turns
    )


def start(work: Path, home: Path, script: list[Turn], **memory: Any) -> tuple[App, ScriptedModel]:
    """A new process start: everything built again from the files on disk."""
    model = ScriptedModel(script)
    app = build_app(
        settings(**memory),
        cwd=work,
        home=home,
        approver=StaticApprover(True),
        env={},
        model=model,
    )
    assert app.memory is not None
    return app, model


def stop(app: App) -> None:
    assert app.memory is not None
    app.memory.close()


def summary(title: str, decisions: list[dict[str, str]], **more: list[str]) -> Turn:
    return text(json.dumps({"title": title, "decisions": decisions, **more}))


def judge(*ops: dict[str, str]) -> Turn:
    return text(json.dumps({"ops": list(ops)}))


def system(request: ModelRequest) -> str:
    return "\n\n".join(block.text for block in request.system)


async def turn(app: App, prompt: str) -> list[AgentEvent]:
    events: list[AgentEvent] = []
    finished = await app.run_turn(prompt, events.append)
    assert finished.stop_reason == "end_turn", finished
    return events


def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "shop"
    work.mkdir()
    (work / ".git").mkdir()  # a repository root: the project's work directory
    return work


async def test_a_decision_taken_reversed_and_recalled_over_three_sessions(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = workdir(tmp_path)

    # ---- session 1: the decision ----------------------------------------------
    app, model = start(
        work,
        isolated_home,
        [
            text("Agreed: the job store will use SQLite — no extra server to run."),
            summary(
                "Job store: SQLite",
                [{"what": "Use SQLite for the job store", "why": "no extra server to run"}],
            ),
            judge(
                {
                    "op": "add",
                    "layer": "project",
                    "key": "job-store",
                    "kind": "decision",
                    "value": "Use SQLite for the job store",
                    "rationale": "no extra server to run",
                }
            ),
        ],
    )
    await turn(app, "Let's use SQLite for the job store, I don't want to run another server.")
    assert "# What you remember" not in system(model.requests[0])  # nothing yet
    assert "# Recent sessions" not in system(model.requests[0])
    first_session = app.session_id
    assert await app.end_session() is True
    assert model.remaining == 0

    summary_request, judge_request = model.requests[1], model.requests[2]
    assert summary_request.tools == [] and judge_request.tools == []
    assert "user: Let's use SQLite for the job store" in summary_request.messages[0].text
    assert "<project_memory>\n(empty)\n</project_memory>" in judge_request.messages[0].text
    assert "Let's use SQLite for the job store" in judge_request.messages[0].text
    entry = app.memory.entries.get("job-store")  # type: ignore[union-attr]
    assert entry is not None
    assert (entry.value, entry.rationale, entry.status, entry.source, entry.session_id) == (
        "Use SQLite for the job store",
        "no extra server to run",
        "active",
        "judge",
        first_session,
    )
    stop(app)

    # ---- session 2: a new start sees it, and the user reverses it -----------------
    app, model = start(
        work,
        isolated_home,
        [
            text("Switched the job store to Redis."),
            summary(
                "Job store moved to Redis",
                [
                    {"what": "Use SQLite for the job store", "status": "reversed"},
                    {"what": "Use Redis for the job store", "why": "SQLite locks under load"},
                ],
            ),
            judge(
                {
                    "op": "update",
                    "layer": "project",
                    "key": "job-store",
                    "kind": "decision",
                    "value": "Use SQLite for the job store",
                    "status": "reversed",
                    "rationale": "replaced by Redis: SQLite locks under load",
                },
                {
                    "op": "add",
                    "layer": "project",
                    "key": "job-store-redis",
                    "kind": "decision",
                    "value": "Use Redis for the job store",
                    "rationale": "SQLite locks under load",
                },
            ),
        ],
    )
    await turn(app, "switch the job store to Redis, SQLite locks under load")
    prefix = system(model.requests[0])
    assert "# What you remember" in prefix
    assert "- job-store: Use SQLite for the job store — why: no extra server to run" in prefix
    assert re.search(rf"## {STAMP} → {STAMP} · Job store: SQLite\n", prefix)
    assert model.requests[0].system[0].cache  # the memory is in the cached prefix
    assert "Use SQLite for the job store" in model.requests[0].system[0].text
    assert await app.end_session() is True
    judge_input = model.requests[2].messages[0].text
    assert "- job-store [decision, active]: Use SQLite for the job store" in judge_input
    stop(app)

    # ---- session 3: recalled, with the history of the decision --------------------
    app, model = start(
        work,
        isolated_home,
        [
            tool_call("memory_search", query="job store"),
            text("We used SQLite, then moved to Redis because SQLite locked under load."),
        ],
    )
    await turn(app, "remind me, what did we decide about the job store and why?")
    first = system(model.requests[0])
    recent = first[first.index("# Recent sessions in this project") :]
    assert re.search(rf"now {STAMP}\)", recent)
    titles = re.findall(rf"## {STAMP} → {STAMP} · (.+)\n", recent)
    assert titles == ["Job store moved to Redis", "Job store: SQLite"]  # newest first
    assert "- Use SQLite for the job store (reversed)" in recent
    assert "- job-store (reversed): Use SQLite for the job store — why: replaced by Redis" in first
    assert "- job-store-redis: Use Redis for the job store — why: SQLite locks under load" in (
        first
    )

    result = model.requests[1].messages[-1]
    assert result.role == "tool" and result.name == "memory_search"
    assert not result.is_error
    assert (
        "project memory (entry:job-store)\ndecision job-store [reversed]: Use SQLite for the "
        "job store — why: replaced by Redis: SQLite locks under load"
    ) in result.text
    assert (
        "project memory (entry:job-store-redis)\ndecision job-store-redis: Use Redis for the "
        "job store — why: SQLite locks under load"
    ) in result.text

    final = {e.key: (e.status, e.value) for e in app.memory.entries.all()}  # type: ignore[union-attr]
    assert final == {
        "job-store": ("reversed", "Use SQLite for the job store"),
        "job-store-redis": ("active", "Use Redis for the job store"),
    }
    mirror = (work / ".mnemo" / "MEMORY.md").read_text(encoding="utf-8")
    assert "- **job-store** (reversed): Use SQLite for the job store" in mirror
    assert "- **job-store-redis**: Use Redis for the job store" in mirror
    stop(app)


async def test_resume_restores_the_history(tmp_path: Path, isolated_home: Path) -> None:
    work = workdir(tmp_path)
    app, model = start(
        work,
        isolated_home,
        [
            tool_call("file_write", path="notes.txt", content="alpha\n"),
            text("Wrote notes.txt."),
            text("It says alpha."),
        ],
    )
    await turn(app, "write alpha into notes.txt")
    await turn(app, "what does it say?")
    session_id, history = app.session_id, list(app.agent.history)
    assert len(history) == 6
    stop(app)  # the process ends without /quit: nothing summarised

    app, model = start(work, isolated_home, [text("You asked me to write alpha.")])
    assert app.resume(session_id) == 6
    assert app.session_id == session_id
    assert app.agent.history == history
    assert app.agent.turns == 2
    await turn(app, "what did I ask first?")
    assert model.requests[0].messages[:6] == history
    assert model.requests[0].messages[6].text == "what did I ask first?"
    # The resumed turns are stored after the old ones, in one transcript.
    stored = app.memory.sessions.messages(session_id)  # type: ignore[union-attr]
    assert stored[:6] == history and len(stored) == 8
    assert app.memory.sessions.get(session_id).turns == 3  # type: ignore[union-attr]
    stop(app)


async def test_a_pinned_entry_is_never_changed_by_the_judge(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = workdir(tmp_path)
    app, model = start(
        work,
        isolated_home,
        [
            text("ok"),
            summary("style talk", []),
            judge(
                {
                    "op": "update",
                    "layer": "project",
                    "key": "Test Command",  # spelled differently: still the pinned key
                    "kind": "convention",
                    "value": "make test",
                    "status": "reversed",
                },
                {"op": "delete", "layer": "project", "key": "line-length"},
                {"op": "update", "layer": "core", "key": "terse", "value": "likes long essays"},
                {"op": "add", "layer": "project", "key": "ci", "value": "GitHub Actions"},
            ),
        ],
    )
    memory = app.memory
    assert memory is not None
    pinned = memory.entries.upsert(
        Entry("test-command", "convention", "pytest -q", rationale="fast", pinned=True)
    )
    memory.entries.upsert(Entry("line-length", "convention", "100 columns", pinned=True))
    memory.traits.observe("communication", "terse", "wants terse answers", pinned=True)

    await turn(app, "let's talk about the test command")
    await app.end_session()

    assert memory.entries.get("test-command") == pinned
    assert memory.entries.get("line-length") is not None
    trait = memory.traits.get("communication", "terse")
    assert trait is not None and trait.value == "wants terse answers"
    assert memory.entries.get("ci") is not None  # the rest of the ops applied
    # The judge was told which items are pinned.
    assert "- test-command [convention, active, pinned]: pytest -q" in (
        model.requests[2].messages[0].text
    )
    stop(app)


async def test_memory_work_that_failed_is_done_at_the_next_start(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = workdir(tmp_path)
    app, model = start(
        work,
        isolated_home,
        [
            text("Use Redis for the cache, noted."),
            summary("Cache choice", [{"what": "Redis for the cache"}]),
            text("Sure! Here are the memory operations you asked for."),  # not JSON
            text("{'ops': [oops"),  # the retry: still not JSON
        ],
    )
    await turn(app, "we'll use Redis for the cache")
    session_id = app.session_id
    progress: list[str] = []
    assert await app.end_session(progress.append) is True
    assert model.remaining == 0
    memory = app.memory
    assert memory is not None
    assert memory.summaries.for_session(session_id) is not None  # the summary made it
    row = memory.project_db.execute(
        "SELECT state, attempts, error FROM jobs WHERE kind = 'extract'"
    ).fetchone()
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["error"] == "the model's reply was not valid JSON"
    assert "memory: extraction failed: the model's reply was not valid JSON" in progress[-1]
    assert progress[-1].endswith("(attempt 1 of 3); retried later")
    assert not any("Sure!" in line for line in progress)  # never the model's reply
    assert memory.pending_jobs() == 1
    stop(app)

    # The next start, with a model that answers properly, finishes it.
    app, model = start(
        work,
        isolated_home,
        [
            judge(
                {
                    "op": "add",
                    "layer": "project",
                    "key": "cache",
                    "kind": "decision",
                    "value": "Use Redis for the cache",
                }
            )
        ],
    )
    assert app.memory is not None and app.memory.pending_jobs() == 1
    assert await app.run_memory_jobs() == 1
    assert app.memory.pending_jobs() == 0
    assert "we'll use Redis for the cache" in model.requests[0].messages[0].text
    entry = app.memory.entries.get("cache")
    assert entry is not None and entry.session_id == session_id
    assert app.memory.jobs.counts() == {"done": 2}
    # And the prompt now carries it.
    assert "- cache: Use Redis for the cache" in app.agent.context.prefix.text
    stop(app)


async def test_a_job_that_keeps_failing_is_given_up_and_reported(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = workdir(tmp_path)
    garbage = [text("no JSON here"), text("still none")]
    app, _model = start(
        work, isolated_home, [text("hi"), summary("greeting", []), *garbage], extract=True
    )
    await turn(app, "hello")
    await app.end_session()
    stop(app)
    for _ in range(2):  # two more starts, the judge as bad as ever
        app, _model = start(work, isolated_home, list(garbage))
        await app.run_memory_jobs()
        stop(app)
    app, model = start(work, isolated_home, [])
    assert app.memory is not None
    assert app.memory.pending_jobs() == 0
    (failure,) = app.memory.jobs.failures()
    assert failure[0] == "extract" and "not valid JSON" in failure[2]
    assert await app.run_memory_jobs() == 0
    assert model.requests == []  # not retried forever
    stop(app)


async def test_old_session_summaries_are_consolidated(tmp_path: Path, isolated_home: Path) -> None:
    work = workdir(tmp_path)
    for n in range(1, 3):
        app, _model = start(
            work,
            isolated_home,
            [text(f"done {n}"), summary(f"Session {n} work", [], progress=[f"step {n}"])],
            extract=False,
            consolidate_after=2,
        )
        await turn(app, f"do step {n}")
        await app.end_session()
        stop(app)
    app, model = start(
        work,
        isolated_home,
        [
            text("done 3"),
            summary("Session 3 work", [], progress=["step 3"]),
            summary("Steps one and two", [], progress=["step 1", "step 2"]),
        ],
        extract=False,
        consolidate_after=2,
    )
    await turn(app, "do step 3")
    await app.end_session()
    memory = app.memory
    assert memory is not None
    assert memory.jobs.counts() == {"done": 4}  # three summaries, one consolidation
    merge_request = model.requests[2]
    assert "Session 1 work" in merge_request.messages[0].text
    assert "Session 2 work" in merge_request.messages[0].text
    assert "Session 3 work" not in merge_request.messages[0].text  # the newest stays as it is
    current = memory.summaries.current()
    assert [(s.title, s.level) for s in current] == [
        ("Session 3 work", 0),
        ("Steps one and two", 1),
    ]
    assert sorted(current[1].covers) == sorted(
        s.id for s in memory.sessions.recent() if s.title in {"Session 1 work", "Session 2 work"}
    )
    recent = memory.recent_section().text
    assert "· Steps one and two (consolidated)" in recent
    assert "· Session 1 work" not in recent
    # The originals are still searchable.
    assert any(h.text.startswith("Session 1 work") for h in memory.search("step 1"))
    stop(app)


async def test_a_save_interrupted_by_the_user_is_finished_at_the_next_start(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = workdir(tmp_path)
    judging = asyncio.Event()
    replies = [text("noted"), summary("Cache choice", [])]

    def script(request: ModelRequest) -> Turn:
        if replies:
            return replies.pop(0)
        judging.set()  # the judge was asked; its answer never comes
        return Turn(text='{"ops": []}', delay=3_600)

    model = ScriptedModel(script)
    app = build_app(
        settings(), cwd=work, home=isolated_home, approver=StaticApprover(True), env={},
        model=model,
    )  # fmt: skip
    await turn(app, "use Redis for the cache")
    saving = asyncio.create_task(app.end_session())
    await judging.wait()
    saving.cancel()  # Ctrl-C while memory is being saved
    with contextlib.suppress(asyncio.CancelledError):
        await saving
    memory = app.memory
    assert memory is not None
    row = memory.project_db.execute(
        "SELECT state, attempts, lease_until FROM jobs WHERE kind = 'extract'"
    ).fetchone()
    assert (row["state"], row["attempts"], row["lease_until"]) == ("pending", 0, None)
    stop(app)

    # Started again a moment later: the job is not stuck behind its old lease.
    app, model = start(
        work,
        isolated_home,
        [judge({"op": "add", "layer": "project", "key": "cache", "value": "Redis"})],
    )
    assert await app.run_memory_jobs() == 1
    assert app.memory is not None and app.memory.entries.get("cache") is not None
    stop(app)
