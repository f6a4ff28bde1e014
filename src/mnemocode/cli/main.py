"""The ``mnemo`` command line (typer). Heavy modules are imported inside the
commands so that ``mnemo --help`` stays fast."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from mnemocode import __version__
from mnemocode.cli.launch import enter_project, headless, load, make_app
from mnemocode.cli.options import (
    PICK,
    ContinueOpt,
    CwdOpt,
    FormatOpt,
    MaxTurnsOpt,
    ModelOpt,
    ModeOpt,
    Options,
    ProjectOpt,
    ResumeOpt,
    StrategyOpt,
    ToolsOpt,
    TrustOpt,
    VerboseOpt,
    YesOpt,
    fail,
)

cli = typer.Typer(
    name="mnemo",
    help="mnemo — a coding agent for your terminal that remembers you and your projects.",
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    strategy: StrategyOpt = None,
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
        strategy=strategy,
    )
    if continue_last and resume:
        raise fail("use --continue or --resume, not both")
    enter_project(opts)
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
        code = run_init_wizard(opts, starting=True)
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
            verbose=opts.verbose, tools=opts.tools, project=name, strategy=opts.strategy,
        )  # fmt: skip
        enter_project(switched)
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
    it (last, or followed by another option) gets the picker marker, and ``-p``
    with no prompt after it reads stdin (``echo task | mnemo -p``)."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        out.append(arg)
        bare = i + 1 == len(argv) or argv[i + 1].startswith("-")
        if arg in {"--resume", "-r"} and bare:
            out.append(PICK)
        elif arg in {"--print", "-p"} and bare and argv[i + 1 : i + 2] != ["-"]:
            out.append("-")
    return out


def run(argv: list[str]) -> None:
    from mnemocode.cli import (
        agent_cli,
        map_cli,
        mcp_cli,
        memory_cli,
        presets,
        runtime_cli,
        safety,
        setup,
        skill_cli,
        trust_cli,
    )

    argv = _resume_without_id(argv)
    memory_cli.register(cli)
    runtime_cli.register(cli)

    setup.register(cli)
    presets.register(cli)
    safety.register(cli)
    trust_cli.register(cli)
    map_cli.register(cli)
    mcp_cli.register(cli)
    skill_cli.register(cli)
    agent_cli.register(cli)
    cli(args=argv, prog_name="mnemo")
