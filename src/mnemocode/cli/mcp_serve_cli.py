"""``mnemo mcp serve``: mnemo's tools and whole-task agent for other MCP clients.

The wiring only: settings → App (``build_app``, as headless does) with the
elicitation approver → ``extensions.mcp.server``. In stdio mode stdout is the
protocol's: everything we say goes to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mnemocode.cli.options import CwdOpt, Options, fail, guarded

DEFAULT_PORT = 8765
MODES = ("ask", "auto", "bypass")


def register(app: typer.Typer) -> None:
    """Adds its commands to the ``mnemo mcp`` group."""
    app.command("serve")(serve_command)


def serve_command(
    ctx: typer.Context,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="ask (default: read-only tools run; the rest asks the client's user through "
            "elicitation, or is refused), auto, or bypass (needs --allow-bypass).",
        ),
    ] = None,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            is_flag=False,
            flag_value=str(DEFAULT_PORT),
            metavar="[PORT]",
            help=f"Serve streamable HTTP on 127.0.0.1 (port {DEFAULT_PORT}; 0: a free one) "
            "with a bearer token, instead of stdio.",
        ),
    ] = None,
    allow_bypass: Annotated[
        bool,
        typer.Option("--allow-bypass", help="Allow --mode bypass: every call runs unchecked."),
    ] = False,
    cwd: CwdOpt = None,
) -> None:
    """Serve mnemo's tools (behind its safety policy) and an `agent` tool over MCP."""
    parent: Options = ctx.obj or Options()
    chosen = mode or "ask"  # the config's mode does not apply: there is no one to ask
    if chosen not in MODES:
        raise fail(f"--mode must be ask, auto or bypass, not {chosen!r}")
    if chosen == "bypass" and not allow_bypass:
        raise fail("--mode bypass runs every call unchecked; add --allow-bypass to mean it")
    port = _port(http)
    opts = Options(
        model=parent.model,
        cwd=cwd or parent.cwd,
        mode=chosen,
        max_turns=parent.max_turns,
        verbose=parent.verbose,
        project=parent.project,
        trust=parent.trust,
        strategy=parent.strategy,
    )
    with contextlib.redirect_stdout(sys.stderr):
        served = _served(opts)
    raise typer.Exit(guarded(opts, lambda: asyncio.run(_serve(served, port))))


def _port(http: str | None) -> int | None:
    if http is None:
        return None
    if not http.isdigit() or int(http) > 65535:
        raise fail(f"--http takes a port number (0-65535), not {http!r}")
    return int(http)


def _say(line: str) -> None:
    print(f"mnemo mcp serve: {line}", file=sys.stderr, flush=True)


def _served(opts: Options) -> Any:
    """The App's guarded tools and the agent runner, ready to serve."""
    from mnemocode.cli.launch import load
    from mnemocode.extensions.mcp.approval import ElicitationApprover
    from mnemocode.extensions.mcp.server import ServedTools

    settings = load(opts).settings
    approver = ElicitationApprover()
    model = None
    if not settings.is_configured:
        settings, model = _without_model(settings)
        _say("no model is configured (`mnemo init`): serving the tools, not the agent")
    app = _build(opts, settings, approver, opts.cwd, model)
    for notice in [*opts.notices, *app.notices]:
        _say(notice)
    runner = None if model is not None else _agent_runner(opts, settings, approver)
    prompts = None
    if app.skills is not None:  # skills as MCP prompts
        from mnemocode.extensions.mcp.skill_prompts import SkillPrompts

        prompts = SkillPrompts(app.skills.catalog)
    served = ServedTools(app.guard, app.agent.tool_context, run_agent=runner, prompts=prompts)
    return served, app


def _build(opts: Options, settings: Any, approver: Any, cwd: Path, model: Any = None) -> Any:
    from mnemocode.app import build_app
    from mnemocode.config.paths import mnemo_home

    return guarded(
        opts,
        lambda: build_app(
            settings,
            cwd=cwd,
            home=mnemo_home(os.environ),
            approver=approver,
            env=os.environ,
            model=model,
            project=opts.project if cwd == opts.cwd else None,
        ),
    )


def _agent_runner(opts: Options, settings: Any, approver: Any) -> Any:
    from mnemocode.core.errors import MnemoError
    from mnemocode.extensions.mcp.server import AgentAnswer

    async def run(prompt: str, where: Path) -> AgentAnswer:
        try:
            app = _build(opts, settings, approver, where)
        except typer.Exit:
            return AgentAnswer("agent: mnemo could not start here (see its stderr)", {}, True)
        try:
            finished = await app.run_turn(prompt, lambda _event: None)
        except MnemoError as exc:
            return AgentAnswer(f"agent: {exc.one_line()}", _usage(app), True)
        finally:
            if app.memory is not None:
                app.memory.end_session(app.session_id)  # its memory work stays queued
            await app.safety.sandbox.aclose()
        usage = {**_usage(app), "stop_reason": finished.stop_reason}
        usage["iterations"] = finished.iterations
        return AgentAnswer(finished.text, usage, finished.stop_reason != "end_turn")

    return run


def _usage(app: Any) -> dict[str, Any]:
    totals = app.agent.totals
    return {
        "input_tokens": totals.usage.input_tokens,
        "output_tokens": totals.usage.output_tokens,
        "cache_read_tokens": totals.usage.cache_read_tokens,
        "cost_usd": totals.cost_usd,
        "model": app.model_alias,
        "session_id": app.session_id,
    }


def _without_model(settings: Any) -> tuple[Any, Any]:
    """Settings with a stand-in model entry, and a model that says none is set:
    the tools need no model."""
    from mnemocode.config.settings import ModelConfig

    entry = {"unconfigured": ModelConfig(model="unconfigured")}
    return settings.model_copy(update={"models": entry, "active_model": "unconfigured"}), (
        _NoModel()
    )


class _NoModel:
    name = "unconfigured"

    def stream(self, request: Any) -> Any:
        from mnemocode.core.errors import MnemoError

        raise MnemoError("no model is configured; run `mnemo init` first")


async def _serve(served: Any, port: int | None) -> int:
    from mnemocode import __version__
    from mnemocode.extensions.mcp.server import build_server, serve_stdio

    tools, app = served
    server = build_server(tools, version=__version__)
    mode = app.safety.policy.mode
    try:
        if port is None:
            _say(f"stdio, mode {mode}, work directory {tools.workdir}")
            await serve_stdio(server)
        else:
            await _serve_http(server, port, mode)
    finally:
        await app.safety.sandbox.aclose()
    return 0


async def _serve_http(server: Any, port: int, mode: str) -> None:
    from mnemocode.extensions.mcp import serve_http

    token = os.environ.get(serve_http.TOKEN_ENV) or serve_http.new_token()
    try:
        sock = serve_http.bind(port)
    except OSError as exc:
        raise fail(f"--http {port}: cannot listen on {serve_http.HOST}: {exc.strerror}") from None
    if serve_http.TOKEN_ENV not in os.environ:
        _say(f"token (send Authorization: Bearer <token>): {token}")
    _say(f"{serve_http.url_of(sock)} (mode {mode})")  # last: "listening" for scripts
    await serve_http.serve_http(server, sock, token)
