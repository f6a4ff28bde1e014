"""Our request types ↔ the Anthropic Messages wire format (plain dicts, no SDK).

Prompt caching: ``cache_control: {"type": "ephemeral"}`` goes on the last system
block marked ``cache``, on the last tool, and (``cache_messages``) on the last
block of the last message, so each request reads the previous one's prefix.
That is three of the four breakpoints the API allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mnemocode.core.types import (
    ContentPart,
    ImagePart,
    Message,
    ModelRequest,
    TextPart,
    ToolSpec,
    Usage,
)

EPHEMERAL = {"type": "ephemeral"}
# provider_fields key holding an assistant message's thinking blocks (with their
# signatures), which must be sent back verbatim.
THINKING_KEY = "anthropic_thinking"
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_FIRST_USER_PLACEHOLDER = "(continuing the conversation)"


def to_system(request: ModelRequest) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    last_cached = None
    for block in request.system:
        if not block.text:
            continue
        blocks.append({"type": "text", "text": block.text})
        if block.cache:
            last_cached = blocks[-1]
    if last_cached is not None:
        last_cached["cache_control"] = dict(EPHEMERAL)
    return blocks


def content_blocks(parts: list[ContentPart]) -> list[dict[str, Any]]:
    """Text and image blocks; empty text is dropped (the API rejects it)."""
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        else:
            blocks.append(image_block(part))
    return blocks


def image_block(image: ImagePart) -> dict[str, Any]:
    source = {"type": "base64", "media_type": image.media_type, "data": image.data_b64}
    return {"type": "image", "source": source}


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks = [
        dict(b) for b in message.provider_fields.get(THINKING_KEY, []) if isinstance(b, Mapping)
    ]
    blocks.extend(content_blocks(message.content))
    blocks.extend(
        {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        for call in message.tool_calls
    )
    return blocks


def _tool_result_block(message: Message) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
    content = content_blocks(message.content)
    if content:
        block["content"] = content
    if message.is_error:
        block["is_error"] = True
    return block


def to_messages(messages: list[Message], *, cache_last: bool = True) -> list[dict[str, Any]]:
    """Anthropic messages: tool results become ``tool_result`` blocks in a user
    message (consecutive results and a following user message are merged into one,
    results first); system-role messages become user text; empty messages vanish."""
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for message in messages:
        if message.role == "assistant":
            add("assistant", _assistant_blocks(message))
        elif message.role == "tool":
            add("user", [_tool_result_block(message)])
        else:
            add("user", content_blocks(message.content))
    if out and out[0]["role"] != "user":
        out.insert(
            0, {"role": "user", "content": [{"type": "text", "text": _FIRST_USER_PLACEHOLDER}]}
        )
    if cache_last and out:
        last = out[-1]["content"][-1]
        if last.get("type") not in ("thinking", "redacted_thinking"):
            last["cache_control"] = dict(EPHEMERAL)
    return out


def to_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]
    if converted:
        converted[-1]["cache_control"] = dict(EPHEMERAL)
    return converted


def to_tool_choice(choice: str) -> dict[str, Any] | None:
    """None for "auto" (the API default)."""
    if choice == "auto":
        return None
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    return {"type": "tool", "name": choice}


def to_usage(raw: Mapping[str, Any], previous: Usage | None = None) -> Usage:
    """Usage from an Anthropic ``usage`` object; fields missing from ``raw`` keep
    their ``previous`` value (``message_delta`` sends only some of them).
    ``input_tokens`` here is the whole prompt: Anthropic's uncached ``input_tokens``
    plus cache reads and writes."""
    prev = previous or Usage()
    prev_uncached = prev.input_tokens - prev.cache_read_tokens - prev.cache_write_tokens

    def pick(key: str, old: int) -> int:
        value = raw.get(key)
        return int(value) if value is not None else old

    read = pick("cache_read_input_tokens", prev.cache_read_tokens)
    written = pick("cache_creation_input_tokens", prev.cache_write_tokens)
    uncached = pick("input_tokens", prev_uncached)
    return Usage(
        uncached + read + written, pick("output_tokens", prev.output_tokens), read, written
    )
