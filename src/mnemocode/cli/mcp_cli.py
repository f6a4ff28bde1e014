"""``mnemo mcp``: the MCP servers mnemo uses (``list``, ``add``, ``remove``, ``get``,
as ``claude mcp``) and mnemo as an MCP server (``serve``)."""

from __future__ import annotations

import typer

mcp_cli = typer.Typer(
    name="mcp",
    help="MCP servers: the ones mnemo uses (list, add, remove, get, login, logout) and mnemo "
    "as one (serve).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    from mnemocode.cli import mcp_login_cli, mcp_serve_cli, mcp_servers_cli

    mcp_servers_cli.register(mcp_cli)
    mcp_login_cli.register(mcp_cli)
    mcp_serve_cli.register(mcp_cli)
    app.add_typer(mcp_cli, name="mcp")
