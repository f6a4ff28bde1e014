"""The ``task`` tool through ``build_app``: a scripted model answers the parent and
each sub-agent (told apart by their system prompts); files, the guard, checkpoints
and the approver are real."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mnemocode.core.events import AgentEvent, SubagentEvent, TurnFinished, TurnStarted
from mnemocode.core.types import ModelRequest
from mnemocode.llm.testing import Turn, call, calls, text, tool_call
from mnemocode.safety.approvers import StaticApprover
from tests.extensions.skills.support import project, session, tool_texts

PARENT = "parent"


def agent_file(home: Path, name: str, tools: str, marker: str, extra: str = "") -> None:
    folder = home / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    head = f"---\nname: {name}\ndescription: The {name} agent.\ntools: {tools}\n{extra}---\n"
    (folder / f"{name}.md").write_text(head + f"You are {marker}.\n", encoding="utf-8")


def by_system(scripts: dict[str, list[Turn]]) -> Callable[[ModelRequest], Turn]:
    """Each request gets the next turn of the script whose marker its system prompt
    holds; the parent's otherwise."""

    def next_turn(request: ModelRequest) -> Turn:
        system = "\n".join(b.text for b in request.system)
        for marker, turns in scripts.items():
            if marker != PARENT and marker in system:
                return turns.pop(0)
        return scripts[PARENT].pop(0)

    return next_turn


def requests_of(model: Any, marker: str) -> list[ModelRequest]:
    return [r for r in model.requests if marker in "\n".join(b.text for b in r.system)]


async def test_a_read_only_agent_works_in_its_own_context(
    tmp_path: Path, isolated_home: Path
) -> None:
    agent_file(isolated_home, "scout", "Read, Grep", "SCOUT-7")
    work = project(tmp_path)
    (work / "notes.txt").write_text("the answer is 42\n")
    script = by_system({
        PARENT: [
            tool_call("task", agent="scout", prompt="What does notes.txt say?"),
            text("The scout says 42."),
        ],
        "SCOUT-7": [tool_call("file_read", path="notes.txt"), text("notes.txt says 42")],
    })  # fmt: skip
    app, model = session(tmp_path, isolated_home, script)  # type: ignore[arg-type]
    events: list[AgentEvent] = []
    finished = await app.run_turn("secret parent history: look at the notes", events.append)
    assert finished.text == "The scout says 42."
    first, second = requests_of(model, "SCOUT-7")
    assert "secret parent history" not in str([m.text for m in first.messages])
    assert [m.text for m in first.messages] == ["What does notes.txt say?"]
    assert "You are SCOUT-7." in first.system[0].text
    assert "SCOUT-7" not in "\n".join(b.text for b in model.requests[0].system)
    assert {t.name for t in first.tools} == {"file_read", "grep"}
    assert second is model.requests[2]
    assert "the answer is 42" in tool_texts(model, 2)[-1]  # its own file_read's result
    result = tool_texts(model, 3)[-1]
    assert result.startswith("notes.txt says 42")
    assert app.agent.totals.model_calls == 4  # the sub-agent's two calls added
    nested = [e for e in events if isinstance(e, SubagentEvent)]
    assert {e.agent for e in nested} == {"scout"}
    assert any(isinstance(e.event, TurnFinished) for e in nested)


async def _two_agents(tmp_path: Path, home: Path, tools: str) -> list[tuple[str, str]]:
    agent_file(home, "one", tools, "AGENT-ONE")
    agent_file(home, "two", tools, "AGENT-TWO")
    script = by_system({
        PARENT: [
            calls(call("task", agent="one", prompt="a"), call("task", agent="two", prompt="b")),
            text("both done"),
        ],
        "AGENT-ONE": [text("one done", delay=0.01)],
        "AGENT-TWO": [text("two done", delay=0.01)],
    })  # fmt: skip
    app, _ = session(tmp_path, home, script)  # type: ignore[arg-type]
    order: list[tuple[str, str]] = []

    def watch(event: AgentEvent) -> None:
        if isinstance(event, SubagentEvent) and isinstance(event.event, TurnStarted):
            order.append(("start", event.agent))
        if isinstance(event, SubagentEvent) and isinstance(event.event, TurnFinished):
            order.append(("end", event.agent))

    assert (await app.run_turn("do both", watch)).text == "both done"
    return order


async def test_two_read_only_agents_run_at_the_same_time(
    tmp_path: Path, isolated_home: Path
) -> None:
    order = await _two_agents(tmp_path, isolated_home, "Read")
    assert [kind for kind, _ in order] == ["start", "start", "end", "end"]


async def test_writers_run_one_at_a_time(tmp_path: Path, isolated_home: Path) -> None:
    order = await _two_agents(tmp_path, isolated_home, "Read, Write")
    assert [kind for kind, _ in order] == ["start", "end", "start", "end"]


def _writer_script() -> Callable[[ModelRequest], Turn]:
    return by_system({
        PARENT: [tool_call("task", agent="writer", prompt="write it"), text("ok")],
        "WRITER-1": [
            tool_call("file_write", path="made.txt", content="by the sub-agent\n"),
            text("wrote made.txt"),
        ],
    })  # fmt: skip


async def test_a_writer_s_edits_are_asked_and_undo_restores_them(
    tmp_path: Path, isolated_home: Path
) -> None:
    agent_file(isolated_home, "writer", "Read, Write", "WRITER-1")
    approver = StaticApprover(True)
    app, _ = session(tmp_path, isolated_home, _writer_script(), approver=approver)  # type: ignore[arg-type]
    work = project(tmp_path)
    await app.run_turn("make the file", lambda _e: None)
    assert (work / "made.txt").read_text() == "by the sub-agent\n"
    assert [r.tool for r in approver.asked] == ["file_write"]
    app.undo_last_turn()
    assert not (work / "made.txt").exists()


async def test_a_refusal_inside_the_sub_agent_is_reported_back(
    tmp_path: Path, isolated_home: Path
) -> None:
    agent_file(isolated_home, "writer", "Read, Write", "WRITER-1")
    approver = StaticApprover(False, "not today")
    app, model = session(tmp_path, isolated_home, _writer_script(), approver=approver)  # type: ignore[arg-type]
    await app.run_turn("make the file", lambda _e: None)
    assert not (project(tmp_path) / "made.txt").exists()
    result = tool_texts(model, len(model.requests) - 1)[-1]
    assert "Refused inside the sub-agent:" in result
    assert "- file_write:" in result


async def test_max_turns_caps_the_sub_agent(tmp_path: Path, isolated_home: Path) -> None:
    agent_file(isolated_home, "looper", "Read", "LOOPER-1", extra="maxTurns: 2\n")
    (project(tmp_path) / "a.txt").write_text("a\n")
    script = by_system({
        PARENT: [tool_call("task", agent="looper", prompt="loop"), text("stopped")],
        "LOOPER-1": [tool_call("file_read", path="a.txt") for _ in range(5)],
    })  # fmt: skip
    app, model = session(tmp_path, isolated_home, script)  # type: ignore[arg-type]
    await app.run_turn("go", lambda _e: None)
    assert len(requests_of(model, "LOOPER-1")) == 2
    assert "The agent stopped early: max_iterations." in tool_texts(model, 3)[-1]


async def test_an_unknown_agent_is_a_tool_error_listing_the_agents(
    tmp_path: Path, isolated_home: Path
) -> None:
    script = [tool_call("task", agent="nobody", prompt="x"), text("sorry")]
    app, model = session(tmp_path, isolated_home, script)
    await app.run_turn("go", lambda _e: None)
    told = tool_texts(model, 1)[-1]
    assert told.startswith("Unknown agent 'nobody'. Agents: ")
    assert "review" in told and "coder" in told
    task_spec = next(t for t in model.requests[0].tools if t.name == "task")
    assert "- planner:" in task_spec.description
