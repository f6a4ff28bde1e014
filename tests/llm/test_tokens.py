"""Token counting with o200k_base (from bpe-openai's copy) and the fallback estimate."""

from __future__ import annotations

import time

import pytest

from mnemocode.core.types import ImagePart, Message, ModelRequest, SystemBlock, ToolCall
from mnemocode.llm import tokens
from mnemocode.llm.tokens import count_tokens, estimate_request_tokens, estimate_tokens
from tests.llm.conftest import READ_TOOL

pytest.importorskip("tiktoken")
pytest.importorskip("bpe_openai")


def test_o200k_counts_match_known_values() -> None:
    assert tokens.encoding_name() == "o200k_base"
    assert count_tokens("hello world") == 2
    assert count_tokens("") == 0
    assert count_tokens("def foo(x):\n    return x + 1\n") == 11
    encoding = tokens._encoding()
    assert (
        encoding.decode(encoding.encode_ordinary("Grüße, 世界! <|endoftext|>"))
        == "Grüße, 世界! <|endoftext|>"
    )


def test_fallback_estimate_is_chars_over_four() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_request_estimate_counts_every_part() -> None:
    base = ModelRequest([Message.user("hello world")])
    with_image = ModelRequest([Message.user("hello world", images=[ImagePart("aa", "image/png")])])
    assert (
        estimate_request_tokens(with_image) - estimate_request_tokens(base) == tokens.IMAGE_TOKENS
    )
    with_tools = ModelRequest([Message.user("hello world")], tools=[READ_TOOL])
    assert estimate_request_tokens(with_tools) > estimate_request_tokens(base) + 10
    call = ToolCall("c1", "file_read", {"path": "a.py"}, '{"path": "a.py"}')
    full = ModelRequest(
        [
            Message.user("hello world"),
            Message("assistant", tool_calls=[call], reasoning="thinking hard"),
        ],
        system=[SystemBlock("You are a coding agent.")],
    )
    parts = (
        count_tokens("You are a coding agent.")
        + count_tokens("file_read")
        + count_tokens(call.raw_arguments)
    )
    parts += count_tokens("thinking hard") + tokens.MESSAGE_OVERHEAD
    assert estimate_request_tokens(full) == estimate_request_tokens(base) + parts


def test_estimating_a_long_history_again_is_fast() -> None:
    history = [Message.user(f"message {i}: " + "some code and prose " * 400) for i in range(200)]
    request = ModelRequest(history, system=[SystemBlock("system " * 2000)], tools=[READ_TOOL] * 30)
    started = time.perf_counter()
    first = estimate_request_tokens(request)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    assert estimate_request_tokens(request) == first
    warm = time.perf_counter() - started
    assert first > 200 * 1600
    assert warm < 0.02, f"re-estimating took {warm * 1000:.1f} ms (first: {cold * 1000:.1f} ms)"
