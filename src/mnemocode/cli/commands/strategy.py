"""/strategy: how turns are solved — ``auto`` (mnemo picks per turn), or one
strategy forced for this session (never written to a file). Also the per-strategy
lines of ``/cost``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from mnemocode.cli.commands import ReplContext, SlashCommand
from mnemocode.core.errors import ConfigError

if TYPE_CHECKING:
    from mnemocode.agent.router import Router

WHAT = {
    "auto": "pick per turn: questions → direct, change requests → context",
    "direct": "the tool loop: the model reads, runs and edits step by step",
    "context": "context first: gather the code, one solve, verify, review",
    "workflow": "parallel specialist agents",
    "rlm": "recursive exploration in a sandboxed REPL",
}


async def strategy_command(ctx: ReplContext, arg: str) -> None:
    router = ctx.app.router
    if router is None:
        ctx.say("no router in this session: every turn runs the tool loop", "yellow")
        return
    if not arg:
        _show(ctx, router)
        return
    try:
        router.set_mode(arg)
    except ConfigError as exc:
        ctx.say(f"✗ {exc.message}", "red")
        return
    if arg == "auto":
        ctx.say("strategy: auto — mnemo picks for each turn", "dim")
    else:
        ctx.say(f"strategy: {arg} for this session (/strategy auto to let mnemo pick)", "dim")


def _show(ctx: ReplContext, router: Router) -> None:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    for name in router.offered():
        mark = "●" if name == router.mode else " "
        table.add_row(f"{mark} {name}", WHAT.get(name, ""))
    ctx.console.print(table)
    pick = router.last_pick
    if pick is not None:
        how = "forced" if pick.forced else "picked"
        ctx.say(f"last turn: {pick.strategy} ({how}: {pick.reason})", "dim")


def cost_rows(router: Router | None) -> Table | None:
    """Calls, tokens, cost and time per strategy this session; None before any turn."""
    from mnemocode.cli.render import format_cost, format_tokens

    if router is None or not router.ledger.by_strategy:
        return None
    table = Table(box=None, padding=(0, 2, 0, 0), title_justify="left")
    for column in ("strategy", "runs", "failed", "calls", "in", "out", "cost", "time"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for name, totals in router.ledger.by_strategy.items():
        table.add_row(
            name,
            str(totals.runs),
            str(totals.failures),
            str(totals.model_calls),
            format_tokens(totals.usage.input_tokens),
            format_tokens(totals.usage.output_tokens),
            format_cost(totals.cost_usd),
            f"{totals.duration_s:.1f}s",
        )
    return table


COMMANDS = [
    SlashCommand(
        "strategy",
        "how turns are solved: auto, direct or context",
        strategy_command,
        "[auto|direct|context]",
    ),
]
