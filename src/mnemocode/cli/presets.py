"""One-shot presets over the same agent: ask, fix, review, explain, analyze.

Each is a built-in skill (``extensions/skills/builtin/<skill>/SKILL.md``: its body,
with the arguments put in, is the prompt) plus the tools it may use; ``ask``,
``review``, ``explain`` and ``analyze`` get read-only tools (and ``shell_exec`` for
``review``, which needs git), ``fix`` gets everything."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import typer

from mnemocode.cli.launch import headless
from mnemocode.cli.options import (
    CwdOpt,
    FormatOpt,
    MaxTurnsOpt,
    ModelOpt,
    ModeOpt,
    Options,
    VerboseOpt,
    YesOpt,
)


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    help: str
    skill: str  # the built-in skill whose body is the prompt
    read_only: bool
    extra_tools: tuple[str, ...] = ()
    default_target: str = ""


PRESETS = [
    Preset(
        "ask",
        "Answer a question about the code (read-only).",
        "ask",
        read_only=True,
    ),
    Preset(
        "fix",
        "Fix a bug or failing test, then verify the fix.",
        "fix-bugs",
        read_only=False,
    ),
    Preset(
        "review",
        "Review changes (default: the uncommitted git diff).",
        "review-code",
        read_only=True,
        extra_tools=("shell_exec",),
        default_target="the uncommitted changes in this repository",
    ),
    Preset(
        "explain",
        "Explain a file, symbol or concept in this codebase (read-only).",
        "explain-code",
        read_only=True,
    ),
    Preset(
        "analyze",
        "Analyse the structure and quality of a path or the whole project (read-only).",
        "analyze-code",
        read_only=True,
        default_target="this project",
    ),
]


def _tools_for(preset: Preset) -> object | None:
    if not preset.read_only:
        return None
    from mnemocode.tools.base import FunctionToolset
    from mnemocode.tools.builtin import builtin_tools

    allowed = set(preset.extra_tools)
    return FunctionToolset([t for t in builtin_tools() if t.spec.read_only or t.name in allowed])


def preset_prompt(preset: Preset, target: str) -> str:
    """The built-in skill's body with ``target`` as its arguments."""
    from mnemocode.extensions.skills.activation import substitute
    from mnemocode.extensions.skills.discovery import BUILTIN_ROOT
    from mnemocode.extensions.skills.spec import load_skill

    skill, problems = load_skill(BUILTIN_ROOT / preset.skill, "builtin")
    if skill is None:  # a broken wheel, not a user error
        raise RuntimeError("; ".join(str(p) for p in problems))
    return substitute(skill.body(), target, skill.folder).strip()


def _command(preset: Preset) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        target: Annotated[list[str] | None, typer.Argument(help="What to work on.")] = None,
        output_format: FormatOpt = "text",
        model: ModelOpt = None,
        max_turns: MaxTurnsOpt = None,
        cwd: CwdOpt = None,
        mode: ModeOpt = None,
        yes: YesOpt = False,
        verbose: VerboseOpt = False,
    ) -> None:
        parent: Options = ctx.obj or Options()
        opts = Options(
            model=model or parent.model,
            cwd=cwd or parent.cwd,
            mode=mode or parent.mode,
            yes=yes or parent.yes,
            max_turns=max_turns if max_turns is not None else parent.max_turns,
            verbose=verbose or parent.verbose,
            output_format=output_format if output_format != "text" else parent.output_format,
            trust=parent.trust,
        )
        text = " ".join(target or []).strip()
        if not sys.stdin.isatty():
            piped = sys.stdin.read().strip()
            text = f"{text}\n\n<stdin>\n{piped}\n</stdin>" if piped else text
        text = text or preset.default_target
        if not text:
            raise typer.BadParameter(f"`mnemo {preset.name}` needs something to work on")
        prompt = preset_prompt(preset, text)
        code = headless(opts, prompt, _tools_for(preset), must_edit=not preset.read_only)
        raise typer.Exit(code)

    command.__doc__ = preset.help
    return command


def register(app: typer.Typer) -> None:
    for preset in PRESETS:
        app.command(preset.name, help=preset.help)(_command(preset))
