"""A sub-agent in ``mnemo -p --output-format stream-json`` (real subprocess, the fake
OpenAI-compatible server): its events arrive nested under the ``task`` call, and the
parent's result carries its report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from mnemocode.llm.testing import FakeOpenAIServer, text, tool_call
from tests.conftest import run_mnemo, write_global_config


def test_sub_agent_events_are_nested_in_stream_json(tmp_path: Path, isolated_home: Path) -> None:
    agents = isolated_home / "agents"
    agents.mkdir(parents=True)
    (agents / "scout.md").write_text(
        "---\nname: scout\ndescription: Reads files.\ntools: Read\n---\nYou are the scout.\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    (work / "notes.txt").write_text("the answer is 42\n")
    script = [
        tool_call("task", agent="scout", prompt="What does notes.txt say?"),  # the parent
        tool_call("file_read", path="notes.txt"),  # the scout
        text("notes.txt says 42"),  # the scout's report
        text("The scout says 42."),  # the parent
    ]
    with FakeOpenAIServer(script) as server:
        write_global_config(
            isolated_home,
            'active_model = "m"\n[models.m]\nprovider = "openai"\nmodel = "fake"\n'
            f'base_url = "{server.base_url}"\nmax_retries = 0\n[router]\nstrategy = "direct"\n',
        )
        done = run_mnemo(
            ["-p", "ask the scout", "--output-format", "stream-json", "--yes"],
            cwd=work,
            home=isolated_home,
        )
        scout_system = server.chat_requests[1].body["messages"][0]["content"]
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    nested = [e for e in events if e["type"] == "subagent"]
    assert nested and {e["agent"] for e in nested} == {"scout"}
    task_call = next(e for e in events if e["type"] == "tool_call")
    assert task_call["call"]["name"] == "task"
    assert {e["call_id"] for e in nested} == {task_call["call"]["id"]}
    inner = [e["event"] for e in nested]
    assert inner[0]["type"] == "turn_started" and inner[-1]["type"] == "turn_finished"
    read = next(e for e in inner if e["type"] == "tool_result")
    assert "the answer is 42" in json.dumps(read)
    assert events[-1]["type"] == "result" and events[-1]["result"] == "The scout says 42."
    assert "You are the scout." in scout_system
