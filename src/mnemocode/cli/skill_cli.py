"""``mnemo skill list|show|validate``: the skills a session here would have."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mnemocode.cli.options import Options, fail

if TYPE_CHECKING:  # `mnemo --help` imports this module: nothing of skills at start
    from mnemocode.extensions.skills.activation import SkillSession

skill_cli = typer.Typer(
    name="skill",
    help="Skills (SKILL.md folders): list, show, validate.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _opts(ctx: typer.Context) -> Options:
    found = ctx.find_root().obj
    return found if isinstance(found, Options) else Options()


def _session(opts: Options) -> SkillSession:
    from mnemocode.cli.trust_cli import check
    from mnemocode.config.paths import mnemo_home
    from mnemocode.config.settings import SkillsConfig
    from mnemocode.extensions.skills.setup import open_skills

    cwd = Path(opts.cwd or Path.cwd())
    return open_skills(
        SkillsConfig(),
        workdir=cwd,
        mnemo_home=mnemo_home(os.environ),
        user_home=Path(os.environ.get("HOME") or Path.home()),
        env=os.environ,
        trusted=check(opts).trust.trusted,
    )


@skill_cli.command("list")
def list_command(ctx: typer.Context) -> None:
    """The skills found here, nearest first (a shadowed one is said)."""
    session = _session(_opts(ctx))
    skills = session.catalog.skills()
    for skill in skills.values():
        flags = [] if skill.model_invocable else ["user only"]
        flags += [] if skill.user_invocable else ["model only"]
        extra = f" [{', '.join(flags)}]" if flags else ""
        typer.echo(f"{skill.name:<24} {skill.source:<8} {skill.folder}{extra}")
        typer.echo(f"    {' '.join(skill.description.split())[:110]}")
    for hidden in session.catalog.shadowed:
        winner = skills.get(hidden.name)
        where = winner.folder if winner is not None else "?"
        typer.echo(f"shadowed: {hidden.name} in {hidden.folder} (by {where})")
    for line in session.notices:
        typer.echo(line, err=True)
    for problem in session.catalog.problems:
        typer.echo(f"skill not loaded: {problem}", err=True)
    if not skills:
        typer.echo("no skills")


@skill_cli.command("show")
def show_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The skill's name.")]
) -> None:
    """A skill's frontmatter, folder, files and body."""
    from mnemocode.extensions.skills.activation import resource_files

    skill = _session(_opts(ctx)).catalog.get(name)
    if skill is None:
        raise fail(f"no skill named {name!r} (mnemo skill list shows them)")
    typer.echo(f"name: {skill.name}  ({skill.source}, {skill.path})")
    typer.echo(f"description: {skill.description}")
    for label, value in (
        ("license", skill.license),
        ("compatibility", skill.compatibility),
        ("allowed-tools", " ".join(skill.allowed_tools)),
        ("argument-hint", skill.argument_hint),
    ):
        if value:
            typer.echo(f"{label}: {value}")
    files = resource_files(skill.folder)
    if files:
        typer.echo("files: " + ", ".join(files))
    typer.echo("")
    typer.echo(skill.body().rstrip())


@skill_cli.command("validate")
def validate_command(
    paths: Annotated[list[Path], typer.Argument(help="Skill folders, SKILL.md files or roots.")],
) -> None:
    """Check skills against the spec; one `file:line: problem` per error (exit 1 if any)."""
    from mnemocode.extensions.skills.spec import SKILL_FILE, load_skill

    targets: list[Path] = []
    for path in paths:
        if path.is_dir() and not (path / SKILL_FILE).is_file():
            targets += sorted(p.parent for p in path.glob(f"*/{SKILL_FILE}"))
            if not targets:
                raise fail(f"{path}: no {SKILL_FILE} here or in its folders", code=1)
        else:
            targets.append(path)
    failed = False
    for target in targets:
        skill, problems = load_skill(target)
        for problem in problems:
            typer.echo(str(problem))
        failed = failed or bool(problems)
        if skill is not None:
            typer.echo(f"{skill.path}: ok ({skill.name})")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(skill_cli, name="skill")
