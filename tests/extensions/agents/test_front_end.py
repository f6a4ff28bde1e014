"""A sub-agent's steps shown nested under its call, and /agents in the real REPL."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from mnemocode.cli.render import Renderer
from mnemocode.core.events import SubagentEvent, ToolCallFinished, TurnFinished
from mnemocode.core.types import ToolCall, ToolResult, Usage
from tests.cli.repl_harness import repl_session


def test_sub_agent_steps_are_indented_under_the_call() -> None:
    out = io.StringIO()
    renderer = Renderer(Console(file=out, force_terminal=False, width=100))
    call = ToolCall("c1", "file_read", {"path": "notes.txt"})
    read = ToolCallFinished(call, ToolResult.of_text(call, "hello\n"), 0.1)
    renderer(SubagentEvent("scout", "t1", read))
    renderer(SubagentEvent("scout", "t1", TurnFinished("ok", "end_turn", Usage(), None, 2)))
    deeper = SubagentEvent("scout", "t1", SubagentEvent("file", "t2", read, depth=2))
    renderer(deeper)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("  ↳ scout: ✓ ")
    assert lines[1] == "  ↳ scout: done (end_turn, 2 iterations)"
    assert lines[2].startswith("    ↳ file: ✓ ")


async def test_slash_agents_lists_name_source_tools_and_model(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "agents"
    folder.mkdir(parents=True)
    (folder / "scout.md").write_text(
        "---\nname: scout\ndescription: Finds things.\ntools: Read, Grep\nmodel: fast\n---\nx\n"
    )
    async with repl_session(tmp_path, []) as s:
        s.send("/agents\n")
        await s.wait_for("Finds things.")
        assert "scout  (user · model fast)" in s.output
        assert "tools: file_read, grep" in s.output
        assert "review  (builtin · model inherit · at most 15 turns)" in s.output
