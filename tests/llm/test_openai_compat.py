"""OpenAICompatModel over real HTTP (the real openai SDK) against FakeOpenAIServer."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from mnemocode.core.errors import (
    ContextOverflowError,
    ModelAuthError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelServerError,
)
from mnemocode.core.types import (
    ImagePart,
    Message,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    ResponseDone,
    StreamEvent,
    SystemBlock,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolResult,
    Usage,
)
from mnemocode.llm.base import complete
from mnemocode.llm.openai_compat import OpenAICompatModel
from mnemocode.llm.retry import RetryingModel
from mnemocode.llm.testing import (
    FakeOpenAIServer,
    OpenAIQuirks,
    ScriptedCall,
    Turn,
    call,
    calls,
    dropped,
    error,
    text,
    tool_call,
)
from tests.llm.conftest import READ_TOOL, ask

ServerFactory = Callable[..., FakeOpenAIServer]
ModelFactory = Callable[..., OpenAICompatModel]
PNG = ImagePart.from_bytes(b"\x89PNG fake", "image/png")


async def collect(
    model: OpenAICompatModel | RetryingModel, request: ModelRequest
) -> list[StreamEvent]:
    return [event async for event in model.stream(request)]


async def test_streams_text_in_several_deltas(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([text("Hello from the fake server")])
    events = await collect(openai_model(server), ask())
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 3 and "".join(deltas) == "Hello from the fake server"
    done = events[-1]
    assert isinstance(done, ResponseDone)
    assert done.response.message.text == "Hello from the fake server"
    assert done.response.finish_reason == "stop"
    body = server.chat_requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert server.chat_requests[0].headers["authorization"] == "Bearer not-needed"


async def test_tool_call_arguments_split_across_chunks(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server(
        [calls(call("file_read", path="src/app.py"), call("grep", pattern="def main"))]
    )
    events = await collect(openai_model(server), ask(tools=True))
    fragments = [e for e in events if isinstance(e, ToolCallDelta)]
    assert len([f for f in fragments if f.index == 0]) == 4  # header + 3 argument pieces
    assert [f.name for f in fragments if f.name] == ["file_read", "grep"]
    response = await_done(events)
    assert response.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in response.message.tool_calls] == [
        ("call_1", "file_read", {"path": "src/app.py"}),
        ("call_2", "grep", {"pattern": "def main"}),
    ]
    body = server.chat_requests[0].body
    assert body["tools"][0]["function"]["name"] == "file_read"
    assert "tool_choice" not in body  # "auto" is the server default


def await_done(events: list[StreamEvent]) -> ModelResponse:
    done = events[-1]
    assert isinstance(done, ResponseDone)
    return done.response


async def test_invalid_tool_arguments_are_kept_raw(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    bad = Turn(tool_calls=(ScriptedCall("file_read", raw_arguments='{"path": "a.py"'),))
    server = openai_server([bad])
    response = await complete(openai_model(server), ask(tools=True))
    (tc,) = response.message.tool_calls
    assert tc.arguments == {} and tc.raw_arguments == '{"path": "a.py"'


async def test_usage_from_the_last_chunk(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    usage = Usage(input_tokens=1200, output_tokens=34, cache_read_tokens=1000)
    server = openai_server([Turn(text="ok", usage=usage)])
    response = await complete(openai_model(server), ask())
    assert response.usage == usage


async def test_non_streamed_answer_to_a_streamed_request(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    # llama.cpp answers with plain JSON when tools are sent with tool_choice auto.
    server = openai_server(
        [tool_call("file_read", path="a.py") + text("Reading it.")],
        quirks=OpenAIQuirks(no_stream_with_tools=True),
    )
    events = await collect(openai_model(server), ask(tools=True))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Reading it."]
    response = await_done(events)
    assert response.message.tool_calls[0].arguments == {"path": "a.py"}
    assert response.usage.input_tokens > 0
    assert server.chat_requests[0].body["stream"] is True


async def test_full_message_inside_a_stream_chunk(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server(
        [calls(call("file_read", path="a"), call("file_read", path="b"), text="two reads")],
        quirks=OpenAIQuirks(full_message_chunk=True),
    )
    response = await complete(openai_model(server), ask(tools=True))
    assert response.message.text == "two reads"
    assert [c.arguments["path"] for c in response.message.tool_calls] == ["a", "b"]


async def test_llama_cpp_repeated_names_and_null_content(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    quirks = OpenAIQuirks(repeat_tool_names=True, reject_null_content=True)
    server = openai_server([tool_call("file_read", path="x.py"), text("done")], quirks=quirks)
    model = openai_model(server)
    first = await complete(model, ask(tools=True))
    (tc,) = first.message.tool_calls
    assert tc.name == "file_read" and tc.id == "call_1"  # not "file_readfile_read…"
    history = [Message.user("hi"), first.message, Message.tool(ToolResult.of_text(tc, "print(1)"))]
    second = await complete(model, ModelRequest(history, tools=[READ_TOOL]))
    assert second.message.text == "done"
    assistant = server.chat_requests[1].messages[1]
    assert assistant["content"] == ""  # not null: llama.cpp rejects null
    assert assistant["tool_calls"][0]["function"] == {
        "name": "file_read",
        "arguments": '{"path": "x.py"}',
    }
    assert server.chat_requests[1].messages[2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "print(1)",
    }


async def test_reasoning_content_round_trip(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([text("The answer is 4.", reasoning="2 plus 2 is 4"), text("ok")])
    model = openai_model(server)
    events = await collect(model, ask("2+2?"))
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "2 plus 2 is 4"
    first = await_done(events)
    assert first.message.reasoning == "2 plus 2 is 4"
    await complete(
        model, ModelRequest([Message.user("2+2?"), first.message, Message.user("sure?")])
    )
    sent = server.chat_requests[1].messages[1]
    assert sent == {
        "role": "assistant",
        "content": "The answer is 4.",
        "reasoning_content": "2 plus 2 is 4",
    }


async def test_reasoning_field_is_sent_back_under_the_name_it_came_with(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server(
        [text("a", reasoning="thinking…"), text("b")],
        quirks=OpenAIQuirks(reasoning_field="reasoning"),
    )
    model = openai_model(server)
    first = await complete(model, ask())
    assert first.message.reasoning == "thinking…"
    await complete(model, ModelRequest([Message.user("q"), first.message, Message.user("again")]))
    sent = server.chat_requests[1].messages[1]
    assert sent["reasoning"] == "thinking…" and "reasoning_content" not in sent


async def test_system_blocks_images_and_tool_images(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([text("I see a cat.")])
    shot = ToolCall("call_9", "screenshot", {})
    result = ToolResult("call_9", "screenshot", [ImagePart("aW1n", "image/jpeg")])
    request = ModelRequest(
        [
            Message.user("What is this?", images=[PNG]),
            Message.assistant("", [shot]),
            Message.tool(result),
            Message.user("and now?"),
        ],
        system=[SystemBlock("You are helpful.", cache=True), SystemBlock("Project: demo")],
    )
    await complete(openai_model(server), request)
    sent = server.chat_requests[0].messages
    assert sent[0] == {"role": "system", "content": "You are helpful.\n\nProject: demo"}
    assert sent[1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{PNG.data_b64}"},
    }
    assert sent[3]["role"] == "tool" and "1 image(s)" in sent[3]["content"]
    assert sent[4]["role"] == "user"
    assert sent[4]["content"][1]["image_url"]["url"] == "data:image/jpeg;base64,aW1n"
    assert sent[5] == {"role": "user", "content": "and now?"}


async def test_request_options_reach_the_server(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([text("x"), text("y"), text("z")])
    model = openai_model(server, max_output_tokens=512, temperature=0.2, extra_body={"top_k": 20})
    await complete(model, ask(tools=True, tool_choice="file_read"))
    await complete(
        model, ask(tools=True, tool_choice="required", temperature=0.9, max_output_tokens=64)
    )
    await complete(model, ask(tools=True, tool_choice="none"))
    first, second, third = (r.body for r in server.chat_requests)
    assert first["tool_choice"] == {"type": "function", "function": {"name": "file_read"}}
    assert first["max_tokens"] == 512 and first["temperature"] == 0.2 and first["top_k"] == 20
    assert (
        second["tool_choice"] == "required"
        and second["temperature"] == 0.9
        and second["max_tokens"] == 64
    )
    assert third["tool_choice"] == "none"


def test_official_openai_gets_max_completion_tokens_and_no_reasoning() -> None:
    official = OpenAICompatModel("gpt-5", max_output_tokens=100)
    request = ModelRequest([Message("assistant", reasoning="secret"), Message.user("hi")])
    params = official.request_params(request)
    assert params["max_completion_tokens"] == 100 and "max_tokens" not in params
    assert "reasoning_content" not in params["messages"][0]
    local = OpenAICompatModel("qwen", base_url="http://localhost:8080/v1", max_output_tokens=100)
    assert local.request_params(request)["max_tokens"] == 100


# ---- errors ------------------------------------------------------------------------


async def test_rate_limit_is_retried_honouring_retry_after(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([error(429, "Rate limit reached", retry_after=0.05), text("finally")])
    seen: list[tuple[str, int, float]] = []
    model = RetryingModel(
        openai_model(server), 3, on_retry=lambda e, n, d: seen.append((type(e).__name__, n, d))
    )
    response = await complete(model, ask())
    assert response.message.text == "finally"
    assert seen == [("ModelRateLimitError", 1, 0.05)]
    assert len(server.chat_requests) == 2


async def test_server_error_is_retried_with_backoff(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([error(500, "boom"), error(503, "busy"), text("ok")])
    delays: list[float] = []
    model = RetryingModel(
        openai_model(server), 4, base_delay=0.01, on_retry=lambda e, n, d: delays.append(d)
    )
    assert (await complete(model, ask())).message.text == "ok"
    assert len(delays) == 2 and all(0 <= d <= 0.02 for d in delays)
    assert len(server.chat_requests) == 3


async def test_auth_error_is_not_retried(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([error(401, "Incorrect API key provided"), text("never")])
    model = RetryingModel(openai_model(server), 4, base_delay=0.01)
    with pytest.raises(ModelAuthError) as info:
        await complete(model, ask())
    assert len(server.chat_requests) == 1
    assert info.value.status == 401
    assert (
        str(info.value)
        == "model 'local': authentication failed (HTTP 401): Incorrect API key provided"
    )


async def test_context_overflow(openai_server: ServerFactory, openai_model: ModelFactory) -> None:
    message = (
        "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."
    )
    server = openai_server([error(400, message)])
    with pytest.raises(ContextOverflowError, match="maximum context length is 8192"):
        await complete(RetryingModel(openai_model(server), 3), ask())
    assert len(server.chat_requests) == 1


async def test_not_found_names_the_model_and_endpoint(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([error(404, "model 'nope' not found")])
    with pytest.raises(ModelNotFoundError) as info:
        await complete(openai_model(server), ask())
    assert "'fake-model'" in str(info.value) and server.base_url in str(info.value)
    assert "\n" not in info.value.one_line()


async def test_dropped_stream_after_output_is_a_connection_error(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([dropped("partial answer that never ends", after=2), text("unused")])
    model = RetryingModel(openai_model(server), 3, base_delay=0.01)
    received: list[str] = []
    with pytest.raises(ModelConnectionError, match="lost during the response"):
        async for event in model.stream(ask()):
            if isinstance(event, TextDelta):
                received.append(event.text)
    assert "".join(received) == "partial answer that "  # two of three chunks
    assert len(server.chat_requests) == 1  # partial output: not retried


async def test_connection_dropped_before_output_is_retried(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([error(0, "connection reset"), text("second try")])
    model = RetryingModel(openai_model(server), 2, base_delay=0.01)
    assert (await complete(model, ask())).message.text == "second try"
    assert len(server.chat_requests) == 2


async def test_error_event_inside_the_stream(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server(
        [Turn(text="abc def ghi", error=error(500, "upstream failed").error, drop_after=1)]
    )
    with pytest.raises(ModelServerError, match="upstream failed"):
        await complete(openai_model(server), ask())


async def test_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OpenAICompatModel("m", name="gone", base_url=f"http://127.0.0.1:{port}/v1", timeout=5)
    try:
        with pytest.raises(ModelConnectionError) as info:
            await complete(model, ask())
    finally:
        await model.aclose()
    assert f"127.0.0.1:{port}" in str(info.value) and info.value.retryable


async def test_errors_are_model_errors_with_one_line(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([error(429, "slow\ndown\n" * 3)])
    with pytest.raises(ModelRateLimitError) as info:
        await complete(openai_model(server), ask())
    assert isinstance(info.value, ModelError) and "\n" not in str(info.value)


async def test_rejected_stream_options_are_dropped_and_usage_estimated(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    quirks = OpenAIQuirks(reject_stream_options=True)
    server = openai_server([text("first answer"), text("second")], quirks=quirks)
    model = openai_model(server)
    response = await complete(model, ask("a question"))
    assert response.message.text == "first answer"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0  # estimated
    await complete(model, ask())
    sent = [("stream_options" in r.body) for r in server.chat_requests]
    assert sent == [True, False, False]  # rejected once, then never sent again


async def test_models_endpoint_and_recorded_requests(openai_server: ServerFactory) -> None:
    import httpx

    server = openai_server([text("hi")])
    async with httpx.AsyncClient() as client:
        models = (await client.get(f"{server.base_url}/models")).json()
        await client.post(f"{server.base_url}/chat/completions", json=ask_body())
        recorded = (await client.get(f"{server.url}/_fake/requests")).json()
    assert models["data"][0]["id"] == "fake-model"
    assert [r["path"] for r in recorded] == ["/v1/chat/completions"]
    assert [r.path for r in server.metadata_requests] == ["/v1/models"]


def ask_body() -> dict[str, object]:
    return {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


async def test_script_exhausted_is_a_clear_bad_request(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server([text("only one")])
    model = openai_model(server)
    await complete(model, ask())
    with pytest.raises(ModelError, match="script exhausted"):
        await complete(model, ask())


async def test_turn_as_a_function_of_the_request(
    openai_server: ServerFactory, openai_model: ModelFactory
) -> None:
    server = openai_server(lambda req: text(f"you said {req.messages[-1]['content']}"))
    model = openai_model(server)
    assert (await complete(model, ask("ping"))).message.text == "you said ping"
    assert (await complete(model, ask("pong"))).message.text == "you said pong"


def test_strict_server_rejects_a_tool_result_without_its_call() -> None:
    from mnemocode.llm.testing.fake_openai import validate_chat_body

    body = {"model": "m", "messages": [{"role": "tool", "tool_call_id": "call_1", "content": "x"}]}
    assert "does not match" in (validate_chat_body(body) or "")
