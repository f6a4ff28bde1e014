"""AnthropicModel over real HTTP (the real anthropic SDK) against FakeAnthropicServer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mnemocode.core.errors import (
    ContextOverflowError,
    ModelAuthError,
    ModelConnectionError,
    ModelRateLimitError,
    ModelServerError,
)
from mnemocode.core.types import (
    ImagePart,
    Message,
    ModelRequest,
    ReasoningDelta,
    ResponseDone,
    SystemBlock,
    TextDelta,
    ToolCallDelta,
    ToolResult,
    Usage,
)
from mnemocode.llm.anthropic import AnthropicModel
from mnemocode.llm.base import complete
from mnemocode.llm.retry import RetryingModel
from mnemocode.llm.testing import (
    FakeAnthropicServer,
    Turn,
    call,
    calls,
    dropped,
    error,
    text,
    tool_call,
)
from tests.llm.conftest import READ_TOOL, ask

ServerFactory = Callable[..., FakeAnthropicServer]
ModelFactory = Callable[..., AnthropicModel]
EPHEMERAL = {"type": "ephemeral"}


async def test_streams_text_and_tool_use(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server([tool_call("file_read", path="src/main.py") + text("Let me look.")])
    events = [e async for e in anthropic_model(server).stream(ask(tools=True))]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me look."
    fragments = [e for e in events if isinstance(e, ToolCallDelta)]
    assert fragments[0].id == "toolu_1" and fragments[0].name == "file_read"
    assert "".join(f.arguments_delta for f in fragments) == '{"path": "src/main.py"}'
    done = events[-1]
    assert isinstance(done, ResponseDone)
    message = done.response.message
    assert message.text == "Let me look."
    assert [(c.id, c.name, c.arguments) for c in message.tool_calls] == [
        ("toolu_1", "file_read", {"path": "src/main.py"})
    ]
    assert done.response.finish_reason == "tool_calls"
    request = server.message_requests[0]
    # anthropic 2.x sends the key as a bearer token; older SDKs used x-api-key.
    headers = request.headers
    assert headers.get("x-api-key") == "sk-test" or headers.get("authorization") == "Bearer sk-test"
    assert request.body["stream"] is True and request.body["model"] == "claude-test"


async def test_cache_control_placement(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server([text("ok")])
    other_tool = type(READ_TOOL)("grep", "Search.", {"type": "object", "properties": {}})
    request = ModelRequest(
        [Message.user("first"), Message.assistant("answer"), Message.user("second")],
        system=[
            SystemBlock("You are mnemo.", cache=True),
            SystemBlock("Project memory.", cache=True),
            SystemBlock("Today is Tuesday."),
        ],
        tools=[READ_TOOL, other_tool],
    )
    await complete(anthropic_model(server), request)
    body = server.message_requests[0].body
    assert [b.get("cache_control") for b in body["system"]] == [None, EPHEMERAL, None]
    assert [t.get("cache_control") for t in body["tools"]] == [None, EPHEMERAL]
    assert body["tools"][0]["input_schema"] == READ_TOOL.parameters
    last_blocks = [m["content"][-1].get("cache_control") for m in body["messages"]]
    assert last_blocks == [None, None, EPHEMERAL]


async def test_tool_results_merged_with_errors_and_images(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server(
        [calls(call("file_read", path="a.png"), call("file_read", path="b")), text("done")]
    )
    model = anthropic_model(server)
    first = await complete(model, ask("look", tools=True))
    one, two = first.message.tool_calls
    image = ImagePart("aW1n", "image/png")
    failed = Message.tool(ToolResult.of_text(two, "No such file: b", is_error=True))
    failed.provider_fields["is_error"] = True
    history = [
        Message.user("look"),
        first.message,
        Message.tool(ToolResult(one.id, one.name, [image])),
        failed,
        Message.user("also check c"),
    ]
    assert (await complete(model, ModelRequest(history, tools=[READ_TOOL]))).message.text == "done"
    messages = server.message_requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    results = messages[2]["content"]
    assert results[0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "aW1n"},
            }
        ],
    }
    assert results[1]["is_error"] is True and results[1]["content"][0]["text"] == "No such file: b"
    assert results[2] == {"type": "text", "text": "also check c", "cache_control": EPHEMERAL}
    assert messages[1]["content"][0] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "file_read",
        "input": {"path": "a.png"},
    }


async def test_thinking_blocks_round_trip(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server([text("4", reasoning="2+2=4"), text("yes")])
    model = anthropic_model(server)
    events = [e async for e in model.stream(ask("2+2?"))]
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "2+2=4"
    first = events[-1]
    assert isinstance(first, ResponseDone)
    assert first.response.message.reasoning == "2+2=4"
    await complete(
        model, ModelRequest([Message.user("2+2?"), first.response.message, Message.user("sure?")])
    )
    assistant = server.message_requests[1].body["messages"][1]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": "2+2=4", "signature": "sig-fake"}
    assert assistant[1] == {"type": "text", "text": "4"}


async def test_usage_counts_cache_reads_and_writes(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    usage = Usage(
        input_tokens=5000, output_tokens=20, cache_read_tokens=4000, cache_write_tokens=900
    )
    server = anthropic_server([Turn(text="hi", usage=usage)])
    assert (await complete(anthropic_model(server), ask())).usage == usage


async def test_history_starting_with_assistant_gets_a_user_turn_first(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server([text("ok")])
    await complete(
        anthropic_model(server), ModelRequest([Message.assistant("summary"), Message.user("go on")])
    )
    assert server.message_requests[0].body["messages"][0]["role"] == "user"


async def test_rate_limit_retried_with_retry_after(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server(
        [
            error(429, "Number of requests has exceeded your rate limit", retry_after=0.02),
            text("ok"),
        ]
    )
    delays: list[float] = []
    model = RetryingModel(anthropic_model(server), 2, on_retry=lambda e, n, d: delays.append(d))
    assert (await complete(model, ask())).message.text == "ok"
    assert delays == [0.02] and len(server.message_requests) == 2


async def test_overloaded_is_a_retryable_server_error(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server([error(529, "Overloaded")])
    with pytest.raises(ModelServerError, match="HTTP 529") as info:
        await complete(anthropic_model(server), ask())
    assert info.value.retryable


async def test_overloaded_event_mid_stream(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server(
        [Turn(text="partial text here", error=error(529, "Overloaded").error, drop_after=1)]
    )
    with pytest.raises(ModelServerError, match="Overloaded"):
        await complete(anthropic_model(server), ask())


async def test_auth_and_overflow_errors(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server(
        [
            error(401, "invalid x-api-key"),
            error(400, "prompt is too long: 210000 tokens > 200000 maximum"),
        ]
    )
    model = RetryingModel(anthropic_model(server), 3)
    with pytest.raises(ModelAuthError, match="invalid x-api-key"):
        await complete(model, ask())
    with pytest.raises(ContextOverflowError, match="prompt is too long"):
        await complete(model, ask())
    assert len(server.message_requests) == 2


async def test_dropped_stream(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server([dropped("a long answer cut short", after=1)])
    with pytest.raises(ModelConnectionError, match="lost during the response"):
        await complete(anthropic_model(server), ask())


async def test_rate_limit_error_type(
    anthropic_server: ServerFactory, anthropic_model: ModelFactory
) -> None:
    server = anthropic_server([error(429, "slow down")])
    with pytest.raises(ModelRateLimitError):
        await complete(anthropic_model(server), ask())


def test_strict_fake_rejects_unanswered_tool_use() -> None:
    from mnemocode.llm.testing.fake_anthropic import validate_messages_body

    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}],
            },
            {"role": "user", "content": "ignored the tool"},
        ],
    }
    assert "without tool_result" in (validate_messages_body(body) or "")
