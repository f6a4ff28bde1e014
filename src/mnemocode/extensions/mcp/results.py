"""An MCP tool result as our ``ToolResult`` content."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mnemocode.core.types import ContentPart, ImagePart, TextPart

if TYPE_CHECKING:
    from mcp_types import CallToolResult


def convert_result(result: CallToolResult, *, vision: bool) -> list[ContentPart]:
    """Text; images as images for a model with vision (else a note); resources and
    links as text; structured content when the server sent no text."""
    parts = convert_blocks(result.content, vision=vision)
    structured = result.structured_content
    if structured is not None and not any(isinstance(p, TextPart) for p in parts):
        parts.append(TextPart(json.dumps(structured, ensure_ascii=False, indent=2)))
    if not parts:
        parts.append(TextPart("(no output)"))
    return parts


def convert_blocks(blocks: Iterable[Any], *, vision: bool) -> list[ContentPart]:
    """MCP content blocks (of a tool result or a prompt message) as our parts."""
    from mcp_types import AudioContent, EmbeddedResource, ImageContent, ResourceLink, TextContent

    parts: list[ContentPart] = []
    for block in blocks:
        if isinstance(block, TextContent):
            parts.append(TextPart(block.text))
        elif isinstance(block, ImageContent) and vision:
            parts.append(ImagePart(block.data, block.mime_type or "image/png"))
        elif isinstance(block, ImageContent | AudioContent):
            kind = "image" if isinstance(block, ImageContent) else "audio"
            why = "this model has no vision" if kind == "image" else "audio is not passed on"
            size = len(block.data) * 3 // 4
            parts.append(TextPart(f"[{kind} {block.mime_type}, about {size} bytes: {why}]"))
        elif isinstance(block, ResourceLink):
            about = f" ({block.mime_type})" if block.mime_type else ""
            what = f": {block.description}" if block.description else ""
            parts.append(TextPart(f"[resource link {block.name} {block.uri}{about}{what}]"))
        elif isinstance(block, EmbeddedResource):
            parts.append(TextPart(_embedded(block.resource)))
    return parts


def _embedded(resource: Any) -> str:
    text = getattr(resource, "text", None)
    if isinstance(text, str):
        return f"[resource {resource.uri}]\n{text}"
    mime = getattr(resource, "mime_type", None) or "binary"
    return f"[resource {resource.uri}: {mime} data, not shown]"
