"""``mnemo agent list|show|validate``: the agents a session here would offer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mnemocode.cli.options import Options, fail

if TYPE_CHECKING:  # `mnemo --help` imports this module: nothing of agents at start
    from mnemocode.extensions.agents.discovery import AgentCatalog

agent_cli = typer.Typer(
    name="agent",
    help="Agent definitions (Claude Code sub-agent files): list, show, validate.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _catalog(ctx: typer.Context, notices: list[str]) -> AgentCatalog:
    from mnemocode.cli.trust_cli import check
    from mnemocode.config.paths import mnemo_home
    from mnemocode.extensions.agents.setup import open_agents

    found = ctx.find_root().obj
    opts = found if isinstance(found, Options) else Options()
    return open_agents(
        workdir=Path(opts.cwd or Path.cwd()),
        mnemo_home=mnemo_home(os.environ),
        user_home=Path(os.environ.get("HOME") or Path.home()),
        env=os.environ,
        trusted=check(opts).trust.trusted,
        notices=notices,
    )


@agent_cli.command("list")
def list_command(ctx: typer.Context) -> None:
    """The agents found here, nearest first."""
    notices: list[str] = []
    catalog = _catalog(ctx, notices)
    for agent in catalog.agents().values():
        tools = "all" if agent.tools is None else ",".join(agent.tools)
        typer.echo(f"{agent.name:<20} {agent.source:<8} model={agent.model or 'inherit'} "
                   f"tools={tools}")  # fmt: skip
        typer.echo(f"    {agent.description[:110]}")
    for hidden in catalog.shadowed:
        typer.echo(f"shadowed: {hidden.name} in {hidden.path}")
    for line in notices + [f"agent not loaded: {p}" for p in catalog.problems]:
        typer.echo(line, err=True)


@agent_cli.command("show")
def show_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The agent's name.")]
) -> None:
    """An agent's fields and its system prompt."""
    agent = _catalog(ctx, []).get(name)
    if agent is None:
        raise fail(f"no agent named {name!r} (mnemo agent list shows them)")
    typer.echo(f"name: {agent.name}  ({agent.source}, {agent.path})")
    typer.echo(f"description: {agent.description}")
    typer.echo(f"tools: {'all' if agent.tools is None else ', '.join(agent.tools)}")
    for label, value in (
        ("disallowedTools", ", ".join(agent.disallowed)),
        ("model", agent.model or "inherit"),
        ("permissionMode", agent.permission_mode),
        ("maxTurns", str(agent.max_turns or "")),
        ("delegation", ", ".join(agent.delegation)),
    ):
        if value:
            typer.echo(f"{label}: {value}")
    typer.echo("")
    typer.echo(agent.prompt.rstrip())


@agent_cli.command("validate")
def validate_command(
    paths: Annotated[list[Path], typer.Argument(help="Agent files or folders of them.")],
) -> None:
    """Check agent files; one `file:line: problem` per error (exit 1 if any)."""
    from mnemocode.extensions.agents.discovery import agent_files
    from mnemocode.extensions.agents.spec import load_agent

    targets = [f for p in paths for f in (agent_files(p) if p.is_dir() else [p])]
    failed = False
    for target in targets:
        agent, problems = load_agent(target)
        for problem in problems:
            typer.echo(str(problem))
        failed = failed or bool(problems)
        if agent is not None:
            typer.echo(f"{target}: ok ({agent.name})")
    if failed or not targets:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(agent_cli, name="agent")
