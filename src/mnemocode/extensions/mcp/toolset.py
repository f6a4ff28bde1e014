"""``McpToolset``: the tools of every configured MCP server as one ``Toolset``, named
``mcp__<server>__<tool>``, each with the server's input schema (a long description
cut at ``[mcp] max_description_chars``).

It sits inside ``GuardedToolset`` like the built-ins: every call is decided, asked
and audited there. The loop caps the output as for any tool.

``start`` brings the servers up in parallel. A lazy server (``startup = "lazy"``)
whose tool list is cached from an earlier session (``mcp-tools.json`` in the
project's state folder, keyed by how the server is started) is not started then:
its cached tools are offered and the first call starts it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mnemocode.core.events import Notice
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolResult, ToolSpec
from mnemocode.extensions.mcp.catalog import (
    Catalog,
    PromptTurn,
    ResourceContent,
    prompt_turn,
    resource_contents,
)
from mnemocode.extensions.mcp.config import ServerSpec
from mnemocode.extensions.mcp.connection import McpServerError, ServerConnection
from mnemocode.extensions.mcp.results import convert_result

if TYPE_CHECKING:
    from mcp import Client

PREFIX = "mcp__"
T = TypeVar("T")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64  # what the model APIs accept


@dataclass(frozen=True, slots=True)
class McpTool:
    """One server tool as we offer it."""

    server: str
    name: str  # the server's own name for it
    spec: ToolSpec
    read_only_hint: bool


def tool_name(server: str, tool: str) -> str:
    return f"{PREFIX}{server}__{_UNSAFE.sub('_', tool)}"[:_MAX_NAME]


def server_of(name: str) -> str | None:
    """The server part of an ``mcp__<server>__<tool>`` name."""
    if not name.startswith(PREFIX):
        return None
    server, sep, _tool = name[len(PREFIX) :].partition("__")
    return server if sep else None


class McpToolset:
    def __init__(
        self,
        specs: Sequence[ServerSpec],
        *,
        workdir: Path,
        state_dir: Path | None = None,
        max_description_chars: int = 2_000,
    ) -> None:
        log_dir = state_dir / "logs" if state_dir is not None else None
        self.connections = {s.name: ServerConnection(s, workdir, log_dir) for s in specs}
        self.cache_path = state_dir / "mcp-tools.json" if state_dir is not None else None
        self.max_description_chars = max_description_chars
        self._cache = self._read_cache()
        self._tools: dict[str, McpTool] = {}
        self._started = False
        self._refresh()

    # ---- lifecycle -----------------------------------------------------------------

    async def start(self) -> list[str]:
        """Start the servers that start with the session, in parallel; the lines
        to tell the user (servers that failed). Later calls do nothing."""
        if self._started:
            return []
        self._started = True
        wanted = [
            c
            for c in self.connections.values()
            if c.spec.startup == "eager" or self._cached(c.spec) is None
        ]
        await asyncio.gather(*(self._start_one(c) for c in wanted))
        self._refresh()
        return self.take_reports()

    async def _start_one(self, connection: ServerConnection) -> None:
        try:
            await connection.start()
        except McpServerError:
            return  # its report says why
        self._remember(connection)

    async def restart(self, server: str) -> None:
        connection = self.connections[server]
        try:
            await connection.restart()
        finally:
            self._remember(connection)
            self._refresh()

    async def aclose(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.connections.values()))

    def take_reports(self) -> list[str]:
        return [r for c in self.connections.values() if (r := c.take_report())]

    # ---- Toolset -------------------------------------------------------------------

    def specs(self) -> list[ToolSpec]:
        return [t.spec for t in self._tools.values()]

    def tool(self, name: str) -> McpTool | None:
        return self._tools.get(name)

    def read_only_hint(self, name: str) -> bool | None:
        """The server's ``readOnlyHint`` for one of our tool names (None: not ours)."""
        found = self._tools.get(name)
        return None if found is None else found.read_only_hint

    def trusts_hints(self, name: str) -> bool:
        server = server_of(name)
        connection = self.connections.get(server or "")
        return connection is not None and connection.spec.trust_read_only_hints

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        found = self._tools.get(call.name)
        if found is None:
            return ToolResult.of_text(call, f"Unknown tool {call.name!r}", is_error=True)
        connection = self.connections[found.server]
        was_ready = connection.status == "ready"
        try:
            result = await connection.call(found.name, call.arguments)
        except McpServerError as exc:
            for report in self.take_reports():
                ctx.emit(Notice("warning", report, topic=f"mcp:{found.server}"))
            return ToolResult.of_text(call, str(exc), is_error=True)
        if not was_ready:
            self._remember(connection)
            self._refresh()
        return ToolResult(
            call.id, call.name, convert_result(result, vision=ctx.vision), result.is_error
        )

    # ---- resources and prompts -----------------------------------------------------

    def catalog(self, server: str) -> Catalog:
        """A server's resources, templates and prompts: listed if it is up, else
        those cached from its last start."""
        connection = self.connections.get(server)
        if connection is None:
            return Catalog()
        if connection.status == "ready":
            return connection.catalog
        entry = self._cache.get(server)
        if isinstance(entry, dict) and entry.get("fingerprint") == connection.spec.fingerprint():
            return Catalog.from_json(entry.get("catalog"))
        return Catalog()

    async def read_resource(self, server: str, uri: str) -> list[ResourceContent]:
        """Raises ``McpServerError`` (the server cannot start, the read fails)."""

        async def read(client: Client) -> list[ResourceContent]:
            return resource_contents(await client.read_resource(uri))

        return await self._request(server, f"reading {uri}", read)

    async def get_prompt(
        self, server: str, name: str, arguments: dict[str, str], *, vision: bool
    ) -> PromptTurn:
        async def get(client: Client) -> PromptTurn:
            return prompt_turn(await client.get_prompt(name, arguments), vision=vision)

        return await self._request(server, f"prompt {name}", get)

    async def _request(self, server: str, what: str, send: Callable[[Client], Awaitable[T]]) -> T:
        connection = self.connections[server]
        was_ready = connection.status == "ready"
        try:
            return await connection.request(what, send)
        finally:
            if not was_ready and connection.status == "ready":
                self._remember(connection)
                self._refresh()

    # ---- tool lists ----------------------------------------------------------------

    def _refresh(self) -> None:
        tools: dict[str, McpTool] = {}
        for connection in self.connections.values():
            listed: list[dict[str, Any]] | None
            if connection.status == "ready":
                listed = [_tool_dict(t) for t in connection.tools]
            else:
                lazy = connection.spec.startup == "lazy"
                listed = self._cached(connection.spec) if lazy else None
            for raw in listed or []:
                made = self._make(connection.spec, raw)
                tools.setdefault(made.spec.name, made)
        self._tools = tools

    def _make(self, server: ServerSpec, raw: Mapping[str, Any]) -> McpTool:
        name = str(raw.get("name", ""))
        description = str(raw.get("description") or raw.get("title") or name)
        cap = self.max_description_chars
        if len(description) > cap:
            description = description[: cap - 1].rstrip() + "…"
        schema = raw.get("inputSchema")
        if not isinstance(schema, dict):
            schema = {"type": "object", "properties": {}}
        annotations = raw.get("annotations")
        hint = bool(isinstance(annotations, dict) and annotations.get("readOnlyHint"))
        read_only = hint and server.trust_read_only_hints
        spec = ToolSpec(tool_name(server.name, name), description, schema, read_only)
        return McpTool(server.name, name, spec, hint)

    def _cached(self, spec: ServerSpec) -> list[dict[str, Any]] | None:
        entry = self._cache.get(spec.name)
        if not isinstance(entry, dict) or entry.get("fingerprint") != spec.fingerprint():
            return None
        tools = entry.get("tools")
        return tools if isinstance(tools, list) else None

    def _read_cache(self) -> dict[str, Any]:
        if self.cache_path is None:
            return {}
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # a cache: anything wrong with it means "start the server"
        return data if isinstance(data, dict) else {}

    def _remember(self, connection: ServerConnection) -> None:
        if self.cache_path is None or connection.status != "ready":
            return
        self._cache[connection.spec.name] = {
            "fingerprint": connection.spec.fingerprint(),
            "tools": [_tool_dict(t) for t in connection.tools],
            "catalog": connection.catalog.to_json(),
        }
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(f".{self.cache_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self._cache), encoding="utf-8")
        os.replace(tmp, self.cache_path)


def _tool_dict(tool: Any) -> dict[str, Any]:
    data: dict[str, Any] = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
    keys = ("name", "title", "description", "inputSchema", "annotations")
    return {k: data[k] for k in keys if k in data}
