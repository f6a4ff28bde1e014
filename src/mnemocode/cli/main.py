"""The ``mnemo`` command line (typer). Heavy modules are imported inside the
commands so that ``mnemo --help`` stays fast."""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mnemocode import __version__

T = TypeVar("T")

cli = typer.Typer(
    name="mnemo",
    help="mnemo — a coding agent for your terminal that remembers you and your projects.",
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model alias from [models.*].")]
CwdOpt = Annotated[Path | None, typer.Option("--cwd", help="Work in this directory.")]
ModeOpt = Annotated[
    str | None, typer.Option("--mode", help="Permission mode: ask, auto or bypass.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Headless: approve every action.")]
MaxTurnsOpt = Annotated[
    int | None, typer.Option("--max-turns", help="Max model calls for this task.")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Tracebacks and tool activity.")]
ToolsOpt = Annotated[
    str | None,
    typer.Option("--tools", help="Comma-separated tools the model may use ('none' for none)."),
]
ProjectOpt = Annotated[
    str | None, typer.Option("--project", help="Work in this project (created if new).")
]
ContinueOpt = Annotated[
    bool, typer.Option("--continue", "-c", help="Continue the project's last session.")
]
ResumeOpt = Annotated[
    str | None,
    typer.Option("--resume", "-r", help="Resume a session by id (alone: pick from a list)."),
]
PICK = "?"  # ``--resume`` given without an id
TrustOpt = Annotated[
    bool,
    typer.Option(
        "--trust",
        help="Trust this folder's project config for this run (not stored; `mnemo trust` stores).",
    ),
]
FormatOpt = Annotated[
    str, typer.Option("--output-format", help="Headless output: text, json or stream-json.")
]


class Options:
    """The global options, parsed once and handed to whichever command runs."""

    def __init__(
        self,
        *,
        model: str | None = None,
        cwd: Path | None = None,
        mode: str | None = None,
        yes: bool = False,
        max_turns: int | None = None,
        verbose: bool = False,
        output_format: str = "text",
        tools: str | None = None,
        project: str | None = None,
        continue_last: bool = False,
        resume: str | None = None,
        trust: bool = False,
    ) -> None:
        self.model, self.mode, self.yes, self.max_turns = model, mode, yes, max_turns
        self.trust = trust
        self.notices: list[str] = []  # what the last load() said about project config
        self.tools = tools
        self.project, self.continue_last, self.resume = project, continue_last, resume
        self.verbose, self.output_format = verbose, output_format
        self.cwd = (cwd or Path.cwd()).expanduser().resolve()

    def overrides(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.model:
            data["active_model"] = self.model
        if self.mode:
            data["safety"] = {"mode": self.mode}
        if self.max_turns is not None:
            data["agent"] = {"max_iterations": self.max_turns}
        return data


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"mnemo: error: {message}", err=True)
    return typer.Exit(code)


def guarded(opts: Options, action: Callable[[], T]) -> T:
    """Run ``action``; our errors become one clear line (traceback with --verbose)."""
    from mnemocode.core.errors import ConfigError, MnemoError

    try:
        return action()
    except MnemoError as exc:
        if opts.verbose:
            traceback.print_exc()
        raise fail(exc.one_line(), 2 if isinstance(exc, ConfigError) else 1) from None


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
    from mnemocode.config.paths import mnemo_home

    if tools is None and opts.tools is not None:
        tools = select_tools(opts.tools)
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
        ),
    )
    guarded(opts, lambda: resume_session(app, opts))
    return app


def _enter_project(opts: Options) -> None:
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


def headless(opts: Options, prompt: str, tools: Any = None) -> int:
    from mnemocode.cli.attachments import expand_attachments
    from mnemocode.cli.headless import OutputFormat, run_headless
    from mnemocode.safety.approvers import headless_approver

    try:
        fmt = OutputFormat(opts.output_format)
    except ValueError:
        raise fail(
            f"--output-format must be text, json or stream-json, not {opts.output_format!r}"
        ) from None
    if not prompt.strip():
        raise fail("no prompt: pass -p 'task' or pipe text on stdin")
    settings = load(opts).settings
    if not settings.is_configured:
        raise fail("no model is configured; run `mnemo init` first")
    approver = headless_approver(opts.yes or settings.safety.mode == "bypass")
    app = make_app(opts, settings, approver, tools)
    app.notices[:0] = opts.notices
    cfg = settings.tools
    message = expand_attachments(
        prompt, opts.cwd, vision=app.model_config.vision, max_chars=cfg.attach_max_chars
    )
    return guarded(opts, lambda: asyncio.run(run_headless(app, message, fmt, verbose=opts.verbose)))


@cli.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    prompt: Annotated[
        str | None,
        typer.Option(
            "--print", "-p", help="Run one task headless and print the result ('-' reads stdin)."
        ),
    ] = None,
    output_format: FormatOpt = "text",
    model: ModelOpt = None,
    max_turns: MaxTurnsOpt = None,
    cwd: CwdOpt = None,
    mode: ModeOpt = None,
    yes: YesOpt = False,
    tools: ToolsOpt = None,
    project: ProjectOpt = None,
    continue_last: ContinueOpt = False,
    resume: ResumeOpt = None,
    trust: TrustOpt = False,
    verbose: VerboseOpt = False,
    version: Annotated[bool, typer.Option("--version", "-V", help="Print the version.")] = False,
) -> None:
    if version:
        typer.echo(f"mnemo {__version__}")
        raise typer.Exit()
    opts = Options(
        model=model,
        cwd=cwd,
        mode=mode,
        yes=yes,
        max_turns=max_turns,
        verbose=verbose,
        output_format=output_format,
        tools=tools,
        project=project,
        continue_last=continue_last,
        resume=resume,
        trust=trust,
    )
    if continue_last and resume:
        raise fail("use --continue or --resume, not both")
    _enter_project(opts)
    ctx.obj = opts
    if ctx.invoked_subcommand is not None:
        return
    if prompt is not None or not sys.stdin.isatty():
        from mnemocode.cli.headless import read_prompt

        if resume == PICK:
            raise fail("headless --resume needs a session id (mnemo memory sessions lists them)")
        raise typer.Exit(headless(opts, read_prompt(prompt, sys.stdin)))
    raise typer.Exit(interactive(opts))


def interactive(opts: Options) -> int:
    from mnemocode.cli.approver import TerminalApprover
    from mnemocode.cli.repl import start_repl
    from mnemocode.cli.setup import run_init_wizard
    from mnemocode.cli.trust_cli import ask_if_needed

    ask_if_needed(opts)
    loaded = load(opts)
    if not loaded.settings.is_configured:
        typer.echo("No model is configured yet — let's set one up.\n")
        code = run_init_wizard(opts)
        if code != 0:
            return code
        loaded = load(opts)
    approver = TerminalApprover()
    app = make_app(opts, loaded.settings, approver)
    app.notices[:0] = opts.notices

    def rebuild(name: str) -> Any:
        """The App for project ``name`` (``/project switch``), with its own config."""
        from mnemocode.core.errors import MnemoError

        switched = Options(
            model=opts.model, mode=opts.mode, max_turns=opts.max_turns,
            verbose=opts.verbose, tools=opts.tools, project=name,
        )  # fmt: skip
        _enter_project(switched)
        try:
            settings = load(switched).settings
            switched_app = make_app(switched, settings, approver)
            switched_app.notices[:0] = switched.notices
            return switched_app
        except typer.Exit as exc:
            raise MnemoError(f"cannot open project {name!r}") from exc

    return start_repl(app, rebuild=rebuild, first="/resume" if opts.resume == PICK else None)


def _resume_without_id(argv: list[str]) -> list[str]:
    """Click options cannot take an optional value: ``--resume`` with no id after
    it (last, or followed by another option) gets the picker marker."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg in {"--resume", "-r"} and (i + 1 == len(argv) or argv[i + 1].startswith("-")):
            out.append(PICK)
    return out


def run(argv: list[str]) -> None:
    from mnemocode.cli import memory_cli, presets, runtime_cli, safety, setup, trust_cli

    argv = _resume_without_id(argv)
    memory_cli.register(cli)
    runtime_cli.register(cli)

    setup.register(cli)
    presets.register(cli)
    safety.register(cli)
    trust_cli.register(cli)
    cli(args=argv, prog_name="mnemo")
