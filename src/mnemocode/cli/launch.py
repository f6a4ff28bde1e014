"""From the global options to a running agent: the settings (project config only
in a trusted folder), the App, the session to resume, and one headless task."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import typer

from mnemocode.cli.options import PICK, Options, fail, guarded


def load(opts: Options) -> Any:
    """The settings for ``opts.cwd``: project config only if the folder is trusted
    (stored, or ``--trust``); what was ignored goes to ``opts.notices``."""
    from mnemocode.cli.trust_cli import check, run_notices
    from mnemocode.config.loader import load_settings

    if not opts.cwd.is_dir():
        raise fail(f"--cwd {opts.cwd} is not a directory")
    found = check(opts)
    loaded = guarded(
        opts,
        lambda: load_settings(
            opts.cwd, env=os.environ, overrides=opts.overrides(), trust=found.trust
        ),
    )
    opts.notices = run_notices(found, loaded)
    return loaded


def select_tools(names: str) -> Any:
    """The built-in tools named in ``--tools`` (``none`` or empty for no tools)."""
    from mnemocode.tools.base import FunctionToolset
    from mnemocode.tools.builtin import builtin_tools

    wanted = {n.strip() for n in names.split(",") if n.strip() and n.strip() != "none"}
    available = {t.name: t for t in builtin_tools()}
    unknown = sorted(wanted - set(available))
    if unknown:
        raise fail(f"--tools: unknown tool(s) {', '.join(unknown)}; known: {', '.join(available)}")
    return FunctionToolset([t for name, t in available.items() if name in wanted])


def make_app(opts: Options, settings: Any, approver: Any, tools: Any = None) -> Any:
    from mnemocode.app import build_app
    from mnemocode.cli.trust_cli import check
    from mnemocode.config.paths import mnemo_home

    if tools is None and opts.tools is not None:
        tools = select_tools(opts.tools)
    # The project's .mcp.json servers start only in a trusted folder (or with --trust).
    trusted = check(opts).trust.trusted
    app = guarded(
        opts,
        lambda: build_app(
            settings,
            cwd=opts.cwd,
            home=mnemo_home(os.environ),
            approver=approver,
            env=os.environ,
            tools=tools,
            project=opts.project,
            trusted_folder=trusted,
        ),
    )
    guarded(opts, lambda: resume_session(app, opts))
    return app


def enter_project(opts: Options) -> None:
    """``--project NAME`` of an existing project: work in its directory (and so
    with its project config)."""
    if not opts.project:
        return
    from mnemocode.config.paths import mnemo_home
    from mnemocode.memory.service import open_registry

    registry = guarded(opts, lambda: open_registry(mnemo_home(os.environ)))
    try:
        project = registry.get(opts.project)
    finally:
        registry.conn.close()
    if project is not None and project.workdir.is_dir():
        opts.cwd = project.workdir


def resume_session(app: Any, opts: Options) -> None:
    """``--continue`` / ``--resume ID``; ``--resume`` alone is left to the REPL's picker."""
    from mnemocode.core.errors import MnemoError

    if not (opts.continue_last or (opts.resume and opts.resume != PICK)):
        return
    if app.memory is None:
        raise MnemoError("sessions are not kept: memory is turned off ([memory] enabled)")
    if opts.continue_last:
        last = app.memory.sessions.recent(1)
        if not last:
            typer.echo(f"No earlier session in project {app.project_name}; starting a new one.")
            return
        app.resume(last[0].id)
        return
    found = app.memory.sessions.find(opts.resume)
    if len(found) != 1:
        what = "no session" if not found else f"{len(found)} sessions"
        ids = ", ".join(s.id for s in found[:5])
        raise MnemoError(
            f"{what} in project {app.project_name} with an id starting {opts.resume!r}"
            + (f" ({ids})" if ids else "")
        )
    app.resume(found[0].id)


def headless(opts: Options, prompt: str, tools: Any = None, *, must_edit: bool = False) -> int:
    from mnemocode.cli.attachments import expand_attachments
    from mnemocode.cli.headless import OutputFormat, run_headless
    from mnemocode.safety.approvers import headless_approver

    try:
        fmt = OutputFormat(opts.output_format)
    except ValueError:
        raise fail(
            f"--output-format must be text, json or stream-json, not {opts.output_format!r}"
        ) from None
    settings = load(opts).settings  # a broken config is the first thing to say
    if not prompt.strip():
        raise fail("no prompt: pass -p 'task' or pipe text on stdin")
    if not settings.is_configured:
        raise fail("no model is configured; run `mnemo init` first")
    approver = headless_approver(opts.yes or settings.safety.mode == "bypass")
    app = make_app(opts, settings, approver, tools)
    app.notices[:0] = opts.notices
    cfg = settings.tools
    message = expand_attachments(
        prompt, opts.cwd, vision=app.model_config.vision, max_chars=cfg.attach_max_chars
    )
    run = run_headless(app, message, fmt, verbose=opts.verbose, must_edit=must_edit)
    return guarded(opts, lambda: asyncio.run(run))
