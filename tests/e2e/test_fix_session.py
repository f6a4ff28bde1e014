"""The end-to-end story from the issue: the model reads a file, edits it, runs the
project's tests, sees a failure, fixes it, and finishes — once in-process, once
through `mnemo -p --output-format stream-json` against the fake HTTP server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mnemocode.app import build_app
from mnemocode.config.settings import ModelConfig, Settings
from mnemocode.core.events import AgentEvent, ToolCallFinished, TurnFinished
from mnemocode.llm.testing import FakeOpenAIServer, ScriptedModel
from mnemocode.safety.approvers import StaticApprover
from tests.conftest import run_mnemo, write_global_config
from tests.e2e.project import FIXED, fix_session_turns, make_project


def _tool_texts(messages: list[dict[str, object]] | list[object]) -> str:
    return json.dumps(messages, default=str)


async def test_fix_session_in_process(tmp_path: Path, isolated_home: Path) -> None:
    project = make_project(tmp_path / "proj")
    model = ScriptedModel(fix_session_turns(sys.executable))
    settings = Settings(models={"test": ModelConfig(model="scripted")}, active_model="test")
    approver = StaticApprover(True)
    app = build_app(
        settings, cwd=project, home=isolated_home, approver=approver, env={}, model=model
    )
    events: list[AgentEvent] = []

    finished = await app.agent.run_turn("Make test_calc.py pass.", events.append)

    assert finished.stop_reason == "end_turn"
    assert (project / "calc.py").read_text() == FIXED
    shell_results = [
        e.result.text
        for e in events
        if isinstance(e, ToolCallFinished) and e.call.name == "shell_exec"
    ]
    assert len(shell_results) == 2
    assert "FAILED: mul(2, 3) == 5, expected 6" in shell_results[0]
    assert "ALL PASSED" in shell_results[1]
    # The failure really reached the model before it made the second fix.
    fourth = model.requests[3]
    assert any("FAILED: mul" in m.text for m in fourth.messages if m.role == "tool")
    # Only the writes and commands asked; the reads did not.
    asked = [r.tool for r in approver.asked]
    assert asked == ["file_edit", "shell_exec", "file_edit", "shell_exec"]
    # The transcript keeps every call with its result, ids matching.
    history = app.agent.history
    call_ids = [c.id for m in history if m.role == "assistant" for c in m.tool_calls]
    result_ids = [m.tool_call_id for m in history if m.role == "tool"]
    assert call_ids == result_ids and len(call_ids) == 6
    assert isinstance(events[-1], TurnFinished)


def test_fix_session_through_cli_stream_json(tmp_path: Path, isolated_home: Path) -> None:
    project = make_project(tmp_path / "proj")
    with FakeOpenAIServer(fix_session_turns(sys.executable)) as server:
        write_global_config(
            isolated_home,
            f'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
            f'base_url = "{server.url}"\n',
        )
        proc = run_mnemo(
            [
                *("-p", "Make test_calc.py pass.", "--output-format", "stream-json"),
                *("--yes", "--strategy", "direct"),
            ],
            cwd=project,
            home=isolated_home,
        )
        requests = server.requests
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [line["type"] for line in lines]
    assert kinds[0] == "init" and kinds[-1] == "result"
    assert "text_delta" in kinds and kinds.count("model_call") == 6
    results = [line for line in lines if line["type"] == "tool_result"]
    shell = [r["result"]["text"] for r in results if r["call"]["name"] == "shell_exec"]
    assert "FAILED: mul(2, 3) == 5" in shell[0] and "ALL PASSED" in shell[1]
    final = lines[-1]
    assert final["result"] == "Fixed `add` and `mul` in calc.py; test_calc.py passes."
    assert final["exit_code"] == 0 and final["usage"]["input_tokens"] > 0
    assert (project / "calc.py").read_text() == FIXED
    # Over real HTTP the tool results went back with their call ids.
    fourth = requests[3].messages
    tool_msgs = [m for m in fourth if m["role"] == "tool"]
    assert tool_msgs and "FAILED: mul" in str(tool_msgs[-1]["content"])
    assert (
        tool_msgs[-1]["tool_call_id"]
        == [m for m in fourth if m["role"] == "assistant"][-1]["tool_calls"][0]["id"]
    )
