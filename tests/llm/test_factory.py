"""build_model: keys from the environment, provider choice, retries, names."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mnemocode.config.settings import ModelConfig
from mnemocode.core.errors import ModelAuthError, ModelServerError
from mnemocode.llm.anthropic import AnthropicModel
from mnemocode.llm.base import complete
from mnemocode.llm.factory import build_model, resolve_api_key
from mnemocode.llm.openai_compat import OpenAICompatModel
from mnemocode.llm.retry import RetryingModel
from mnemocode.llm.testing import FakeAnthropicServer, FakeOpenAIServer, error, text
from tests.llm.conftest import ask


def test_missing_key_variable_is_a_clear_auth_error() -> None:
    config = ModelConfig(model="gpt-4o", api_key_env="MY_KEY")
    with pytest.raises(ModelAuthError) as info:
        build_model("main", config, env={"MY_KEY": "  "})
    err = info.value
    assert str(err) == "model 'main': environment variable MY_KEY is not set"
    assert err.hint == "export MY_KEY=... or change api_key_env (mnemo doctor)"


def test_local_openai_server_needs_no_key() -> None:
    config = ModelConfig(model="qwen3", base_url="http://localhost:11434/v1")
    assert resolve_api_key("local", config, {}) == "not-needed"
    # Without a base URL it is OpenAI itself: OPENAI_API_KEY is used when present.
    assert resolve_api_key("gpt", ModelConfig(model="gpt-4o"), {"OPENAI_API_KEY": "sk-1"}) == "sk-1"


def test_anthropic_defaults_to_anthropic_api_key() -> None:
    config = ModelConfig(provider="anthropic", model="claude-sonnet-4-5")
    with pytest.raises(ModelAuthError, match="ANTHROPIC_API_KEY"):
        build_model("claude", config, env={})
    model = build_model("claude", config, env={"ANTHROPIC_API_KEY": "sk-ant"})
    assert isinstance(model.inner, AnthropicModel)


def test_name_is_the_alias_and_model_id_the_model() -> None:
    config = ModelConfig(model="qwen3-coder", base_url="http://127.0.0.1:1/v1", max_retries=2)
    model = build_model("local", config, env={})
    assert isinstance(model, RetryingModel) and isinstance(model.inner, OpenAICompatModel)
    assert model.name == "local" and model.model_id == "qwen3-coder" and model.max_retries == 2


async def test_built_model_talks_to_the_server_with_the_key(
    openai_server: Callable[..., FakeOpenAIServer],
) -> None:
    server = openai_server([error(503, "warming up"), text("ready")])
    config = ModelConfig(
        model="fake-model", base_url=server.url, api_key_env="FAKE_KEY", max_retries=1
    )
    notices: list[str] = []
    model = build_model(
        "fake",
        config,
        env={"FAKE_KEY": "sk-live"},
        on_retry=lambda e, n, d: notices.append(e.message),
    )
    model.base_delay = 0.01
    try:
        assert (await complete(model, ask())).message.text == "ready"
    finally:
        await model.aclose()
    assert [r.headers["authorization"] for r in server.chat_requests] == ["Bearer sk-live"] * 2
    assert notices == ["server error (HTTP 503): warming up"]


async def test_max_retries_zero_means_one_attempt(
    openai_server: Callable[..., FakeOpenAIServer],
) -> None:
    server = openai_server([error(500, "boom")])
    config = ModelConfig(model="fake-model", base_url=server.base_url, max_retries=0)
    model = build_model("fake", config, env={})
    try:
        with pytest.raises(ModelServerError):
            await complete(model, ask())
    finally:
        await model.aclose()
    assert len(server.chat_requests) == 1


async def test_anthropic_base_url_is_used(
    anthropic_server: Callable[..., FakeAnthropicServer],
) -> None:
    server = anthropic_server([text("hi from claude")])
    config = ModelConfig(provider="anthropic", model="claude-haiku-4-5", base_url=server.base_url)
    model = build_model("claude", config, env={"ANTHROPIC_API_KEY": "sk-ant"})
    try:
        assert (await complete(model, ask())).message.text == "hi from claude"
    finally:
        await model.aclose()
    assert server.message_requests[0].body["model"] == "claude-haiku-4-5"
