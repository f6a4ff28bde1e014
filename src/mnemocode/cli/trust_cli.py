"""Folder trust at the command line: the start-up question, ``mnemo trust [--revoke]
[PATH]``, and the doctor's lines. What trust means is in ``config.trust``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mnemocode.cli.options import Options, fail, guarded

if TYPE_CHECKING:  # `mnemo --help` imports this module: no pydantic at start
    from mnemocode.config.loader import LoadedSettings
    from mnemocode.config.trust import Decision, TrustCheck


def check(opts: Options) -> TrustCheck:
    from mnemocode.config.trust import check_trust

    return guarded(opts, lambda: check_trust(opts.cwd, os.environ, trust_run=opts.trust))


def describe(cwd: Path) -> tuple[list[str], tuple[str, ...]]:
    """The lines of what ``cwd``'s folder wants, and the endpoints trusting confirms."""
    from mnemocode.config.loader import folder_wants
    from mnemocode.config.trust import folder_request, other_wants

    wants = folder_wants(cwd, os.environ)
    request = folder_request(cwd, os.environ)
    others = [other_wants(f) for f in request.files if f.kind != "config"] if request else []
    return wants.lines + others, wants.endpoints


def ask_if_needed(opts: Options) -> None:
    """Interactive start: ask once about a folder with project config never answered
    for (or changed since it was trusted), and store the answer."""
    found = check(opts)
    request = found.request
    if opts.trust or request is None or found.status not in ("unknown", "changed"):
        return
    lines, endpoints = guarded(opts, lambda: describe(opts.cwd))
    if found.status == "changed":
        typer.echo(f"The project config in {request.root} changed since you trusted it.")
    typer.echo(f"This folder ({request.root}) wants to:")
    for line in lines:
        typer.echo(f"  - {line}")
    trusted = typer.confirm("Trust this folder?", default=False)
    from mnemocode.config.trust import TrustStore

    store = TrustStore.for_env(os.environ)
    decision: Decision = "trusted" if trusted else "untrusted"
    guarded(opts, lambda: store.decide(request, decision, endpoints if trusted else ()))
    typer.echo(
        "Trusted." if trusted else "Not trusted: its project config is ignored (`mnemo trust`)."
    )


def run_notices(found: TrustCheck, loaded: LoadedSettings) -> list[str]:
    """What a run says at start about the folder's config."""
    from mnemocode.config.trust import ignored_notice

    notice = ignored_notice(found)
    return ([notice] if notice and loaded.ignored else []) + loaded.notices


def doctor_lines(opts: Options, loaded: LoadedSettings) -> list[tuple[str, str, str]]:
    from mnemocode.config.trust import ignored_notice, what_is_ignored

    found = check(opts)
    if found.request is None or found.status == "none":
        return [("ok", "trust", "no project config in this folder")]
    root = found.request.root
    if found.status == "trusted" and found.record is not None:
        lines = [("ok", "trust", f"{root} trusted on {found.record.at}")]
    elif found.trust.trusted:
        lines = [("ok", "trust", f"{root} trusted for this run (--trust)")]
    else:
        fallback = f"{root} not trusted: its {what_is_ignored(found.request)} are ignored"
        lines = [("warn", "trust", ignored_notice(found) or fallback)]
    return lines + [("warn", "project", notice) for notice in loaded.notices]


def trust_command(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="The folder (default: this one).")] = None,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Forget the answer: its config is ignored again.")
    ] = False,
) -> None:
    """Trust a folder's project config (and confirm the model endpoints it names)."""
    from mnemocode.config.paths import find_project_root
    from mnemocode.config.trust import TrustStore, folder_request

    parent: Options = ctx.obj or Options()
    where = (path or parent.cwd).expanduser().resolve()
    if not where.is_dir():
        raise fail(f"{where} is not a directory")
    store = TrustStore.for_env(os.environ)
    request = guarded(parent, lambda: folder_request(where, os.environ))
    if revoke:
        root = request.root if request else (find_project_root(where, env=os.environ) or where)
        removed = guarded(parent, lambda: store.revoke(root))
        typer.echo(f"Revoked trust in {root}." if removed else f"{root} was not trusted.")
        return
    if request is None or not request.needs_trust:
        typer.echo(f"Nothing to trust: {where} has no project config.")
        return
    lines, endpoints = guarded(parent, lambda: describe(where))
    guarded(parent, lambda: store.decide(request, "trusted", endpoints))
    typer.echo(f"Trusted {request.root}. It may:")
    for line in lines:
        typer.echo(f"  - {line}")
    typer.echo("Undo with `mnemo trust --revoke` (or /permissions trust revoke).")


def register(app: typer.Typer) -> None:
    app.command("trust")(trust_command)


def keep_trust_after_own_write(
    cwd: Path, before: TrustCheck, endpoints: tuple[str, ...]
) -> str | None:
    """After mnemo itself wrote the project config (``mnemo init --project``): a folder
    that was trusted, or had no project config, stays trusted with ``endpoints``
    confirmed too. Otherwise a note: the file has no effect until trusted."""
    from mnemocode.config.trust import TrustStore, folder_request

    request = folder_request(cwd, os.environ)
    if request is None:
        return None
    if before.status not in ("none", "trusted"):
        return (
            f"Note: {request.root} is not trusted, so its project config has no effect "
            "(`mnemo trust`)."
        )
    old = before.record.endpoints if before.record is not None else ()
    TrustStore.for_env(os.environ).decide(request, "trusted", (*old, *endpoints))
    return None
