"""/help, /status, /clear, /cost, /quit, /exit."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from mnemocode.cli.commands import ReplContext, SlashCommand
from mnemocode.cli.render import format_cost, format_tokens

INPUT_HELP = (
    "Enter sends · Alt-Enter, Esc Enter or a trailing \\ adds a line · "
    "@path attaches a file · !cmd runs a shell command · Ctrl-C or Esc stops a turn · "
    "Ctrl-D exits"
)


async def help_command(ctx: ReplContext, arg: str) -> None:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    for command in ctx.commands.all():
        name = f"/{command.name}" + (f" {command.usage}" if command.usage else "")
        table.add_row(Text(name, style="bold"), command.summary)
    ctx.console.print(table)
    ctx.console.print(Text(INPUT_HELP, style="dim"))


async def status_command(ctx: ReplContext, arg: str) -> None:
    app = ctx.app
    config = app.model_config
    usage = app.agent.totals.usage
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_row("model", f"{app.model_alias} ({config.model}, {config.provider})")
    table.add_row("endpoint", config.base_url or "provider default")
    table.add_row("cwd", str(app.cwd))
    table.add_row("mode", app.settings.safety.mode)
    files = ", ".join(str(item.path) for item in app.instructions) or "none"
    table.add_row("instructions", files)
    table.add_row("turns", f"{app.agent.turns} ({len(app.agent.history)} messages in history)")
    table.add_row(
        "tokens",
        f"{format_tokens(usage.input_tokens)} in · {format_tokens(usage.output_tokens)} out",
    )
    table.add_row("cost", format_cost(app.agent.totals.cost_usd))
    ctx.console.print(table)


async def clear_command(ctx: ReplContext, arg: str) -> None:
    ctx.app.clear()
    ctx.shell_notes.clear()
    ctx.console.print(Text("Conversation cleared.", style="dim"))


async def cost_command(ctx: ReplContext, arg: str) -> None:
    totals = ctx.app.agent.totals
    usage = totals.usage
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_row("model calls", str(totals.model_calls))
    table.add_row("input tokens", f"{usage.input_tokens:,}")
    table.add_row("output tokens", f"{usage.output_tokens:,}")
    if usage.cache_read_tokens or usage.cache_write_tokens:
        table.add_row("cache read", f"{usage.cache_read_tokens:,}")
        table.add_row("cache write", f"{usage.cache_write_tokens:,}")
    cost = format_cost(totals.cost_usd)
    if totals.cost_usd is None:
        cost += " (no price known for this model; local models are free)"
    table.add_row("cost", cost)
    ctx.console.print(table)


async def quit_command(ctx: ReplContext, arg: str) -> None:
    ctx.exit_requested = True


COMMANDS = [
    SlashCommand("help", "list commands and input keys", help_command),
    SlashCommand("status", "model, endpoint, mode, instructions, tokens", status_command),
    SlashCommand("clear", "start a fresh conversation", clear_command),
    SlashCommand("cost", "tokens and cost of this session", cost_command),
    SlashCommand("quit", "leave mnemo", quit_command),
    SlashCommand("exit", "leave mnemo", quit_command),
]
