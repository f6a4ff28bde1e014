"""Compaction inside the real app: a small context window, turns full of code and
tool output, a decision to keep. What the summariser is sent, what the model sees
afterwards, what stays stored, and resuming from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mnemocode.app import App, build_app
from mnemocode.config.settings import (
    AgentConfig,
    MemoryConfig,
    ModelConfig,
    RouterConfig,
    Settings,
)
from mnemocode.core.events import AgentEvent, Notice
from mnemocode.core.types import ModelRequest
from mnemocode.llm.testing import ScriptedModel, Turn, text, tool_call
from mnemocode.memory.transcript import is_user_turn
from mnemocode.safety.approvers import StaticApprover

AGENTS_MD = "Always run `make check` before saying a change is done. Codename: OSPREY."
PINNED_LINE = "- never-push-main (pinned): Never push to main; open a pull request"
MEMORY_MD = """# Project memory: shop

## Conventions

- **never-push-main** (pinned): Never push to main; open a pull request
"""
DECISION = "Decision: we use SQLite for the job store (zanzibar: no server to run)."
SQL = "```sql\nCREATE TABLE jobs (\n  id INTEGER PRIMARY KEY,\n  kind TEXT,\n  state TEXT\n);\n```"
COMPACTION_MARK = "You compress the earlier part of a conversation"


def python_block(name: str, lines: int = 12) -> str:
    body = "\n".join(f"    step_{i} = {name}_helper({i})  # keeps state {i}" for i in range(lines))
    return f"```python\ndef {name}():\n{body}\n```"


def long_reply(n: int) -> str:
    prose = f"Part {n}: the lease logic hands a job to one runner at a time. " * 40
    return f"{prose}\n\nHere is the change:\n{python_block(f'lease_v{n}')}\n\nDone with part {n}."


PROMPTS = [
    f"{DECISION} The schema:\n{SQL}",
    "read src/jobs.py",
    "explain the lease",
    "now add a retry to lease()",
    "and a backoff",
    "what did we decide about the job store?",
]


def summary_json(n: int) -> str:
    return json.dumps(
        {
            "topics": [f"job store work, part {n}"],
            "decisions": [{"what": "Use SQLite for the job store", "why": "no server to run"}],
            "progress": [f"summary number {n}"],
            "key_facts": ["src/jobs.py", PINNED_LINE.removeprefix("- ")],
        }
    )


class Scripted:
    """The model: summaries when asked to compact, the agent's turns otherwise
    (chosen by the prompt being answered, so wherever compaction happens)."""

    def __init__(self, summary_replies: list[str] | None = None) -> None:
        self.summaries = 0
        self.summary_replies = summary_replies

    def __call__(self, request: ModelRequest) -> Turn:
        if COMPACTION_MARK in request.system[0].text:
            self.summaries += 1
            if self.summary_replies is not None:
                return text(self.summary_replies.pop(0))
            return text(summary_json(self.summaries))
        prompt = next(m.text for m in reversed(request.messages) if is_user_turn(m))
        last = request.messages[-1]
        if prompt == "read src/jobs.py" and last.role == "user":
            return tool_call("file_read", path="src/jobs.py")
        return text(long_reply(PROMPTS.index(prompt)))


def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "shop"
    (work / "src").mkdir(parents=True)
    (work / ".git").mkdir()
    (work / "AGENTS.md").write_text(AGENTS_MD, encoding="utf-8")
    (work / ".mnemo").mkdir()
    (work / ".mnemo" / "MEMORY.md").write_text(MEMORY_MD, encoding="utf-8")
    source = "\n".join(f"def job_{i}(queue):\n    return queue.lease({i})\n" for i in range(120))
    (work / "src" / "jobs.py").write_text(source, encoding="utf-8")
    return work


def start(
    work: Path, home: Path, model: ScriptedModel, *, window: int = 6_000, **memory: Any
) -> App:
    settings = Settings(
        models={"t": ModelConfig(model="scripted", context_window=window, max_output_tokens=300)},
        active_model="t",
        agent=AgentConfig(tool_output_max_chars=4_000),
        memory=MemoryConfig(**{"compact_at": 0.5, "keep_recent_turns": 2, **memory}),
        router=RouterConfig(strategy="direct"),  # the script answers tool-loop turns
    )
    return build_app(
        settings, cwd=work, home=home, approver=StaticApprover(True), env={}, model=model
    )


def is_summary_request(request: ModelRequest) -> bool:
    return COMPACTION_MARK in request.system[0].text


def system_text(request: ModelRequest) -> str:
    return "\n\n".join(b.text for b in request.system)


async def run(app: App, prompts: list[str], events: list[AgentEvent]) -> None:
    for prompt in prompts:
        finished = await app.run_turn(prompt, events.append)
        assert finished.stop_reason == "end_turn", finished


async def test_compaction_in_a_long_session(tmp_path: Path, isolated_home: Path) -> None:
    work = workdir(tmp_path)
    script = Scripted()
    model = ScriptedModel(script)
    app = start(work, isolated_home, model)
    memory = app.memory
    assert memory is not None
    events: list[AgentEvent] = []
    await run(app, PROMPTS, events)

    summaries = [r for r in model.requests if is_summary_request(r)]
    agent_requests = [r for r in model.requests if not is_summary_request(r)]
    assert len(summaries) >= 2, "the session was long enough to compact twice"
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert sum("Compacted the conversation" in n for n in notices) == len(summaries)

    # What the summariser got: the decision in words, code only as markers, the
    # pinned items to keep.
    first = summaries[0].messages[0].text
    assert DECISION in first
    assert "```" not in first
    assert "[code: 5 lines of sql]" in first
    assert "[code: 13 lines of python]" in first
    assert "CREATE TABLE" not in first and "lease_v0_helper" not in first
    preserve = "copy it verbatim into key_facts:\n" + PINNED_LINE + "\n</preserve>"
    assert preserve in first
    assert "<older_summary>" not in first
    assert summaries[0].tools == []
    # The next compaction merges the previous summary in.
    second = summaries[1].messages[0].text
    assert "<older_summary>\n# Summary of the earlier conversation" in second
    assert "summary number 1" in second
    assert "```" not in second

    # The request after the first compaction: the summary as a system block after
    # the prefix, the old turns gone, the recent ones verbatim.
    after = model.requests[model.requests.index(summaries[0]) + 1]
    assert not is_summary_request(after)
    blocks = [b.text for b in after.system]
    summary_block = next(b for b in blocks if b.startswith("# Summary of the earlier conversation"))
    assert "- Use SQLite for the job store — no server to run" in summary_block
    assert "summary number 1" in summary_block
    assert blocks.index(summary_block) > 0
    assert all(DECISION not in m.text for m in after.messages)
    assert is_user_turn(after.messages[0])
    before = model.requests[model.requests.index(summaries[0]) - 1]
    assert before.messages[0].text.startswith(DECISION)  # it was there the call before
    assert sum(is_user_turn(m) for m in after.messages) == 2  # keep_recent_turns

    # The prefix never changed: AGENTS.md and the pinned entry in every request.
    prefixes = {r.system[0].text for r in agent_requests}
    assert len(prefixes) == 1
    (prefix,) = prefixes
    assert AGENTS_MD in prefix
    assert PINNED_LINE in prefix

    # The last request: the latest summary, then the live history, verbatim.
    last = agent_requests[-1]
    assert "summary number" in system_text(last)
    assert f"summary number {len(summaries)}" in app.agent.context.summary
    assert last.messages == app.agent.history[:-1]
    prompts_seen = [m.text for m in last.messages if is_user_turn(m)]
    assert prompts_seen[-2:] == PROMPTS[-2:]
    assert len(prompts_seen) <= 3

    # Every message is still stored, and searchable; the live history is the
    # summary and the messages after it.
    stored = memory.sessions.messages(app.session_id)
    assert [m.text for m in stored if is_user_turn(m)] == PROMPTS
    assert stored[0].text.startswith(DECISION)
    assert app.history_offset + len(app.agent.history) == len(stored)
    # The recent turns the model saw are the stored ones, word for word (only
    # old tool outputs may have been pruned in the live history).
    tail = stored[app.history_offset : app.history_offset + len(last.messages)]
    assert [m for m in last.messages if m.role != "tool"] == [m for m in tail if m.role != "tool"]
    hits = memory.search("zanzibar", sources=("history",))
    assert hits and hits[0].ref == f"msg:{app.session_id}:0"
    summary, live = memory.sessions.live_history(app.session_id)
    assert summary == app.agent.context.summary
    assert live == app.agent.history
    compactions = memory.project_db.execute(
        "SELECT upto_seq FROM compactions WHERE session_id = ? ORDER BY id", (app.session_id,)
    ).fetchall()
    assert len(compactions) == len(summaries)
    assert compactions[-1][0] == app.history_offset

    # A new process resumes from the summary and the messages after it.
    session_id = app.session_id
    memory.close()
    model2 = ScriptedModel([text("SQLite, because it needs no server.")])
    app2 = start(work, isolated_home, model2, window=200_000)
    assert app2.resume(session_id) == len(live)
    assert app2.agent.context.summary == summary
    finished = await app2.run_turn("remind me which store", lambda _e: None)
    assert finished.stop_reason == "end_turn"
    (request,) = model2.requests
    assert summary in [b.text for b in request.system]
    assert request.messages[: len(live)] == live
    assert AGENTS_MD in request.system[0].text and PINNED_LINE in request.system[0].text
    assert app2.memory is not None
    assert app2.memory.sessions.messages(session_id)[: len(stored)] == stored
    app2.memory.close()


async def test_forced_compaction(tmp_path: Path, isolated_home: Path) -> None:
    work = workdir(tmp_path)
    script = Scripted()
    model = ScriptedModel(script)
    app = start(work, isolated_home, model, window=200_000)  # never compacts by itself
    assert app.memory is not None
    events: list[AgentEvent] = []

    await run(app, PROMPTS[:1], events)
    assert await app.agent.compact(events.append, force=True) == 0  # one turn: nothing old
    assert "Nothing old enough to compact yet." in [
        e.message for e in events if isinstance(e, Notice)
    ]

    await run(app, PROMPTS[1:4], events)
    assert script.summaries == 0
    history = list(app.agent.history)
    starts = [i for i, m in enumerate(history) if is_user_turn(m)]
    removed = await app.agent.compact(events.append, force=True)

    assert script.summaries == 1
    assert removed == starts[-2]  # everything before the two most recent turns
    assert app.agent.history == history[removed:]
    assert app.agent.context.summary.startswith("# Summary of the earlier conversation")
    assert app.history_offset == removed
    assert app.memory.sessions.live_history(app.session_id) == (
        app.agent.context.summary,
        app.agent.history,
    )
    # Turn numbers still point at the right messages (rewind, undo).
    assert sorted(app.agent.turn_starts) == [3, 4]
    assert app.agent.turn_starts[3] == 0
    # Rewinding a turn after the compaction cuts the stored transcript in the
    # right place too.
    app.rewind(4, files=False)
    stored = app.memory.sessions.messages(app.session_id)
    assert [m.text for m in stored if is_user_turn(m)] == PROMPTS[:3]
    assert app.memory.sessions.live_history(app.session_id)[1] == app.agent.history
    app.memory.close()


async def test_a_failed_compaction_keeps_the_history(tmp_path: Path, isolated_home: Path) -> None:
    work = workdir(tmp_path)
    script = Scripted(summary_replies=["not json", "still not json"])
    model = ScriptedModel(script)
    app = start(work, isolated_home, model, window=200_000)
    assert app.memory is not None
    events: list[AgentEvent] = []
    await run(app, PROMPTS[:4], events)
    history = list(app.agent.history)

    assert await app.agent.compact(events.append, force=True) == 0

    assert app.agent.history == history
    assert app.agent.context.summary == ""
    warnings = [e.message for e in events if isinstance(e, Notice) and e.level == "warning"]
    assert any(w.startswith("Compaction failed") and "history kept" in w for w in warnings)
    assert app.memory.sessions.live_history(app.session_id) == (None, history)
    app.memory.close()
