"""Messages to and from plain JSON-able dicts (stored transcripts, session events)."""

from __future__ import annotations

from typing import Any

from mnemocode.core.types import ContentPart, ImagePart, Message, Role, TextPart, ToolCall


def message_to_dict(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": [_part(p) for p in message.content]}
    if message.tool_calls:
        data["tool_calls"] = [
            {"id": c.id, "name": c.name, "arguments": c.arguments, "raw": c.raw_arguments}
            for c in message.tool_calls
        ]
    for key in ("tool_call_id", "name", "reasoning"):
        value = getattr(message, key)
        if value is not None:
            data[key] = value
    if message.provider_fields:
        data["provider_fields"] = message.provider_fields
    if message.is_error:
        data["is_error"] = True
    return data


def message_from_dict(data: dict[str, Any]) -> Message:
    role: Role = data["role"]
    return Message(
        role,
        [_from_part(p) for p in data.get("content", [])],
        [
            ToolCall(c["id"], c["name"], dict(c.get("arguments") or {}), c.get("raw", ""))
            for c in data.get("tool_calls", [])
        ],
        tool_call_id=data.get("tool_call_id"),
        name=data.get("name"),
        reasoning=data.get("reasoning"),
        provider_fields=dict(data.get("provider_fields") or {}),
        is_error=bool(data.get("is_error", False)),
    )


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    return {"type": "image", "data_b64": part.data_b64, "media_type": part.media_type}


def _from_part(data: dict[str, Any]) -> ContentPart:
    if data.get("type") == "image":
        return ImagePart(data["data_b64"], data["media_type"])
    return TextPart(data.get("text", ""))
