"""``mnemo map [PATH] [--tokens N] [--focus TEXT] [--json]``: the ranked code map
of a directory, as text under a token budget or, with ``--json``, every candidate
file best first (paths relative to PATH) for outside harnesses to score."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mnemocode.cli.options import Options, fail, guarded

if TYPE_CHECKING:
    from mnemocode.agent.codemap.types import RankedFile, Tag


def map_command(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="The directory to map (default: the work directory).")
    ] = None,
    tokens: Annotated[
        int | None, typer.Option("--tokens", help="Token budget ([codemap] tokens; 0: no map).")
    ] = None,
    focus: Annotated[
        str, typer.Option("--focus", help="Rank for this task text (an issue, a question).")
    ] = "",
    as_json: Annotated[
        bool, typer.Option("--json", help="Every candidate file, best first, as JSON.")
    ] = False,
) -> None:
    """Print the ranked code map: files and their key definitions, most relevant first."""
    from mnemocode.agent.codemap import CodeMap
    from mnemocode.agent.codemap.session import CACHE_FILE, focus_for
    from mnemocode.app import project_state_dir
    from mnemocode.cli.launch import load
    from mnemocode.config.paths import mnemo_home

    opts: Options = ctx.obj
    root = (opts.cwd / path) if path is not None else opts.cwd
    if not root.is_dir():
        raise fail(f"map: {root} is not a directory")
    if tokens is not None and tokens < 0:
        raise fail("map: --tokens must be 0 or more")
    opts.cwd = root = root.resolve()
    settings = load(opts).settings
    budget = settings.codemap.tokens if tokens is None else tokens
    home = mnemo_home(os.environ)
    cache = guarded(opts, lambda: project_state_dir(home, root)) / CACHE_FILE
    cache.parent.mkdir(parents=True, exist_ok=True)
    code_map = CodeMap(root, cache_path=cache, max_file_bytes=settings.codemap.max_file_bytes)
    wanted = focus_for(code_map, root, focus)
    if as_json:
        files = [_ranked(r) for r in code_map.rank(wanted)]
        selection = code_map.selection()
        report = {"files": files, "skipped": dict(sorted(selection.skipped.items()))}
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    rendered = code_map.render(wanted, tokens=budget)
    if rendered:
        typer.echo(rendered.rstrip("\n"))
    typer.echo(code_map.selection().summary(), err=True)  # stdout stays the map


def _ranked(ranked: RankedFile) -> dict[str, Any]:
    return {
        "path": ranked.path,
        "score": ranked.score,
        "definitions": [_definition(t) for t in ranked.definitions],
    }


def _definition(tag: Tag) -> dict[str, Any]:
    return {
        "name": ".".join((*tag.parents, tag.name)),
        "category": tag.category,
        "line": tag.line,
        "signature": tag.signature,
    }


def register(app: typer.Typer) -> None:
    app.command("map")(map_command)
