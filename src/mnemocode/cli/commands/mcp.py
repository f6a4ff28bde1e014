"""/mcp: the MCP servers of this session — status, tools, last error — and
``/mcp restart NAME``."""

from __future__ import annotations

from rich.text import Text

from mnemocode.cli.commands import ReplContext, SlashCommand

_STYLE = {"ready": "green", "starting": "yellow", "failed": "red", "stopped": "dim"}


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
        if connection.last_error:
            ctx.say(f"  last error: {connection.last_error}", "red")


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
        "mcp", "MCP servers: status, tools, errors; restart NAME", mcp_command, "[restart NAME]"
    )
]
