"""UserPromptSubmit, SessionStart, Stop, PreCompact, Notification and SessionEnd as
real subprocesses: what a hook prints reaches the model's request, a block refuses the
prompt, Stop's exit 2 makes the model go on once; a broken settings file is named by
file and line."""

from __future__ import annotations

import json
from pathlib import Path

from mnemocode.llm.testing import text, tool_call
from mnemocode.safety.approvers import StaticApprover
from tests.extensions.hooks.support import (
    Events,
    claude_settings,
    project,
    script,
    session,
    turn,
    user_texts,
)


async def test_user_prompt_submit_context_reaches_the_models_request(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path / "work")
    body = "print('Ticket ABC-123 is about ' + data['prompt'])\n"
    claude_settings(
        work, {"UserPromptSubmit": [{"hook": {"command": script(tmp_path, "ctx", body)}}]}
    )
    app, model = session(work, isolated_home, [text("ok")])
    await turn(app, "the login page")
    [asked] = user_texts(model, 0)
    assert asked.startswith("the login page") and "Ticket ABC-123 is about the login page" in asked


async def test_a_blocking_user_prompt_submit_refuses_the_prompt(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path / "work")
    body = (
        "if 'password' in data['prompt']:\n"
        "    print('no secrets in prompts', file=sys.stderr)\n    sys.exit(2)\n"
    )
    claude_settings(
        work, {"UserPromptSubmit": [{"hook": {"command": script(tmp_path, "gate", body)}}]}
    )
    app, model = session(work, isolated_home, [text("fine")])
    finished, events = await turn(app, "my password is hunter2")
    assert finished.stop_reason == "blocked" and "no secrets in prompts" in finished.text
    assert any("no secrets in prompts" in n for n in events.notices())
    assert not model.requests and not app.agent.history  # it never reached the model
    finished, _ = await turn(app, "hello")
    assert finished.text == "fine"


async def test_session_start_runs_once_a_session_and_adds_context(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path / "work")
    log = tmp_path / "starts.txt"
    body = f"open({str(log)!r}, 'a').write(data['source'] + '\\n')\nprint('Branch: feature/x')\n"
    claude_settings(
        work, {"SessionStart": [{"hook": {"command": script(tmp_path, "start", body)}}]}
    )
    app, model = session(work, isolated_home, [text("one"), text("two"), text("three")])
    await turn(app, "first")
    await turn(app, "second")
    assert log.read_text() == "startup\n"
    assert "Branch: feature/x" in user_texts(model, 0)[0]
    assert "Branch: feature/x" not in user_texts(model, 1)[-1]
    app.new_session()
    await turn(app, "third")
    assert log.read_text() == "startup\nclear\n"


async def test_stop_with_exit_2_makes_the_model_go_on_once(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path / "work")
    seen = tmp_path / "stops.jsonl"
    body = (
        f"open({str(seen)!r}, 'a').write(json.dumps(data) + '\\n')\n"
        "if not data['stop_hook_active']:\n"
        "    print('the tests were not run', file=sys.stderr)\n    sys.exit(2)\n"
    )
    claude_settings(work, {"Stop": [{"hook": {"command": script(tmp_path, "stop", body)}}]})
    app, model = session(work, isolated_home, [text("done"), text("ran them: all green")])
    finished, _ = await turn(app)
    assert finished.stop_reason == "end_turn" and finished.text == "ran them: all green"
    assert len(model.requests) == 2
    assert "[Stop hook] the tests were not run" in user_texts(model, 1)[-1]
    calls = [json.loads(line) for line in seen.read_text().splitlines()]
    assert [c["stop_hook_active"] for c in calls] == [False, True]


async def test_notification_on_a_question_and_session_end_at_close(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path / "work")
    log = tmp_path / "events.txt"
    said = "data.get('message', data.get('reason', ''))"
    body = f"open({str(log)!r}, 'a').write(data['hook_event_name'] + ' ' + {said} + '\\n')\n"
    command = script(tmp_path, "log", body)
    claude_settings(
        work,
        {
            "Notification": [{"hook": {"command": command}}],
            "SessionEnd": [{"hook": {"command": command}}],
        },
    )
    app, _ = session(
        work,
        isolated_home,
        [tool_call("file_write", path="x.txt", content="x"), text("ok")],
        mode="ask",
        approver=StaticApprover(False),
    )
    await turn(app)
    lines = log.read_text().splitlines()
    assert lines == [
        "Notification mnemo needs your permission to use file_write",
        "SessionEnd exit",
    ]


async def test_hooks_of_all_three_files_and_a_broken_one_named_by_line(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path / "work")
    log = tmp_path / "who.txt"
    user = script(tmp_path, "user", f"open({str(log)!r}, 'a').write('user\\n')\n")
    local = script(tmp_path, "local", f"open({str(log)!r}, 'a').write('local\\n')\n")
    claude_settings(isolated_home, {"UserPromptSubmit": [{"hook": {"command": user}}]})
    claude_settings(work, {"UserPromptSubmit": [{"hook": {"command": local}}]}, local=True)
    (work / ".claude" / "settings.json").write_text(
        '{\n  "hooks": {\n    "PreToolUse": [\n  }\n}\n'
    )
    app, _ = session(work, isolated_home, [text("ok")])
    assert any("settings.json:4: hooks not read: invalid JSON" in n for n in app.notices)
    finished, _ = await turn(app)
    assert finished.text == "ok" and sorted(log.read_text().split()) == ["local", "user"]
    sources = sorted(h.source for h in app.hooks.hooks)  # type: ignore[union-attr]
    assert sources == [".claude/settings.local.json", "~/.claude/settings.json"]


async def test_pre_compact_runs_before_a_summary_with_its_trigger(
    tmp_path: Path, isolated_home: Path
) -> None:
    from mnemocode.config.settings import MemoryConfig
    from mnemocode.core.types import ModelRequest
    from mnemocode.llm.testing import Turn

    def answer(request: ModelRequest) -> Turn:
        if "You compress the earlier part of a conversation" in request.system[0].text:
            summary = {"topics": ["t"], "decisions": [], "progress": ["p"], "key_facts": []}
            return text(json.dumps(summary))
        return text("ok")

    work = project(tmp_path / "work")
    log = tmp_path / "compact.txt"
    body = f"open({str(log)!r}, 'a').write(data['trigger'] + '\\n')\n"
    claude_settings(work, {"PreCompact": [{"hook": {"command": script(tmp_path, "pc", body)}}]})
    app, _ = session(
        work,
        isolated_home,
        answer,  # type: ignore[arg-type]
        memory=MemoryConfig(keep_recent_turns=1),
    )
    for prompt in ("one", "two", "three"):
        await app.run_turn(prompt, lambda _e: None)
    assert not log.exists()
    assert await app.agent.compact(lambda _e: None, force=True) > 0
    assert log.read_text() == "manual\n"
    await app.close()


async def test_clear_ends_the_old_session_before_the_new_one_starts(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path / "work")
    log = tmp_path / "sessions.txt"
    what = "(data.get('source') or data.get('reason'))"
    line = f"data['hook_event_name'] + ' ' + {what} + ' ' + data['session_id'] + '\\n'"
    command = script(tmp_path, "log", f"open({str(log)!r}, 'a').write({line})\n")
    hook = [{"hook": {"command": command}}]
    claude_settings(work, {"SessionStart": hook, "SessionEnd": hook})
    app, _ = session(work, isolated_home, [text("one"), text("two")])
    first = app.session_id
    await app.run_turn("first", Events())
    app.new_session()  # /clear
    second = app.session_id
    try:
        await app.run_turn("second", Events())
    finally:
        await app.close()
    assert log.read_text().splitlines() == [
        f"SessionStart startup {first}",
        f"SessionEnd clear {first}",
        f"SessionStart clear {second}",
        f"SessionEnd exit {second}",
    ]
