"""``@server:uri`` in a prompt: an MCP server's resource, read through its
connection and inlined the way ``@path`` inlines a file (``attachments.py``): text
in a ``<resource>`` block within the same character cap, an image as an image for
a model with vision (else a note), other binary data as a note.

A reference is ``@NAME:URI`` where the URI has a scheme (``demo://x``,
``file:///x``, ``urn:x``) and NAME is a server of this session, or the URI has
``://``; anything else stays an ``@path``. A reference that cannot be attached
(no such server, a server of an untrusted ``.mcp.json``, one that does not start,
a read that fails) raises ``ResourceError``: the prompt is not sent half-built.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mnemocode.cli.attachments import MAX_IMAGE_BYTES, Attachment, find_tokens
from mnemocode.core.errors import MnemoError
from mnemocode.core.types import ImagePart

if TYPE_CHECKING:
    from mnemocode.app import App
    from mnemocode.extensions.mcp.catalog import ResourceContent

_REFERENCE = re.compile(r"^([A-Za-z0-9_-]{1,64}):([A-Za-z][A-Za-z0-9+.-]*:.+)$")
_TRAILING = ",.;!?)]}'"


class ResourceError(MnemoError):
    """An ``@server:uri`` that cannot be attached; the prompt is not sent."""


@dataclass(frozen=True, slots=True)
class Reference:
    token: str  # as typed
    server: str
    uri: str


def find_references(text: str, servers: Collection[str], cwd: Path) -> list[Reference]:
    """The ``@server:uri`` tokens of ``text``, each once, in order."""
    found: dict[str, Reference] = {}
    for token, typed in find_tokens(text):
        match = _REFERENCE.match(typed.rstrip(_TRAILING)) or _REFERENCE.match(typed)
        if match is None:
            continue
        server, uri = match.group(1), match.group(2)
        if server not in servers and ("://" not in uri or (cwd / typed).exists()):
            continue
        found.setdefault(token, Reference(token, server, uri))
    return list(found.values())


async def mcp_attachments(text: str, app: App, *, vision: bool, max_chars: int) -> list[Attachment]:
    """Each ``@server:uri`` of ``text`` read and attached; ``ResourceError`` if one
    cannot be."""
    toolset = app.mcp
    servers = list(toolset.connections) if toolset is not None else []
    references = find_references(text, servers, app.cwd)
    if not references:
        return []
    from mnemocode.extensions.mcp.connection import McpServerError

    left = max_chars
    found: list[Attachment] = []
    for ref in references:
        if toolset is None or ref.server not in toolset.connections:
            raise ResourceError(f"{ref.token}: {_unknown(app, ref.server, servers)}")
        try:
            contents = await toolset.read_resource(ref.server, ref.uri)
        except McpServerError as exc:
            raise ResourceError(f"{ref.token}: {exc}") from exc
        if not contents:
            found.append(_note(ref, f"@{ref.server}:{ref.uri}: the server sent nothing"))
        for item in contents:
            if item.text is None:
                found.append(_attach_blob(ref, item, vision=vision))
                continue
            attachment, used = _attach_text(ref, item.uri or ref.uri, item.text, left)
            left -= used
            found.append(attachment)
    return found


def _attach_text(ref: Reference, uri: str, text: str, left: int) -> tuple[Attachment, int]:
    shown = f"@{ref.server}:{uri}"
    if left <= 0:
        return _note(ref, f"{shown}: not inlined (attachment limit reached)"), 0
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    note = f"{shown}: {lines} lines inlined"
    if len(text) > left:
        note = f"{shown}: cut at {left} of {len(text)} characters"
        text = text[:left]
    body = text.rstrip("\n")
    block = f'<resource server="{ref.server}" uri="{uri}">\n{body}\n</resource>'
    return Attachment(ref.token, None, "text", block=block, note=note), len(text)


def _attach_blob(ref: Reference, item: ResourceContent, *, vision: bool) -> Attachment:
    shown = f"@{ref.server}:{item.uri or ref.uri}"
    data = item.blob or ""
    size = len(data) * 3 // 4
    if item.mime_type.startswith("image/"):
        if not vision:
            return _note(ref, f"{shown}: image not attached (the current model has no vision)")
        if size > MAX_IMAGE_BYTES:
            return _note(
                ref, f"{shown}: image not attached ({size // 1024 // 1024} MB is too large)"
            )
        try:
            base64.b64decode(data, validate=True)  # a broken image is not sent to the model
        except ValueError:
            return _note(ref, f"{shown}: image not attached (its data is not valid base64)")
        image = ImagePart(data, item.mime_type)
        return Attachment(ref.token, None, "image", note=f"{shown}: image attached", image=image)
    kind = item.mime_type or "binary"
    return Attachment(
        ref.token, None, "binary", note=f"{shown}: {kind} data ({size} bytes), not attached"
    )


def _note(ref: Reference, note: str) -> Attachment:
    return Attachment(ref.token, None, "skipped", note=note)


def mcp_resources(app: App) -> dict[str, list[tuple[str, str]]]:
    """``(uri, name)`` of each MCP server's resources (for completion)."""
    if app.mcp is None:
        return {}
    return {
        server: [(r.uri, r.name) for r in app.mcp.catalog(server).resources]
        for server in app.mcp.connections
    }


def _unknown(app: App, server: str, servers: Collection[str]) -> str:
    """Why ``server`` is not in this session: its project's ``.mcp.json`` is not
    trusted, or there is no such server."""
    from mnemocode.config.paths import find_project_root
    from mnemocode.extensions.mcp.config import MCP_JSON, read_mcp_json

    root = find_project_root(app.cwd, env=app.env)
    if root is not None:
        try:
            listed = {name for name, _entry, _origin in read_mcp_json(root / MCP_JSON)}
        except MnemoError:
            listed = set()
        if server in listed:
            return (
                f"MCP server {server!r} of {root / MCP_JSON} is not started: this folder is "
                f"not trusted (`mnemo trust {root}`)"
            )
    known = ", ".join(sorted(servers)) or "none"
    return f"no MCP server {server!r} in this session (servers: {known})"
