"""``mnemo mcp list|add|remove|get``: the MCP servers mnemo uses, as ``claude mcp``.

``add`` writes Claude Code's format: the project's ``.mcp.json`` (``--scope
project``, shared with the team and with Claude Code) or ``~/.mnemo/mcp.json``
(``--scope user``, the default). Servers in ``[mcp.servers.*]`` of mnemo's config
are listed but edited by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mnemocode.cli.options import Options, fail, guarded

if TYPE_CHECKING:  # `mnemo --help` imports this module: nothing heavy at start
    from mnemocode.extensions.mcp.config import ServerSpec

Scope = Annotated[
    str, typer.Option("--scope", "-s", help="project (.mcp.json) or user (~/.mnemo/mcp.json).")
]


def _opts(ctx: typer.Context) -> Options:
    found = ctx.find_root().obj
    return found if isinstance(found, Options) else Options()


def _file(opts: Options, scope: str) -> Path:
    from mnemocode.config.paths import find_project_root, mnemo_home
    from mnemocode.extensions.mcp.config import MCP_JSON, USER_MCP_JSON

    if scope == "user":
        return mnemo_home(os.environ) / USER_MCP_JSON
    if scope == "project":
        root = find_project_root(opts.cwd, env=os.environ) or opts.cwd
        return root / MCP_JSON
    raise fail(f"--scope must be project or user, not {scope!r}")


def _read(path: Path) -> dict[str, Any]:
    from mnemocode.extensions.mcp.config import read_mcp_json

    read_mcp_json(path)  # a broken file is said with its line, before it is rewritten
    if not path.is_file():
        return {"mcpServers": {}}
    data = json.loads(path.read_text(encoding="utf-8") or "{}")
    data.setdefault("mcpServers", {})
    return dict(data)


def _write(path: Path, data: dict[str, Any]) -> None:
    from mnemocode.config.writer import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def _pairs(items: list[str], sep: str, what: str) -> dict[str, str]:
    found = {}
    for item in items:
        key, got, value = item.partition(sep)
        if not got or not key.strip():
            raise fail(f"{what} {item!r}: expected KEY{sep}VALUE")
        found[key.strip()] = value.strip() if sep == ":" else value
    return found


def add_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The server's name (tools: mcp__NAME__tool).")],
    target: Annotated[
        list[str] | None,
        typer.Argument(help="After --: the command and its arguments; or the URL (http, sse)."),
    ] = None,
    transport: Annotated[
        str, typer.Option("--transport", "-t", help="stdio (default), http or sse.")
    ] = "stdio",
    scope: Scope = "user",
    env: Annotated[
        list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE for the server.")
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help='"Name: value" (e.g. Authorization: Bearer ${TOKEN}).'),
    ] = None,
) -> None:
    """Add a server: `mnemo mcp add NAME -- command args` or `--transport http NAME URL`."""
    from mnemocode.extensions.mcp.config import check_name

    opts = _opts(ctx)
    words = list(target or [])
    guarded(opts, lambda: check_name(name, "mnemo mcp add"))
    if not words:
        raise fail("name the command after -- (stdio), or the URL (--transport http URL)")
    entry: dict[str, Any]
    if transport == "stdio":
        entry = {"command": words[0], "args": words[1:]}
        if env:
            entry["env"] = _pairs(env, "=", "--env")
    elif transport in ("http", "sse"):
        entry = {"type": transport, "url": words[0]}
        if header:
            entry["headers"] = _pairs(header, ":", "--header")
    else:
        raise fail(f"--transport must be stdio, http or sse, not {transport!r}")
    path = _file(opts, scope)
    before = _trust_before(opts) if scope == "project" else None
    data = guarded(opts, lambda: _read(path))
    replaced = name in data["mcpServers"]
    data["mcpServers"][name] = entry
    _write(path, data)
    typer.echo(f"{'Replaced' if replaced else 'Added'} MCP server {name} in {path}.")
    if before is not None:
        from mnemocode.cli.trust_cli import keep_trust_after_own_write

        note = keep_trust_after_own_write(opts.cwd, before, ())
        if note:
            typer.echo(note)


def _trust_before(opts: Options) -> Any:
    from mnemocode.cli.trust_cli import check

    return check(opts)


def remove_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The server to remove.")],
    scope: Annotated[
        str | None, typer.Option("--scope", "-s", help="project or user (default: where it is).")
    ] = None,
) -> None:
    """Remove a server from .mcp.json or ~/.mnemo/mcp.json."""
    opts = _opts(ctx)
    for where in [scope] if scope else ["project", "user"]:
        path = _file(opts, where)
        data = guarded(opts, lambda path=path: _read(path))  # type: ignore[misc]
        if name in data["mcpServers"]:
            before = _trust_before(opts) if where == "project" else None
            del data["mcpServers"][name]
            _write(path, data)
            typer.echo(f"Removed MCP server {name} from {path}.")
            if before is not None:
                from mnemocode.cli.trust_cli import keep_trust_after_own_write

                keep_trust_after_own_write(opts.cwd, before, ())
            return
    raise fail(f"no MCP server {name!r} in .mcp.json or ~/.mnemo/mcp.json")


def _servers(opts: Options) -> tuple[list[ServerSpec], list[str]]:
    from mnemocode.cli.launch import load
    from mnemocode.cli.trust_cli import check
    from mnemocode.config.paths import find_project_root, mnemo_home
    from mnemocode.extensions.mcp.config import load_servers

    settings = load(opts).settings
    trusted = check(opts).trust.trusted
    found = guarded(
        opts,
        lambda: load_servers(
            settings.mcp,
            project_root=find_project_root(opts.cwd, env=os.environ),
            mnemo_home=mnemo_home(os.environ),
            env=os.environ,
            trusted=trusted,
        ),
    )
    return found.specs, found.notices


def list_command(ctx: typer.Context) -> None:
    """The servers this folder's sessions use (none is started)."""
    opts = _opts(ctx)
    specs, notices = _servers(opts)
    for spec in specs:
        problem = f"  [cannot start: {spec.problem}]" if spec.problem else ""
        typer.echo(f"{spec.name}: {spec.describe()}  ({spec.source}, {spec.origin}){problem}")
    for notice in notices:
        typer.echo(f"note: {notice}")
    if not specs and not notices:
        typer.echo("No MCP servers. Add one: mnemo mcp add NAME -- command args")


def get_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The server.")]
) -> None:
    """One server's settings (header and env values are not shown: they hold tokens)."""
    opts = _opts(ctx)
    specs, notices = _servers(opts)
    spec = next((s for s in specs if s.name == name), None)
    if spec is None:
        for notice in notices:
            typer.echo(f"note: {notice}", err=True)
        raise fail(f"no MCP server {name!r} (mnemo mcp list)")
    rows = [
        ("name", spec.name),
        ("from", f"{spec.source} ({spec.origin})"),
        ("transport", spec.transport),
        ("command" if spec.transport == "stdio" else "url", spec.describe()),
        ("env", ", ".join(sorted(spec.env)) or "-"),
        ("headers", ", ".join(sorted(spec.headers)) or "-"),
        ("startup", spec.startup),
        ("start timeout", f"{spec.start_timeout_s:g} s"),
        ("call timeout", f"{spec.call_timeout_s:g} s"),
        ("trust read-only hints", "yes" if spec.trust_read_only_hints else "no"),
    ]
    if spec.problem:
        rows.append(("cannot start", spec.problem))
    for key, value in rows:
        typer.echo(f"{key + ':':<24}{value}")


def register(app: typer.Typer) -> None:
    """Adds its commands to the ``mnemo mcp`` group."""
    app.command("list")(list_command)
    app.command("get")(get_command)
    app.command("add")(add_command)
    app.command("remove")(remove_command)
