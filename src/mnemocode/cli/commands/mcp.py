"""/mcp: the MCP servers of this session — status, tools, resources, resource
templates, prompts, last error — and ``/mcp restart NAME``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from mnemocode.cli.commands import ReplContext, SlashCommand

if TYPE_CHECKING:
    from mnemocode.extensions.mcp.catalog import Catalog

_STYLE = {"ready": "green", "starting": "yellow", "failed": "red", "stopped": "dim"}
MAX_LISTED = 20  # resources / templates / prompts shown per server


async def mcp_command(ctx: ReplContext, arg: str) -> None:
    toolset = ctx.app.mcp
    if toolset is None:
        ctx.say("No MCP servers (mnemo mcp add NAME -- command args).", "dim")
        return
    verb, _sep, rest = arg.partition(" ")
    if verb == "restart":
        await _restart(ctx, rest.strip())
        return
    if verb:
        ctx.say("usage: /mcp, or /mcp restart NAME", "yellow")
        return
    specs = {s.name for s in toolset.specs()}
    for name, connection in toolset.connections.items():
        line = Text(f"{name} ", style="bold")
        line.append(connection.status, style=_STYLE.get(connection.status, ""))
        line.append(f"  {connection.spec.describe()}", style="dim")
        if connection.protocol:
            line.append(f"  (protocol {connection.protocol})", style="dim")
        ctx.console.print(line)
        mine = sorted(n for n in specs if n.startswith(f"mcp__{name}__"))
        if mine:
            ctx.say("  tools: " + ", ".join(mine))
        _show_catalog(ctx, name, toolset.catalog(name))
        if connection.last_error:
            ctx.say(f"  last error: {connection.last_error}", "red")


def _show_catalog(ctx: ReplContext, server: str, catalog: Catalog) -> None:
    from mnemocode.extensions.mcp.toolset import tool_name

    rows: list[tuple[str, list[tuple[str, str]]]] = [
        (
            "resource",
            [(f"@{server}:{r.uri}", _about(r.name, r.mime_type)) for r in catalog.resources],
        ),
        ("template", [(t.uri_template, _about(t.name, t.mime_type)) for t in catalog.templates]),
        (
            "prompt",
            [
                (f"/{tool_name(server, p.name)} {p.usage()}".rstrip(), p.description)
                for p in catalog.prompts
            ],
        ),
    ]
    for kind, entries in rows:
        for shown, about in entries[:MAX_LISTED]:
            line = Text(f"  {kind} ", style="dim")
            line.append(shown)
            if about:
                line.append(f"  {about}", style="dim")
            ctx.console.print(line)
        if len(entries) > MAX_LISTED:
            ctx.say(f"  … and {len(entries) - MAX_LISTED} more {kind}s", "dim")
    if catalog.problem:
        ctx.say(f"  {catalog.problem}", "yellow")


def _about(name: str, mime_type: str) -> str:
    return f"{name} ({mime_type})" if mime_type else name


async def _restart(ctx: ReplContext, name: str) -> None:
    toolset = ctx.app.mcp
    assert toolset is not None
    if name not in toolset.connections:
        known = ", ".join(toolset.connections) or "none"
        ctx.say(f"no MCP server {name!r} (known: {known})", "yellow")
        return
    from mnemocode.extensions.mcp.connection import McpServerError

    try:
        await toolset.restart(name)
    except McpServerError as exc:
        ctx.say(str(exc), "red")
        return
    count = sum(1 for s in toolset.specs() if s.name.startswith(f"mcp__{name}__"))
    ctx.say(f"restarted {name}: {count} tools", "green")


COMMANDS = [
    SlashCommand(
        "mcp",
        "MCP servers: status, tools, resources, prompts, errors; restart NAME",
        mcp_command,
        "[restart NAME]",
    )
]
