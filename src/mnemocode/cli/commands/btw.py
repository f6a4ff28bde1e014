"""/btw <question>: a side question — one model call, no tools, no history.

The answer is printed and forgotten: the conversation does not change. Its
tokens still count in the session totals (they were paid for).
"""

from __future__ import annotations

from rich.markdown import Markdown
from rich.text import Text

from mnemocode.cli.commands import ReplContext, SlashCommand
from mnemocode.core.errors import MnemoError
from mnemocode.core.types import Message, ModelRequest
from mnemocode.llm.base import complete


async def btw_command(ctx: ReplContext, arg: str) -> None:
    if not arg:
        ctx.console.print(Text("usage: /btw <question>", style="yellow"))
        return
    agent = ctx.app.agent
    request = ModelRequest(
        [Message.user(arg)],
        system=list(agent.context.prefix.blocks),
        max_output_tokens=agent.context.max_output_tokens,
        temperature=agent.context.temperature,
    )
    try:
        with ctx.renderer.status("thinking…"):
            response = await complete(agent.slot.model, request)
    except MnemoError as exc:
        ctx.console.print(Text(f"✗ {exc.one_line()}", style="bold red"))
        return
    agent.totals.record(agent.slot.model.name, response.usage, agent.slot.price(response.usage))
    ctx.console.print(Markdown(response.message.text or "(no answer)"))


COMMANDS = [
    SlashCommand(
        "btw", "ask a side question (no tools, not kept in history)", btw_command, "<question>"
    )
]
