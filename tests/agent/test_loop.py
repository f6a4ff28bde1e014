"""The agent loop with the scripted model and real (small) tools."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mnemocode.agent.budget import TokenMeter
from mnemocode.agent.context import ContextBuilder, SystemPrefix
from mnemocode.agent.loop import Agent, ModelSlot
from mnemocode.config.settings import AgentConfig, SafetyConfig
from mnemocode.core.events import AgentEvent, Notice, ToolCallFinished
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import Message
from mnemocode.llm.testing import ScriptedCall, ScriptedModel, Turn, call, calls, text, tool_call
from mnemocode.safety.approvers import StaticApprover
from mnemocode.safety.guard import GuardedToolset
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.safety.setup import build_policy
from mnemocode.tools.base import FunctionToolset, tool


def make_agent(
    tmp_path: Path,
    script: list[Turn],
    tools: list[object],
    *,
    config: AgentConfig | None = None,
    context_window: int = 100_000,
    approver: StaticApprover | None = None,
) -> tuple[Agent, ScriptedModel, list[AgentEvent]]:
    model = ScriptedModel(script)
    ctx = ToolContext(cwd=tmp_path, sandbox=LocalSandbox(), log_dir=tmp_path / "logs")
    policy = build_policy(
        SafetyConfig(mode="ask"),
        workdir=tmp_path,
        user_home=tmp_path / "home",
        mnemo_home=tmp_path / "mnemo",
        state_dir=tmp_path / "state",
    )
    toolset = GuardedToolset(FunctionToolset(tools), approver or StaticApprover(True), policy)  # type: ignore[arg-type]
    agent = Agent(
        slot=ModelSlot(model, context_window),
        toolset=toolset,
        tool_context=ctx,
        context=ContextBuilder(SystemPrefix.build(tmp_path, [])),
        config=config or AgentConfig(),
        meter=TokenMeter(lambda s: len(s) // 4),
    )
    return agent, model, []


@tool(read_only=True)
async def wait_for_peer(name: str) -> str:
    """Waits until its peer has started too; deadlocks if calls run one by one.

    Args:
        name: which side this is.
    """
    BARRIER[name].set()
    other = "b" if name == "a" else "a"
    await asyncio.wait_for(BARRIER[other].wait(), timeout=5)
    return f"{name} done"


BARRIER: dict[str, asyncio.Event] = {}
ORDER: list[str] = []


@tool()
async def record(label: str) -> str:
    """Appends a label.

    Args:
        label: what to record.
    """
    await asyncio.sleep(0.01 if label == "first" else 0)
    ORDER.append(label)
    return label


async def test_read_only_calls_run_concurrently(tmp_path: Path) -> None:
    BARRIER.clear()
    BARRIER.update(a=asyncio.Event(), b=asyncio.Event())
    script = [
        calls(call("wait_for_peer", name="a"), call("wait_for_peer", name="b")),
        text("both done"),
    ]
    agent, _, events = make_agent(tmp_path, script, [wait_for_peer])
    finished = await agent.run_turn("go", events.append)
    assert finished.stop_reason == "end_turn"
    results = [e.result.text for e in events if isinstance(e, ToolCallFinished)]
    assert sorted(results) == ["a done", "b done"]


async def test_writing_calls_run_in_order(tmp_path: Path) -> None:
    ORDER.clear()
    script = [calls(call("record", label="first"), call("record", label="second")), text("ok")]
    agent, _, events = make_agent(tmp_path, script, [record])
    await agent.run_turn("go", events.append)
    assert ORDER == ["first", "second"]
    tool_msgs = [m for m in agent.history if m.role == "tool"]
    assert [m.text for m in tool_msgs] == ["first", "second"]


async def test_denied_action_reaches_the_model_with_the_reason(tmp_path: Path) -> None:
    script = [tool_call("record", label="x"), text("understood")]
    approver = StaticApprover(False, "not on a Friday", by="user")
    agent, model, events = make_agent(tmp_path, script, [record], approver=approver)
    await agent.run_turn("go", events.append)
    last_request = model.requests[-1]
    tool_msg = [m for m in last_request.messages if m.role == "tool"][-1]
    assert "Denied by user: not on a Friday" in tool_msg.text


async def test_invalid_json_arguments_become_an_error_result(tmp_path: Path) -> None:
    bad = Turn(tool_calls=(ScriptedCall("record", raw_arguments='{"label": "x"'),))
    agent, model, events = make_agent(tmp_path, [bad, text("sorry")], [record])
    await agent.run_turn("go", events.append)
    tool_msg = [m for m in model.requests[-1].messages if m.role == "tool"][-1]
    assert "not valid JSON" in tool_msg.text


async def test_unknown_tool_is_reported_not_raised(tmp_path: Path) -> None:
    agent, model, events = make_agent(tmp_path, [tool_call("nope"), text("ok")], [record])
    finished = await agent.run_turn("go", events.append)
    assert finished.stop_reason == "end_turn"
    tool_msg = [m for m in model.requests[-1].messages if m.role == "tool"][-1]
    assert "Unknown tool 'nope'" in tool_msg.text and "record" in tool_msg.text


async def test_same_call_repeated_warns_then_stops(tmp_path: Path) -> None:
    script = [tool_call("wait_for_peer", name="solo")] * 10
    BARRIER.clear()
    BARRIER.update(solo=asyncio.Event(), a=asyncio.Event())
    BARRIER["a"].set()

    agent, model, events = make_agent(tmp_path, script, [wait_for_peer])
    finished = await agent.run_turn("go", events.append)
    assert finished.stop_reason == "stall"
    warnings = [e.message for e in events if isinstance(e, Notice) and e.level == "warning"]
    assert warnings[0].startswith("Stall warning: you have made the same tool call 3 times")
    assert finished.iterations == 5  # warned at 3, stopped at 3 + grace
    # The model saw the warning inside the conversation.
    assert any("[mnemo] Stall warning" in m.text for m in model.requests[3].messages)


async def test_max_iterations_stops_with_explanation(tmp_path: Path) -> None:
    script = [tool_call("record", label=str(i)) for i in range(5)]
    agent, _, events = make_agent(tmp_path, script, [record], config=AgentConfig(max_iterations=3))
    finished = await agent.run_turn("go", events.append)
    assert finished.stop_reason == "max_iterations"
    assert "Stopped after 3 iterations" in finished.text


@tool(read_only=True)
async def big_output(size: int) -> str:
    """Returns a lot of text.

    Args:
        size: characters.
    """
    return "".join(f"line {i}\n" for i in range(size // 7))[:size]


async def test_oversized_tool_output_is_cut_and_saved(tmp_path: Path) -> None:
    script = [tool_call("big_output", size=50_000), text("done")]
    agent, model, events = make_agent(
        tmp_path, script, [big_output], config=AgentConfig(tool_output_max_chars=3_000)
    )
    await agent.run_turn("go", events.append)
    tool_msg = [m for m in model.requests[-1].messages if m.role == "tool"][-1]
    assert len(tool_msg.text) < 3_500
    assert "characters omitted of 50000" in tool_msg.text
    saved = tool_msg.text.split("saved at ")[1].split(":")[0]
    content = await asyncio.to_thread(Path(saved).read_text)
    assert content.startswith("line 0\nline 1\n") and len(content) == 50_000


async def test_context_check_prunes_old_tool_outputs(tmp_path: Path) -> None:
    script = [tool_call("big_output", size=20_000) for _ in range(3)] + [text("done")]
    agent, model, events = make_agent(tmp_path, script, [big_output], context_window=9_000)
    finished = await agent.run_turn("go", events.append)
    assert finished.stop_reason == "end_turn"
    first_tool = next(m for m in model.requests[-1].messages if m.role == "tool")
    assert first_tool.text.startswith("[output pruned")
    assert any(isinstance(e, Notice) and "Pruned old tool outputs" in e.message for e in events)


@tool()
async def slow(seconds: float) -> str:
    """Sleeps.

    Args:
        seconds: how long.
    """
    await asyncio.sleep(seconds)
    return "woke"


async def test_cancel_during_a_tool_leaves_no_dangling_call(tmp_path: Path) -> None:
    script = [calls(call("slow", seconds=30), call("slow", seconds=30)), text("never")]
    agent, _, events = make_agent(tmp_path, script, [slow])
    task = asyncio.create_task(agent.run_turn("go", events.append))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    ids = [c.id for m in agent.history if m.role == "assistant" for c in m.tool_calls]
    answered = [m.tool_call_id for m in agent.history if m.role == "tool"]
    assert ids == answered and len(ids) == 2
    first, second = (m.text for m in agent.history if m.role == "tool")
    assert first.startswith("Interrupted by the user after ")  # it ran, and was cut short
    assert second == "Not run: cancelled by the user."


async def test_cancel_during_streaming_keeps_partial_text(tmp_path: Path) -> None:
    agent, _, events = make_agent(tmp_path, [text("partial answer", delay=30)], [])
    task = asyncio.create_task(agent.run_turn("go", events.append))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert agent.history[-1].role == "assistant"
    assert agent.history[-1].text.endswith("[interrupted by the user]")


async def test_history_from_previous_turns_is_sent(tmp_path: Path) -> None:
    agent, model, events = make_agent(tmp_path, [text("first"), text("second")], [])
    await agent.run_turn("one", events.append)
    await agent.run_turn("two", events.append)
    roles = [(m.role, m.text) for m in model.requests[1].messages]
    assert roles == [("user", "one"), ("assistant", "first"), ("user", "two")]
    assert model.requests[0].system == model.requests[1].system  # stable prefix
    assert isinstance(agent.history[0], Message)
