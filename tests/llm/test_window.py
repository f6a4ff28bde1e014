"""Reading the context window from the server, over real HTTP to the fake server."""

from __future__ import annotations

import socket

import pytest

from mnemocode.llm.testing import FakeOpenAIServer
from mnemocode.llm.window import (
    ServerWindow,
    WindowProbe,
    from_models,
    from_ollama_show,
    from_props,
    probe_window,
    server_root,
    worth_asking,
)


@pytest.mark.parametrize(
    ("style", "source"),
    [
        ("llama.cpp", "llama.cpp /props n_ctx"),
        ("ollama", "Ollama /api/show num_ctx"),
        ("vllm", "/v1/models max_model_len"),
        ("openrouter", "/v1/models context_length"),
    ],
)
def test_each_server_style_is_read(style: str, source: str) -> None:
    with FakeOpenAIServer([], context_window=4_096, window_style=style) as server:
        found = probe_window(server.base_url, "fake-model")
        asked = [r.path for r in server.metadata_requests]
    assert found == ServerWindow(4_096, source)
    assert server.requests == []  # no model call
    assert "/v1/models" in asked


def test_a_server_that_says_nothing() -> None:
    with FakeOpenAIServer([]) as server:
        assert probe_window(server.base_url, "fake-model") is None


def test_nothing_listening() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert probe_window(f"http://127.0.0.1:{port}/v1", "m", timeout=0.5) is None
    assert WindowProbe(f"http://127.0.0.1:{port}/v1", "m", timeout=0.5).result() is None


def test_background_probe() -> None:
    with FakeOpenAIServer([], context_window=8_192) as server:
        probe = WindowProbe(server.base_url, "fake-model")
        assert probe.result() == ServerWindow(8_192, "llama.cpp /props n_ctx")


def test_parsers_take_each_shape() -> None:
    assert from_props({"n_ctx": 2048}) == 2048
    assert from_props({"default_generation_settings": {"n_ctx": 4096}, "n_ctx": 1}) == 4096
    assert from_props({"default_generation_settings": {}}) is None
    show = {"model_info": {"general.architecture": "llama", "llama.context_length": 131072}}
    assert from_ollama_show(show) == (131072, "Ollama /api/show llama.context_length")
    assert from_ollama_show({"parameters": "num_ctx 8192\nstop x"}) == (
        8192,
        "Ollama /api/show num_ctx",
    )
    models = {"data": [{"id": "a", "max_model_len": 1}, {"id": "b", "context_length": 32768}]}
    assert from_models(models, "b") == (32768, "/v1/models context_length")
    assert from_models(models, "c") is None
    assert from_models({"data": [{"id": "x", "context_window": 9000}]}, "y") == (
        9000,
        "/v1/models context_window",
    )


def test_which_endpoints_are_asked() -> None:
    assert server_root("http://h:8080/v1/") == "http://h:8080"
    assert server_root("http://h:11434") == "http://h:11434"
    assert worth_asking("openai", "http://127.0.0.1:8080/v1")
    assert not worth_asking("openai", None)
    assert not worth_asking("openai", "https://api.openai.com/v1")
    assert not worth_asking("anthropic", "https://api.anthropic.com")
