"""/tools: the tools the model can call."""

from __future__ import annotations

import re
from pathlib import Path

from rich.table import Table
from rich.text import Text

from mnemocode.cli.commands import ReplContext, SlashCommand

# A sentence ends at a full stop before a capital: not inside "e.g. x" or "1. x".
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)\.\s+(?=[A-Z])")


def first_sentence(description: str, width: int = 160) -> str:
    """The first sentence whole; a very long one is cut at a word."""
    flat = " ".join(description.split())
    end = _SENTENCE_END.search(flat)
    sentence = flat[: end.start() + 1] if end else flat
    if len(sentence) <= width:
        return sentence
    return sentence[: width - 1].rsplit(" ", 1)[0] + "…"


MODE_NOTES = {
    "ask": "read-only tools run without asking; the others ask",
    "auto": "edits in the work directory and sandboxed commands run without asking",
    "bypass": "everything runs without asking (protected paths still ask)",
}


async def tools_command(ctx: ReplContext, arg: str) -> None:
    specs = sorted(ctx.app.tool_specs(), key=lambda s: s.name)
    if not specs:
        ctx.console.print(Text("no tools", style="dim"))
        return
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    for spec in specs:
        mark = Text("read-only", style="green") if spec.read_only else Text("asks", style="yellow")
        about = Text(first_sentence(spec.description))
        custom = ctx.app.custom_tools.get(spec.name) if ctx.app.custom_tools else None
        if custom is not None:
            where = custom.origin if custom.source == "plugin" else Path(custom.origin).name
            about.append(f" ({custom.source} tool, {where})", style="dim")
        table.add_row(Text(spec.name, style="bold"), mark, about)
    ctx.console.print(table)
    if ctx.app.left_out_tools:
        window = ctx.app.agent.slot.context_window
        names = ", ".join(ctx.app.left_out_tools)
        ctx.console.print(
            Text(f"left out for this model's small window ({window} tokens): {names}", style="dim")
        )
    mode = ctx.app.safety.policy.mode
    ctx.console.print(Text(f"mode {mode}: {MODE_NOTES.get(mode, '')}", style="dim"))


COMMANDS = [SlashCommand("tools", "list the tools the model can use", tools_command)]
