"""Turning provider failures into the core error tree.

Both adapters (and the fake servers' in-process twin, ``ScriptedModel``) go
through :func:`error_from_status`, so one HTTP status + message means the same
``ModelError`` subclass everywhere. SDK-specific unwrapping lives in the adapters;
this module only knows HTTP.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from mnemocode.core.errors import (
    ContextOverflowError,
    ModelAuthError,
    ModelBadRequestError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelServerError,
)

# Phrases servers use when the prompt does not fit (OpenAI, vLLM, llama.cpp,
# Anthropic, DeepSeek, OpenRouter, Ollama-behind-proxies). Matched case-insensitively
# against the message, error code and type.
_OVERFLOW = re.compile(
    r"context_length_exceeded|maximum context length|context length|prompt is too long"
    r"|exceeds? the (?:available )?context|exceed_context_size|context window"
    r"|input is too long|too many tokens|reduce the length of the messages"
    r"|request_too_large|context size",
    re.IGNORECASE,
)
_MAX_MESSAGE = 400


def is_context_overflow(*texts: object) -> bool:
    """True if any of ``texts`` reads like a context-window overflow."""
    return any(isinstance(t, str) and _OVERFLOW.search(t) for t in texts)


def one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    """Collapse whitespace and cut, so an error always fits on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def server_message(body: object, fallback: str = "") -> str:
    """The human message inside an error body, whatever its shape.

    Handles ``{"error": {"message": ...}}`` (OpenAI, Anthropic), ``{"message": ...}``,
    ``{"error": "..."}`` (Ollama) and ``{"detail": ...}`` (FastAPI servers).
    """
    if isinstance(body, Mapping):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, Mapping):
                found = server_message(value)
                if found:
                    return found
        return fallback
    if isinstance(body, str) and body.strip():
        return body
    return fallback


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def error_from_status(
    status: int,
    message: str,
    *,
    model: str,
    code: str | None = None,
    kind: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ModelError:
    """The core error for an HTTP failure. ``code``/``kind`` are the body's code and type."""
    text = one_line(message or f"HTTP {status}")
    if status in (401, 403):
        return ModelAuthError(
            f"authentication failed (HTTP {status}): {text}", model=model, status=status
        )
    if status == 404:
        return ModelNotFoundError(f"not found (HTTP 404): {text}", model=model, status=status)
    if status == 429:
        return ModelRateLimitError(
            f"rate limited (HTTP 429): {text}",
            model=model,
            status=status,
            retry_after=parse_retry_after(headers),
        )
    if status == 413 or is_context_overflow(message, code, kind):
        return ContextOverflowError(
            f"context window exceeded (HTTP {status}): {text}", model=model, status=status
        )
    if status >= 500:
        return ModelServerError(
            f"server error (HTTP {status}): {text}",
            model=model,
            status=status,
            retry_after=parse_retry_after(headers),
        )
    if 400 <= status < 500:
        return ModelBadRequestError(
            f"request rejected (HTTP {status}): {text}", model=model, status=status
        )
    return ModelServerError(
        f"unexpected response (HTTP {status}): {text}", model=model, status=status
    )


def connection_error(
    model: str, what: str, exc: BaseException | None = None
) -> ModelConnectionError:
    """A ``ModelConnectionError`` whose message names the underlying cause."""
    detail = ""
    if exc is not None:
        cause = exc.__cause__ or exc
        text = one_line(str(cause))
        detail = f": {type(cause).__name__}: {text}" if text else f": {type(cause).__name__}"
    return ModelConnectionError(f"{what}{detail}", model=model)


def cut_off_error(model: str, where: str, missing: str) -> ModelConnectionError:
    """A stream that ended cleanly but early (no ``missing`` marker): an incomplete
    response, retried like a dropped connection."""
    return ModelConnectionError(
        f"the response from {where} was cut off (the stream ended without {missing})",
        model=model,
    )
