"""HTTP status + message → the core error tree."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from mnemocode.core.errors import (
    ContextOverflowError,
    ModelAuthError,
    ModelBadRequestError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelServerError,
)
from mnemocode.llm.errors import (
    error_from_status,
    is_context_overflow,
    parse_retry_after,
    server_message,
)


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (401, "Incorrect API key", ModelAuthError),
        (403, "forbidden", ModelAuthError),
        (404, "no such model", ModelNotFoundError),
        (400, "invalid 'messages'", ModelBadRequestError),
        (422, "unprocessable", ModelBadRequestError),
        (400, "context_length_exceeded", ContextOverflowError),
        (400, "prompt is too long: 210000 tokens > 200000 maximum", ContextOverflowError),
        (400, "the request exceeds the available context size", ContextOverflowError),
        (413, "request too large", ContextOverflowError),
        (429, "slow down", ModelRateLimitError),
        (500, "internal", ModelServerError),
        (529, "Overloaded", ModelServerError),
    ],
)
def test_status_mapping(status: int, message: str, kind: type[ModelError]) -> None:
    err = error_from_status(status, message, model="m")
    assert type(err) is kind
    assert err.status == status and message in str(err) and str(err).startswith("model 'm': ")


def test_overflow_detected_from_code_alone() -> None:
    err = error_from_status(400, "Bad request", model="m", code="context_length_exceeded")
    assert isinstance(err, ContextOverflowError)
    assert not is_context_overflow("invalid tool schema", None)


def test_message_is_one_line_and_bounded() -> None:
    err = error_from_status(500, "line one\nline two\n" + "x" * 1000, model="m")
    assert "\n" not in str(err) and len(str(err)) < 500


def test_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    now = time.time()
    date = formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after({"Retry-After": date}, now=now) or 0) <= 31
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after(None) is None
    err = error_from_status(429, "x", model="m", headers={"Retry-After": "2"})
    assert err.retry_after == 2.0


def test_server_message_shapes() -> None:
    assert server_message({"message": "a"}) == "a"
    assert server_message({"error": {"message": "b", "type": "x"}}) == "b"
    assert server_message({"type": "error", "error": {"type": "x", "message": "c"}}) == "c"
    assert server_message({"error": "d"}) == "d"
    assert server_message({"detail": "e"}) == "e"
    assert server_message({"other": 1}, "fallback") == "fallback"
    assert server_message("<html>Bad Gateway</html>") == "<html>Bad Gateway</html>"
