"""A tool's reported duration is the time it ran, not the time the user took to
answer its approval question."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from mnemocode.agent.budget import TokenMeter
from mnemocode.agent.context import ContextBuilder, SystemPrefix
from mnemocode.agent.loop import Agent, ModelSlot
from mnemocode.config.settings import AgentConfig, SafetyConfig
from mnemocode.core.events import AgentEvent, ToolCallFinished
from mnemocode.core.protocols import ApprovalDecision, ApprovalRequest, ToolContext
from mnemocode.llm.testing import ScriptedModel, text, tool_call
from mnemocode.safety.guard import GuardedToolset
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.safety.setup import build_policy
from mnemocode.tools.base import FunctionToolset, tool

RAN: dict[str, float] = {}


@tool()
async def build(target: str) -> str:
    """Builds a target (changes files, so ask mode asks first).

    Args:
        target: what to build.
    """
    RAN["start"] = time.monotonic()
    await asyncio.sleep(0.01)
    RAN["end"] = time.monotonic()
    return f"built {target}"


class SlowUser:
    """Answers once the test says so, and notes when its answer returned."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()
        self.returned_at = 0.0

    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        self.asked.set()
        await self.answer.wait()
        self.returned_at = time.monotonic()
        return ApprovalDecision(True, "", "once", "user")


async def test_the_duration_does_not_include_the_approval_wait(tmp_path: Path) -> None:
    user = SlowUser()
    policy = build_policy(
        SafetyConfig(mode="ask"),
        workdir=tmp_path,
        user_home=tmp_path / "home",
        mnemo_home=tmp_path / "mnemo",
        state_dir=tmp_path / "state",
    )
    agent = Agent(
        slot=ModelSlot(ScriptedModel([tool_call("build", target="all"), text("done")]), 100_000),
        toolset=GuardedToolset(FunctionToolset([build]), user, policy),
        tool_context=ToolContext(cwd=tmp_path, sandbox=LocalSandbox()),
        context=ContextBuilder(SystemPrefix.build(tmp_path, [])),
        config=AgentConfig(),
        meter=TokenMeter(lambda s: len(s) // 4),
    )
    finished: list[tuple[ToolCallFinished, float]] = []

    def emit(event: AgentEvent) -> None:
        if isinstance(event, ToolCallFinished):
            finished.append((event, time.monotonic()))

    turn = asyncio.create_task(agent.run_turn("build it", emit))
    await user.asked.wait()
    await asyncio.sleep(0.2)  # the user reads the question; no assertion depends on it
    user.answer.set()
    await turn
    [(event, seen_at)] = finished
    assert event.result.text == "built all"
    # Within the span from the answer to the event, and covering the run itself.
    assert event.duration_s <= seen_at - user.returned_at
    assert event.duration_s >= RAN["end"] - RAN["start"]
