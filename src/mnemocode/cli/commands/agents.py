"""/agents: the agents the ``task`` tool offers in this session."""

from __future__ import annotations

from mnemocode.cli.commands import ReplContext, SlashCommand


async def agents_command(ctx: ReplContext, arg: str) -> None:
    """Name, where it came from, its tools and its model."""
    catalog = ctx.app.agents
    if catalog is None:
        ctx.say("agents are off in this session ([agents] enabled = false)")
        return
    for agent in catalog.agents().values():
        tools = "all the session's tools" if agent.tools is None else ", ".join(agent.tools)
        if agent.disallowed:
            tools += f" (not {', '.join(agent.disallowed)})"
        turns = f" · at most {agent.max_turns} turns" if agent.max_turns else ""
        ctx.say(f"{agent.name}  ({agent.source} · model {agent.model or 'inherit'}{turns})", "bold")
        ctx.say(f"    tools: {tools}", "dim")
        ctx.say(f"    {agent.description[:110]}", "dim")
    for problem in catalog.problems:
        ctx.say(f"not loaded: {problem}", "yellow")


COMMANDS = [SlashCommand("agents", "the agents the task tool may hand work to", agents_command)]
