"""The global options of ``mnemo`` (parsed once, handed to whichever command runs)
and the two helpers every command uses: ``fail`` (one error line, an exit code) and
``guarded`` (our errors become that line). Nothing here imports the commands."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

T = TypeVar("T")

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
StrategyOpt = Annotated[
    str | None,
    typer.Option("--strategy", help="How turns are solved: auto, direct or context."),
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
        strategy: str | None = None,
    ) -> None:
        self.model, self.mode, self.yes, self.max_turns = model, mode, yes, max_turns
        self.trust, self.strategy = trust, strategy
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
        if self.strategy:
            data["router"] = {"strategy": self.strategy}
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
