"""Fixtures for the model layer: fake servers and adapters that are always closed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from mnemocode.core.types import Message, ModelRequest, ToolSpec
from mnemocode.llm.anthropic import AnthropicModel
from mnemocode.llm.openai_compat import OpenAICompatModel
from mnemocode.llm.testing import FakeAnthropicServer, FakeOpenAIServer

READ_TOOL = ToolSpec(
    "file_read",
    "Read a file.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    read_only=True,
)


def ask(text: str = "hi", *, tools: bool = False, **kwargs: Any) -> ModelRequest:
    return ModelRequest([Message.user(text)], tools=[READ_TOOL] if tools else [], **kwargs)


@pytest.fixture
def openai_server() -> Iterator[Callable[..., FakeOpenAIServer]]:
    """Start a FakeOpenAIServer with a script; stopped after the test."""
    servers: list[FakeOpenAIServer] = []

    def start(script: Any, **kwargs: Any) -> FakeOpenAIServer:
        server = FakeOpenAIServer(script, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def anthropic_server() -> Iterator[Callable[..., FakeAnthropicServer]]:
    servers: list[FakeAnthropicServer] = []

    def start(script: Any, **kwargs: Any) -> FakeAnthropicServer:
        server = FakeAnthropicServer(script, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
async def openai_model() -> AsyncIterator[Callable[..., OpenAICompatModel]]:
    """An OpenAICompatModel pointed at a fake server; its client is closed after the test."""
    models: list[OpenAICompatModel] = []

    def make(server: FakeOpenAIServer, **kwargs: Any) -> OpenAICompatModel:
        kwargs.setdefault("name", "local")
        model = OpenAICompatModel("fake-model", base_url=server.base_url, **kwargs)
        models.append(model)
        return model

    yield make
    for model in models:
        await model.aclose()


@pytest.fixture
async def anthropic_model() -> AsyncIterator[Callable[..., AnthropicModel]]:
    models: list[AnthropicModel] = []

    def make(server: FakeAnthropicServer, **kwargs: Any) -> AnthropicModel:
        kwargs.setdefault("name", "claude")
        model = AnthropicModel("claude-test", base_url=server.base_url, api_key="sk-test", **kwargs)
        models.append(model)
        return model

    yield make
    for model in models:
        await model.aclose()
