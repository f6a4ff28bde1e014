"""``mnemo mcp login NAME`` / ``logout NAME``: the OAuth login of a remote MCP server
(``extensions/mcp/oauth.py``), kept in ``~/.mnemo/mcp-oauth/NAME.json``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mnemocode.cli.options import fail, guarded

if TYPE_CHECKING:  # `mnemo --help` imports this module: nothing heavy at start
    from mnemocode.extensions.mcp.config import ServerSpec

Name = Annotated[str, typer.Argument(help="The server (mnemo mcp list).")]


def _remote(ctx: typer.Context, name: str) -> ServerSpec:
    from mnemocode.cli.mcp_servers_cli import _opts, _servers

    specs, _notices = _servers(_opts(ctx))
    spec = next((s for s in specs if s.name == name), None)
    if spec is None:
        raise fail(f"no MCP server {name!r} (mnemo mcp list)")
    if not spec.oauth_file:
        why = "a stdio server" if spec.transport == "stdio" else "its headers set Authorization"
        raise fail(f"MCP server {name!r} does not log in with OAuth ({why})")
    if spec.problem:
        raise fail(f"MCP server {name!r} cannot start: {spec.problem}")
    return spec


def login_command(
    ctx: typer.Context,
    name: Name,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the URL only; open it yourself.")
    ] = False,
) -> None:
    """Log in to a remote server (OAuth in the browser); later sessions reuse the login."""
    from mnemocode.cli.mcp_servers_cli import _opts
    from mnemocode.extensions.mcp.oauth import login

    spec = _remote(ctx, name)

    def show(url: str) -> None:
        typer.echo(f"Open this URL to log in to {name!r}:\n  {url}", err=True)
        if not no_browser:
            import webbrowser

            webbrowser.open(url)

    tools = guarded(
        _opts(ctx), lambda: asyncio.run(login(spec, Path(spec.oauth_file), show_url=show))
    )
    typer.echo(f"Logged in to {name!r} ({tools} tools); the login is in {spec.oauth_file}")


def logout_command(ctx: typer.Context, name: Name) -> None:
    """Forget a remote server's stored OAuth login."""
    from mnemocode.extensions.mcp.oauth import logout

    spec = _remote(ctx, name)
    if logout(Path(spec.oauth_file)):
        typer.echo(f"Logged out of {name!r} (removed {spec.oauth_file})")
    else:
        typer.echo(f"No stored login for {name!r}")


def register(app: typer.Typer) -> None:
    app.command("login")(login_command)
    app.command("logout")(logout_command)
