"""summarize / summarize_session against ScriptedModel: what the model is asked, how
replies are parsed (fences, prose, one retry), and render_summary."""

from __future__ import annotations

import json

import pytest

from mnemocode.core.errors import MnemoError
from mnemocode.core.types import Message, ModelRequest, ToolCall, ToolResult
from mnemocode.llm.testing import ScriptedModel, text
from mnemocode.memory.compaction import (
    CompactionSummary,
    Decision,
    SessionSummary,
    SummaryError,
    render_summary,
    summarize,
    summarize_session,
)
from mnemocode.memory.structured import extract_json_object

VALID = {
    "topics": ["retry policy for the HTTP client"],
    "decisions": [
        {"what": "Use exponential backoff", "why": "the API rate-limits bursts"},
        {"what": "Retry on 400", "why": "400s are our bugs", "status": "rejected"},
    ],
    "progress": ["added RetryingModel in src/llm/retry.py; 12 tests pass"],
    "pending": ["document the max_delay setting"],
    "key_facts": ["MNEMO_MAX_RETRIES=3", "pytest tests/llm -q"],
}


def history() -> list[Message]:
    call = ToolCall("c1", "shell", {"command": "pytest tests/llm -q"})
    return [
        Message.user("Add retries to the client, backoff please."),
        Message.assistant(
            "Plan:\n```python\ndef backoff_delay(attempt):\n    base = 0.5\n"
            "    cap = 30.0\n    return min(cap, base * 2 ** attempt)\n```\nThen tests."
        ),
        Message.assistant("", [call]),
        Message.tool(ToolResult.of_text(call, "12 passed in 0.4s")),
        Message.assistant("All green."),
    ]


def system_text(request: ModelRequest) -> str:
    return "".join(block.text for block in request.system)


async def test_a_valid_reply_is_parsed_and_the_request_carries_schema_and_transcript() -> None:
    model = ScriptedModel([text(json.dumps(VALID))])
    summary = await summarize(
        model,
        history(),
        previous="## Topics\n- project setup with uv",
        keep=["Always run ruff before committing"],
    )
    assert summary == CompactionSummary.model_validate(VALID)
    assert summary.decisions[1].status == "rejected"

    (request,) = model.requests
    assert request.tools == []
    system = system_text(request)
    assert json.dumps(CompactionSummary.model_json_schema(), ensure_ascii=False) in system
    assert "ONLY a JSON object" in system
    assert "Merge it in" in system
    (user,) = request.messages
    assert "- project setup with uv" in user.text
    assert "- Always run ruff before committing" in user.text
    assert "user: Add retries to the client, backoff please." in user.text
    assert '→ shell({"command": "pytest tests/llm -q"})' in user.text
    assert "← shell: 12 passed in 0.4s" in user.text
    assert "[code: 4 lines of python]" in user.text
    assert "backoff_delay" not in user.text
    assert "base * 2" not in user.text
    assert "<older_summary>\n## Topics\n- project setup with uv\n</older_summary>" in user.text


async def test_without_previous_summary_there_is_no_merge_instruction() -> None:
    model = ScriptedModel([text(json.dumps(VALID))])
    await summarize(model, history())
    assert "Merge it in" not in system_text(model.requests[0])
    assert "older_summary" not in model.requests[0].messages[0].text


async def test_a_fenced_reply_with_prose_around_it_is_accepted() -> None:
    fenced = f"```json\n{json.dumps(VALID, indent=2)}\n```"
    reply = f"Sure! Here is the summary {{as asked}}:\n{fenced}\nDone."
    summary = await summarize(ScriptedModel([text(reply)]), history())
    assert summary.key_facts == VALID["key_facts"]


async def test_an_invalid_reply_is_retried_once_quoting_the_validation_error() -> None:
    invalid = {"topics": ["x"], "decisions": [{"why": "forgot the what"}]}
    model = ScriptedModel([text(json.dumps(invalid)), text(json.dumps(VALID))])
    summary = await summarize(model, history())
    assert summary.topics == VALID["topics"]

    assert len(model.requests) == 2
    first, second = model.requests
    assert system_text(second) == system_text(first)
    assert second.messages[0].text == first.messages[0].text
    assert second.messages[1].role == "assistant"
    assert second.messages[1].text == json.dumps(invalid)
    retry = second.messages[2].text
    assert second.messages[2].role == "user"
    assert "validation error" in retry
    assert "decisions.0.what: Field required" in retry


async def test_a_reply_without_json_is_retried_saying_so() -> None:
    model = ScriptedModel([text("I summarised it in my head."), text(json.dumps(VALID))])
    await summarize(model, history())
    assert "no JSON object" in model.requests[1].messages[-1].text


async def test_two_invalid_replies_raise_summary_error() -> None:
    model = ScriptedModel([text("not json"), text('{"topics": "fine", "decisions": [42]}')])
    with pytest.raises(SummaryError) as caught:
        await summarize(model, history())
    assert isinstance(caught.value, MnemoError)
    assert len(model.requests) == 2
    message = str(caught.value)
    assert "CompactionSummary" in message
    assert "decisions.0" in message
    assert caught.value.reply == '{"topics": "fine", "decisions": [42]}'


async def test_loose_replies_are_normalised() -> None:
    reply = {
        "topics": "one topic",
        "decisions": ["Keep SQLite", {"what": "Drop Redis", "status": "Reversed"}],
        "key_facts": [8080, {"port": 5432}],
        "pending": None,
        "extra": "ignored",
    }
    summary = await summarize(ScriptedModel([text(json.dumps(reply))]), history())
    assert summary.topics == ["one topic"]
    assert summary.decisions == [
        Decision(what="Keep SQLite"),
        Decision(what="Drop Redis", status="reversed"),
    ]
    assert summary.key_facts == ["8080", '{"port": 5432}']
    assert summary.pending == []


async def test_max_input_chars_cuts_the_transcript() -> None:
    messages = [Message.user(f"request {i}: " + "words " * 20) for i in range(400)]
    model = ScriptedModel([text(json.dumps(VALID))])
    await summarize(model, messages, max_input_chars=5_000)
    user = model.requests[0].messages[0].text
    assert "request 0:" in user
    assert "request 399:" in user
    assert "request 200:" not in user
    assert "the middle of the conversation is omitted" in user


async def test_session_summary_has_a_short_title() -> None:
    reply = {**VALID, "title": "Retries for the HTTP client " + "and more " * 20}
    model = ScriptedModel([text(json.dumps(reply))])
    summary = await summarize_session(model, history())
    assert isinstance(summary, SessionSummary)
    assert summary.title.startswith("Retries for the HTTP client")
    assert len(summary.title) <= 80
    assert summary.progress == VALID["progress"]
    system = system_text(model.requests[0])
    assert json.dumps(SessionSummary.model_json_schema(), ensure_ascii=False) in system
    assert "title" in system


async def test_session_summary_without_title_is_retried_then_fails() -> None:
    model = ScriptedModel([text(json.dumps(VALID)), text(json.dumps(VALID))])
    with pytest.raises(SummaryError, match="title: Field required"):
        await summarize_session(model, history())
    assert "title: Field required" in model.requests[1].messages[-1].text


def test_render_summary_marks_statuses_and_omits_empty_sections() -> None:
    summary = CompactionSummary(
        topics=["auth"],
        decisions=[
            Decision(what="JWT in cookies", why="no token in JS"),
            Decision(what="Sessions in Redis", why="one more service", status="rejected"),
            Decision(what="bcrypt", status="reversed"),
        ],
        key_facts=["src/auth/tokens.py"],
    )
    assert render_summary(summary, title="Earlier") == (
        "# Earlier\n\n"
        "## Topics\n- auth\n\n"
        "## Decisions\n"
        "- JWT in cookies — no token in JS\n"
        "- Sessions in Redis — one more service (rejected)\n"
        "- bcrypt (reversed)\n\n"
        "## Key facts\n- src/auth/tokens.py\n"
    )
    rendered = render_summary(CompactionSummary(pending=["write docs"]))
    assert rendered.startswith("# Summary of the earlier conversation\n\n## Pending\n")
    assert "## Topics" not in rendered


def test_extract_json_object_skips_prose_braces_and_reads_braces_in_strings() -> None:
    reply = 'Use {placeholders} like so:\n{"a": "has } and { inside", "b": {"c": [1]}} trailing'
    assert extract_json_object(reply) == {"a": "has } and { inside", "b": {"c": [1]}}
    assert extract_json_object('```json\n{"escaped": "a \\" }"}\n```') == {"escaped": 'a " }'}
    with pytest.raises(ValueError, match="not closed"):
        extract_json_object('{"topics": ["cut off')
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json_object("[1, 2]")
    with pytest.raises(ValueError, match="invalid JSON"):
        extract_json_object('{"a": 1,}')
