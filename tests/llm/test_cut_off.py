"""A stream that ends cleanly but early (no finish reason / no message_stop, no
[DONE]) is an incomplete response, over the real SDKs and the fake servers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mnemocode.core.errors import ModelConnectionError
from mnemocode.core.types import TextDelta
from mnemocode.llm.anthropic import AnthropicModel
from mnemocode.llm.base import complete
from mnemocode.llm.openai_compat import OpenAICompatModel
from mnemocode.llm.retry import RetryingModel
from mnemocode.llm.testing import (
    FakeAnthropicServer,
    FakeOpenAIServer,
    ScriptedModel,
    Turn,
    call,
    cut,
    load_script,
    text,
)
from tests.llm.conftest import ask

OpenAIServers = Callable[..., FakeOpenAIServer]
OpenAIModels = Callable[..., OpenAICompatModel]
AnthropicServers = Callable[..., FakeAnthropicServer]
AnthropicModels = Callable[..., AnthropicModel]


async def test_openai_stream_without_finish_reason_is_cut_off(
    openai_server: OpenAIServers, openai_model: OpenAIModels
) -> None:
    server = openai_server([cut("an answer that stops half way", after=2), text("unused")])
    model = RetryingModel(openai_model(server), 3, base_delay=0.01)
    received: list[str] = []
    with pytest.raises(ModelConnectionError, match="cut off") as caught:
        async for event in model.stream(ask()):
            if isinstance(event, TextDelta):
                received.append(event.text)
    assert "".join(received) == "an answer that stops"  # two of three chunks
    assert caught.value.retryable
    assert len(server.chat_requests) == 1  # text was shown: not retried


async def test_openai_cut_before_any_output_is_retried(
    openai_server: OpenAIServers, openai_model: OpenAIModels
) -> None:
    server = openai_server([cut("never seen", after=0), text("second try")])
    model = RetryingModel(openai_model(server), 2, base_delay=0.01)
    assert (await complete(model, ask())).message.text == "second try"
    assert len(server.chat_requests) == 2


async def test_openai_cut_tool_call_is_not_run_half_formed(
    openai_server: OpenAIServers, openai_model: OpenAIModels
) -> None:
    turn = Turn(tool_calls=(call("file_read", path="a.py"),), cut_after=2)
    server = openai_server([turn])
    with pytest.raises(ModelConnectionError, match="cut off"):
        await complete(openai_model(server), ask(tools=True))


async def test_anthropic_stream_without_message_stop_is_cut_off(
    anthropic_server: AnthropicServers, anthropic_model: AnthropicModels
) -> None:
    server = anthropic_server([cut("a long answer cut short", after=2), text("unused")])
    model = RetryingModel(anthropic_model(server), 3, base_delay=0.01)
    with pytest.raises(ModelConnectionError, match="cut off"):
        await complete(model, ask())
    assert len(server.message_requests) == 1


async def test_anthropic_cut_before_any_output_is_retried(
    anthropic_server: AnthropicServers, anthropic_model: AnthropicModels
) -> None:
    server = anthropic_server([cut("never seen", after=0), text("second try")])
    model = RetryingModel(anthropic_model(server), 2, base_delay=0.01)
    assert (await complete(model, ask())).message.text == "second try"
    assert len(server.message_requests) == 2


def test_cut_after_in_a_json_script(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps([{"text": "abc", "cut_after": 1}]))
    assert load_script(str(path)) == [Turn(text="abc", cut_after=1)]


async def test_scripted_model_raises_what_the_adapters_raise() -> None:
    model = ScriptedModel([cut("one two three", after=1)])
    seen: list[str] = []
    with pytest.raises(ModelConnectionError, match="cut off"):
        async for event in model.stream(ask()):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert seen == ["one t"]
