"""A sub-agent delegating to the agent its ``## Delegation`` names, and the
``SubagentStop`` hook making a sub-agent go on (real hook subprocess, scripted
models told apart by their system prompts)."""

from __future__ import annotations

import json
from pathlib import Path

from mnemocode.llm.testing import text, tool_call
from tests.extensions.agents.test_task import PARENT, agent_file, by_system, requests_of
from tests.extensions.hooks.support import claude_settings, project, script, session, turn


async def test_a_sub_agent_delegates_to_the_agent_its_delegation_names(
    tmp_path: Path, isolated_home: Path
) -> None:
    agent_file(isolated_home, "scout", "Read", "SCOUT-9")
    agent_file(isolated_home, "lead", "Read", "LEAD-3")
    lead = isolated_home / "agents" / "lead.md"
    lead.write_text(lead.read_text() + "\n## Delegation\n- scout\n")
    work = project(tmp_path / "work")
    (work / "notes.txt").write_text("the answer is 42\n")
    model_script = by_system({
        PARENT: [tool_call("task", agent="lead", prompt="find the answer"), text("lead: 42")],
        "LEAD-3": [
            tool_call("task", agent="scout", prompt="read notes.txt"),
            text("the scout found 42"),
        ],
        "SCOUT-9": [tool_call("file_read", path="notes.txt"), text("notes.txt says 42")],
    })  # fmt: skip
    app, model = session(work, isolated_home, model_script)  # type: ignore[arg-type]
    finished, _ = await turn(app, "what is the answer?")
    assert finished.text == "lead: 42"
    lead_first = requests_of(model, "LEAD-3")[0]
    scout_first, scout_second = requests_of(model, "SCOUT-9")
    assert "task" in {t.name for t in lead_first.tools}  # it may delegate
    assert "task" not in {t.name for t in scout_first.tools}  # no Delegation: no task
    assert [m.text for m in scout_first.messages] == ["read notes.txt"]
    assert "the answer is 42" in str(scout_second.messages[-1])
    lead_second = requests_of(model, "LEAD-3")[1]
    assert "notes.txt says 42" in str(lead_second.messages[-1])
    assert app.agent.totals.model_calls == 6  # every level's calls reach the parent
    audit = [
        json.loads(line)
        for path in isolated_home.rglob("audit.jsonl")
        for line in path.read_text().splitlines()
    ]
    tasks = [(e["tool"], e["arguments"].get("agent"), e["decided_by"]) for e in audit]
    assert any(t == "task" and a == "lead" for t, a, _ in tasks)  # the parent's, via the guard
    assert ("task", "scout", "delegation") in tasks  # the lead's own task call, audited
    assert any(t == "file_read" for t, _, _ in tasks)  # the scout's call passed the guard


async def test_a_subagent_stop_hook_with_exit_2_makes_the_sub_agent_go_on(
    tmp_path: Path, isolated_home: Path
) -> None:
    agent_file(isolated_home, "scout", "Read", "SCOUT-9")
    work = project(tmp_path / "work")
    seen = tmp_path / "subagent-stops.jsonl"
    body = (
        f"open({str(seen)!r}, 'a').write(json.dumps(data) + '\\n')\n"
        "if not data['stop_hook_active']:\n"
        "    print('check the other file too', file=sys.stderr)\n    sys.exit(2)\n"
    )
    command = script(tmp_path, "subagent_stop", body)
    claude_settings(work, {"SubagentStop": [{"hook": {"command": command}}]})
    model_script = by_system({
        PARENT: [tool_call("task", agent="scout", prompt="look"), text("done")],
        "SCOUT-9": [text("looked at one file"), text("looked at both files")],
    })  # fmt: skip
    app, model = session(work, isolated_home, model_script)  # type: ignore[arg-type]
    finished, _ = await turn(app)
    assert finished.text == "done"
    _first, second = requests_of(model, "SCOUT-9")
    assert "check the other file too" in str(second.messages[-1])
    assert "looked at both files" in str(model.requests[-1].messages[-1])
    calls = [json.loads(line) for line in seen.read_text().splitlines()]
    assert [(c["hook_event_name"], c["agent_type"]) for c in calls] == [
        ("SubagentStop", "scout"),
        ("SubagentStop", "scout"),
    ]
    assert [c["stop_hook_active"] for c in calls] == [False, True]
