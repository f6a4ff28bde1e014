"""A small context window (a local 4k model): the answer's reserve is a share of
the window, the refusal advice says what takes the room."""

from __future__ import annotations

from pathlib import Path

from mnemocode.agent.budget import TokenMeter, output_reserve
from mnemocode.agent.context import ContextBuilder, SystemPrefix
from mnemocode.agent.loop import Agent, ModelSlot
from mnemocode.config.settings import AgentConfig
from mnemocode.core.events import AgentEvent, Notice
from mnemocode.core.protocols import ToolContext
from mnemocode.llm.testing import ScriptedModel, text
from mnemocode.llm.tokens import count_tokens
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.tools.base import FunctionToolset
from mnemocode.tools.builtin import builtin_tools


def make_agent(
    tmp_path: Path, model: ScriptedModel, window: int, max_output: int | None = 8_192
) -> Agent:
    return Agent(
        slot=ModelSlot(model, window),
        toolset=FunctionToolset(builtin_tools()),
        tool_context=ToolContext(cwd=tmp_path, sandbox=LocalSandbox()),
        context=ContextBuilder(SystemPrefix.build(tmp_path, []), max_output),
        config=AgentConfig(),
        meter=TokenMeter(count_tokens),
    )


def test_output_reserve_is_at_most_a_quarter_of_the_window() -> None:
    assert output_reserve(4_096, 8_192) == 1_024
    assert output_reserve(200_000, 8_192) == 8_192
    assert output_reserve(32_768, 8_192) == 8_192
    assert output_reserve(16_384, 8_192) == 4_096
    assert output_reserve(4_096, 500) == 500
    assert output_reserve(4_096, None) is None


async def test_default_max_output_tokens_fits_a_4k_window(tmp_path: Path) -> None:
    model = ScriptedModel([text("first"), text("second"), text("third")])
    agent = make_agent(tmp_path, model, 4_096)
    events: list[AgentEvent] = []
    for prompt in ("one", "two", "three"):
        finished = await agent.run_turn(prompt, events.append)
        assert finished.stop_reason == "end_turn", finished.text
    assert [r.max_output_tokens for r in model.requests] == [1_024] * 3
    notes = [
        e.message for e in events if isinstance(e, Notice) and "max_output_tokens" in e.message
    ]
    assert len(notes) == 1  # said once
    assert "1024" in notes[0] and "4096" in notes[0]


async def test_refusal_names_what_takes_the_room(tmp_path: Path) -> None:
    agent = make_agent(tmp_path, ScriptedModel([]), 4_096)
    finished = await agent.run_turn("word " * 5_000, lambda _e: None)
    assert finished.stop_reason == "context_overflow"
    assert "switch to a model with a larger context window" not in finished.text
    assert "your message" in finished.text.lower()
    assert "4096" in finished.text and "1024" in finished.text  # the window and the reserve


def test_compact_tool_set_for_small_windows() -> None:
    from mnemocode.tools.builtin import SMALL_WINDOW, tools_for_window

    full, none_left = tools_for_window(SMALL_WINDOW + 1)
    small, left_out = tools_for_window(4_096)
    assert none_left == [] and left_out == ["web_search", "memory_search"]
    assert [t.name for t in small] == [t.name for t in full if t.name not in left_out]
    shell = next(t for t in small if t.name == "shell_exec").spec
    assert "background_after_s" not in shell.parameters["properties"]
    assert shell.parameters["required"] == ["command"]
    size = sum(count_tokens(f"{t.spec.description}{t.spec.parameters}") for t in small)
    full_size = sum(count_tokens(f"{t.spec.description}{t.spec.parameters}") for t in full)
    assert size < full_size / 2


def test_memory_caps_scale_with_the_window() -> None:
    from mnemocode.agent.budget import memory_caps

    assert memory_caps(4_096, 4_000, 6_000) == (204, 163)
    assert memory_caps(200_000, 4_000, 6_000) == (4_000, 6_000)
    assert memory_caps(32_768, 0, 6_000) == (0, 1_310)


def test_prompt_lines_about_a_missing_tool_are_left_out(tmp_path: Path) -> None:
    with_all = SystemPrefix.build(tmp_path, []).text
    without = SystemPrefix.build(tmp_path, [], tool_names={"file_read", "shell_exec"}).text
    assert "memory_search" in with_all and "memory_search" not in without
    assert "Read before you change" in without
