"""A tool name the toolset does not have is an immediate error that lists the
tools there are — never a permission question — and the audit log says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnemocode.agent.budget import TokenMeter
from mnemocode.agent.context import ContextBuilder, SystemPrefix
from mnemocode.agent.loop import Agent, ModelSlot
from mnemocode.config.settings import AgentConfig, SafetyConfig
from mnemocode.core.events import AgentEvent, ToolCallFinished
from mnemocode.core.protocols import ToolContext
from mnemocode.llm.testing import FakeOpenAIServer, ScriptedModel, text, tool_call
from mnemocode.safety.approvers import StaticApprover
from mnemocode.safety.setup import build_safety
from mnemocode.tools.base import FunctionToolset
from mnemocode.tools.builtin import builtin_tools
from tests.conftest import run_mnemo, write_global_config

PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n"


@pytest.mark.parametrize("mode", ["ask", "auto", "bypass"])
async def test_an_unknown_tool_is_an_error_not_a_question(tmp_path: Path, mode: str) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    approver = StaticApprover(True, by="user")
    safety = build_safety(
        SafetyConfig(mode=mode),  # type: ignore[arg-type]
        inner=FunctionToolset(builtin_tools()),
        approver=approver,
        workdir=work,
        user_home=home,
        mnemo_home=home / ".mnemo",
        state_dir=home / ".mnemo" / "projects" / "p",
        env={},
    )
    model = ScriptedModel([tool_call("frobnicate", path="hello.txt", patch=PATCH), text("ok")])
    agent = Agent(
        slot=ModelSlot(model, 100_000),
        toolset=safety.guard,
        tool_context=ToolContext(cwd=work, sandbox=safety.sandbox, session_id="s"),
        context=ContextBuilder(SystemPrefix.build(work, [])),
        config=AgentConfig(),
        meter=TokenMeter(lambda s: len(s) // 4),
    )
    events: list[AgentEvent] = []
    finished = await agent.run_turn("patch it", events.append)
    assert finished.stop_reason == "end_turn"
    assert approver.asked == []
    [result] = [e.result for e in events if isinstance(e, ToolCallFinished)]
    assert result.is_error
    assert result.text.startswith("Unknown tool 'frobnicate'. Available tools: ")
    assert "file_edit" in result.text and "shell_exec" in result.text
    assert "rule" not in result.text and "--yes" not in result.text
    [entry] = safety.audit.query(tool="frobnicate")  # type: ignore[union-attr]
    assert (entry.decision, entry.outcome, entry.decided_by) == ("deny", "denied", "unknown-tool")
    assert entry.reason == "not one of the available tools"


def test_headless_reports_an_unknown_tool_as_such(tmp_path: Path, isolated_home: Path) -> None:
    """A model trained on Codex calls apply_patch; without the tool offered (a model
    name that does not look GPT-trained) it is told what exists, not to rerun."""
    config = 'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
    script = [tool_call("apply_patch", input=PATCH), text("I will use file_write then.")]
    with FakeOpenAIServer(script) as server:
        write_global_config(isolated_home, config + f'base_url = "{server.base_url}"\n')
        proc = run_mnemo(
            ["-p", "add hello.txt", "--strategy", "direct"], cwd=tmp_path, home=isolated_home
        )
        second = server.chat_requests[1].messages
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "hello.txt").exists()
    tool_msg = next(m for m in second if m["role"] == "tool")
    content = str(tool_msg["content"])
    assert "Unknown tool 'apply_patch'. Available tools:" in content and "file_edit" in content
    assert "--yes" not in content
    audit = run_mnemo(["audit", "--json"], cwd=tmp_path, home=isolated_home)
    [entry] = [json.loads(line) for line in audit.stdout.splitlines()]
    assert entry["tool"] == "apply_patch" and entry["decided_by"] == "unknown-tool"
    assert entry["source"] == "policy"
