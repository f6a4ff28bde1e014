"""Our request types ↔ the OpenAI Chat Completions wire format (plain dicts).

Kept apart from the adapter so it can be read (and tested) without the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mnemocode.core.types import (
    ImagePart,
    Message,
    ModelRequest,
    TextPart,
    ToolCall,
    ToolSpec,
    Usage,
)
from mnemocode.llm.base import parse_arguments

REASONING_FIELDS = ("reasoning_content", "reasoning")
# provider_fields key recording which field a server used for reasoning, so we
# send it back the same way (DeepSeek: reasoning_content, OpenRouter: reasoning).
REASONING_FIELD_KEY = "openai_reasoning_field"


def data_url(image: ImagePart) -> str:
    return f"data:{image.media_type};base64,{image.data_b64}"


def image_part(image: ImagePart) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_url(image)}}


class ConversionCache:
    """Converted messages by identity: a session's history is re-sent on every call
    and only its tail is new, so each message is converted once."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[Message, dict[str, Any], list[ImagePart]]] = {}

    def get(
        self, message: Message, convert: Callable[[Message], tuple[dict[str, Any], list[ImagePart]]]
    ) -> tuple[dict[str, Any], list[ImagePart]]:
        hit = self._items.get(id(message))
        if hit is not None and hit[0] is message:
            return hit[1], hit[2]
        converted, images = convert(message)
        self._items[id(message)] = (message, converted, images)
        return converted, images

    def keep_only(self, messages: list[Message]) -> None:
        if len(self._items) > 2 * len(messages) + 64:
            live = {id(m) for m in messages}
            self._items = {k: v for k, v in self._items.items() if k in live}


def to_messages(
    request: ModelRequest, *, send_reasoning: bool = True, cache: ConversionCache | None = None
) -> list[dict[str, Any]]:
    """Messages for ``chat.completions.create``.

    - System blocks become one system message (blocks joined by a blank line).
    - Assistant messages always carry a string ``content`` ("" when empty): llama.cpp
      rejects ``null`` next to tool calls, and OpenAI accepts "".
    - Tool results are text-only (``role=tool`` is text on most servers); their
      images are announced in the text and sent in one user message after the run
      of tool results, so tool messages still follow their assistant message directly.
    """
    out: list[dict[str, Any]] = []
    system = "\n\n".join(block.text for block in request.system if block.text)
    if system:
        out.append({"role": "system", "content": system})
    pending_images: list[ImagePart] = []

    def convert(message: Message) -> tuple[dict[str, Any], list[ImagePart]]:
        if message.role == "tool":
            return _tool_message(message)
        if message.role == "assistant":
            return _assistant_message(message, send_reasoning), []
        if message.role == "system":
            return {"role": "system", "content": message.text}, []
        return {"role": "user", "content": _user_content(message)}, []

    for message in request.messages:
        if message.role != "tool" and pending_images:
            out.append(_tool_images_message(pending_images))
            pending_images = []
        converted, images = cache.get(message, convert) if cache else convert(message)
        out.append(converted)
        pending_images.extend(images)
    if cache is not None:
        cache.keep_only(request.messages)
    if pending_images:
        out.append(_tool_images_message(pending_images))
    return out


def _user_content(message: Message) -> str | list[dict[str, Any]]:
    if all(isinstance(part, TextPart) for part in message.content):
        return message.text
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"type": "text", "text": part.text})
        else:
            parts.append(image_part(part))
    return parts


def arguments_json(call: ToolCall) -> str:
    """The arguments to send back: the model's own bytes when they are valid JSON
    (better for prompt caches), otherwise the parsed dict (``{}`` when invalid —
    llama.cpp fails on invalid JSON in history)."""
    if call.raw_arguments and parse_arguments(call.raw_arguments) == call.arguments:
        return call.raw_arguments
    return json.dumps(call.arguments, ensure_ascii=False)


def _assistant_message(message: Message, send_reasoning: bool) -> dict[str, Any]:
    converted: dict[str, Any] = {"role": "assistant", "content": message.text}
    if message.tool_calls:
        converted["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments_json(call)},
            }
            for call in message.tool_calls
        ]
    if send_reasoning and message.reasoning:
        field = message.provider_fields.get(REASONING_FIELD_KEY, "reasoning_content")
        converted[field if field in REASONING_FIELDS else "reasoning_content"] = message.reasoning
    return converted


def _tool_message(message: Message) -> tuple[dict[str, Any], list[ImagePart]]:
    images = [part for part in message.content if isinstance(part, ImagePart)]
    content = message.text
    if images:
        note = f"[{len(images)} image(s) from this result follow in the next user message]"
        content = f"{content}\n{note}" if content else note
    return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": content}, images


def _tool_images_message(images: list[ImagePart]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"type": "text", "text": "Image(s) returned by the tool call(s) above:"}
    ]
    parts.extend(image_part(image) for image in images)
    return {"role": "user", "content": parts}


def to_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def to_tool_choice(choice: str) -> str | dict[str, Any] | None:
    """None for "auto" (the server default; some servers are picky about it being sent)."""
    if choice == "auto":
        return None
    if choice in ("required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def to_usage(raw: Mapping[str, Any]) -> Usage:
    """Usage from ``prompt_tokens``/``completion_tokens`` and the cache details
    (OpenAI ``prompt_tokens_details.cached_tokens``, DeepSeek ``prompt_cache_hit_tokens``)."""
    details = raw.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0
    written = details.get("cache_write_tokens") or details.get("cache_creation_tokens") or 0
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cache_read_tokens=int(cached),
        cache_write_tokens=int(written),
    )
