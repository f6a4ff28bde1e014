"""The fakes themselves: ScriptedModel, turn scripts in JSON, and the serve CLI."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mnemocode.core.errors import ModelConnectionError, ModelRateLimitError
from mnemocode.core.types import Message, ModelRequest, ReasoningDelta, TextDelta, ToolCallDelta
from mnemocode.llm.base import complete
from mnemocode.llm.openai_compat import OpenAICompatModel
from mnemocode.llm.testing import (
    ScriptedModel,
    ScriptExhaustedError,
    Turn,
    call,
    calls,
    error,
    load_script,
    reasoning,
    text,
    tool_call,
)
from tests.llm.conftest import ask


async def test_scripted_model_streams_and_records() -> None:
    model = ScriptedModel(
        [reasoning("plan") + text("Hello there"), calls(call("a", x=1), call("b"), text="go")]
    )
    events = [e async for e in model.stream(ask("first"))]
    assert [type(e).__name__ for e in events[:2]] == ["ReasoningDelta", "ReasoningDelta"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello there"
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "plan"
    second = await complete(model, ask("second"))
    assert [(c.id, c.name, c.arguments) for c in second.message.tool_calls] == [
        ("call_1", "a", {"x": 1}),
        ("call_2", "b", {}),
    ]
    assert second.message.text == "go" and second.finish_reason == "tool_calls"
    assert [r.messages[-1].text for r in model.requests] == ["first", "second"]
    assert model.remaining == 0


async def test_recorded_requests_do_not_change_with_the_callers_list() -> None:
    model = ScriptedModel(["a"])
    history = [Message.user("q")]
    await complete(model, ModelRequest(history))
    history.append(Message.assistant("a"))
    assert len(model.requests[0].messages) == 1


async def test_running_out_of_script_is_an_assertion() -> None:
    model = ScriptedModel([text("only")], name="tiny")
    await complete(model, ask())
    with pytest.raises(ScriptExhaustedError, match=r"request #2 arrived but only 1 turn") as info:
        await complete(model, ask("again"))
    assert isinstance(info.value, AssertionError) and "'again'" in str(info.value)


async def test_function_script_and_errors() -> None:
    model = ScriptedModel(lambda request: text(request.messages[-1].text.upper()))
    assert (await complete(model, ask("shout"))).message.text == "SHOUT"
    failing = ScriptedModel([error(429, "slow", retry_after=1.5), error(0)])
    with pytest.raises(ModelRateLimitError) as info:
        await complete(failing, ask())
    assert info.value.retry_after == 1.5
    with pytest.raises(ModelConnectionError):
        await complete(failing, ask())


async def test_delay_uses_the_given_sleep() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    model = ScriptedModel([text("late", delay=2.5)], sleep=sleep)
    assert (await complete(model, ask())).message.text == "late"
    assert slept == [2.5]


async def test_tool_call_deltas_carry_name_once() -> None:
    model = ScriptedModel([tool_call("file_read", path="a.py")])
    deltas = [e async for e in model.stream(ask()) if isinstance(e, ToolCallDelta)]
    assert [d.name for d in deltas] == ["file_read", None, None, None]


def test_turns_from_json(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(
        json.dumps(
            [
                "plain text",
                {"text": "t", "tool_calls": [{"name": "grep", "arguments": {"pattern": "x"}}]},
                {"error": {"status": 429, "message": "slow", "retry_after": 0.1}},
                {"reasoning": "r", "delay": 0.5, "drop_after": 1, "usage": {"input_tokens": 3}},
            ]
        )
    )
    turns = load_script(str(path))
    assert turns[0] == Turn(text="plain text")
    assert turns[1].tool_calls[0].arguments == {"pattern": "x"}
    assert turns[2].http_error() is not None and turns[2].http_error().retry_after == 0.1  # type: ignore[union-attr]
    assert turns[3].usage is not None and turns[3].usage.input_tokens == 3
    with pytest.raises(ValueError, match="unknown turn keys: txt"):
        Turn.from_dict({"txt": "typo"})


async def _two_calls(url: str) -> tuple[str, str]:
    model = OpenAICompatModel("fake-model", base_url=url)
    try:
        first = await complete(model, ask())
        second = await complete(model, ask())
    finally:
        await model.aclose()
    return first.message.text, second.message.tool_calls[0].name


def test_serve_cli_in_a_subprocess(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    turns = [{"text": "from the subprocess"}, {"tool_calls": [{"name": "ls", "arguments": {}}]}]
    script.write_text(json.dumps(turns))
    log = tmp_path / "requests.jsonl"
    command = [sys.executable, "-m", "mnemocode.llm.testing", "serve", "--script", str(script)]
    proc = subprocess.Popen(
        [*command, "--port", "0", "--log", str(log)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert asyncio.run(_two_calls(url)) == ("from the subprocess", "ls")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        if proc.stdout is not None:
            proc.stdout.close()
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [entry["path"] for entry in logged] == ["/v1/chat/completions"] * 2
    assert logged[0]["body"]["messages"] == [{"role": "user", "content": "hi"}]


def test_serve_cli_rejects_a_bad_script(tmp_path: Path) -> None:
    script = tmp_path / "bad.json"
    script.write_text('{"not": "a list"}')
    proc = subprocess.run(
        [sys.executable, "-m", "mnemocode.llm.testing", "serve", "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2 and "a script is a JSON list of turns" in proc.stderr
