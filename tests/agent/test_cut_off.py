"""A failed stream leaves the text the user already saw in the history, marked as
cut off — over the real openai SDK and the fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from mnemocode.agent.budget import TokenMeter
from mnemocode.agent.context import ContextBuilder, SystemPrefix
from mnemocode.agent.loop import CUT_OFF_NOTE, Agent, ModelSlot
from mnemocode.config.settings import AgentConfig
from mnemocode.core.events import AgentEvent, ErrorEvent
from mnemocode.core.protocols import ToolContext
from mnemocode.llm.openai_compat import OpenAICompatModel
from mnemocode.llm.retry import RetryingModel
from mnemocode.llm.testing import FakeOpenAIServer, Turn, cut, dropped, text
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.tools.base import FunctionToolset

AgentFactory = Callable[[FakeOpenAIServer], Agent]


@pytest.fixture
async def agent_for(tmp_path: Path) -> AsyncIterator[AgentFactory]:
    models: list[OpenAICompatModel] = []

    def make(server: FakeOpenAIServer) -> Agent:
        inner = OpenAICompatModel("fake-model", base_url=server.base_url, name="local")
        models.append(inner)
        return Agent(
            slot=ModelSlot(RetryingModel(inner, 2, base_delay=0.01), 100_000),
            toolset=FunctionToolset([]),
            tool_context=ToolContext(cwd=tmp_path, sandbox=LocalSandbox()),
            context=ContextBuilder(SystemPrefix.build(tmp_path, [])),
            config=AgentConfig(),
            meter=TokenMeter(lambda s: len(s) // 4),
        )

    yield make
    for model in models:
        await model.aclose()


@pytest.mark.parametrize(
    "failing",
    [
        cut("The bug is in parse() because", after=2),
        dropped("The bug is in parse() because", after=2),
    ],
    ids=["cut-cleanly", "connection-dropped"],
)
async def test_partial_answer_stays_in_history_marked_cut_off(
    agent_for: AgentFactory, failing: Turn
) -> None:
    with FakeOpenAIServer([failing, text("Sorry, again: parse() drops the last line.")]) as server:
        agent = agent_for(server)
        events: list[AgentEvent] = []
        finished = await agent.run_turn("why does it fail?", events.append)
        assert finished.stop_reason == "error"
        assert any(isinstance(e, ErrorEvent) for e in events)
        last = agent.history[-1]
        assert last.role == "assistant"
        assert last.text == f"The bug is in parse(\n\n{CUT_OFF_NOTE}"
        # The next turn sends it (a strict server accepts the history) and goes on.
        again = await agent.run_turn("go on", events.append)
        sent = server.chat_requests[-1].messages
    assert again.stop_reason == "end_turn"
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert CUT_OFF_NOTE in str(sent[2]["content"])


async def test_retried_cut_leaves_no_note(agent_for: AgentFactory) -> None:
    with FakeOpenAIServer([cut("unseen", after=0), text("complete answer")]) as server:
        agent = agent_for(server)
        finished = await agent.run_turn("hi", lambda _e: None)
    assert finished.stop_reason == "end_turn" and finished.text == "complete answer"
    assert [m.text for m in agent.history] == ["hi", "complete answer"]
