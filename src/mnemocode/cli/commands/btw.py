"""/btw <question>: a side question about the conversation — one model call that
sees everything so far (the same system prompt, tools and history, so a prompt
cache hits) but may not call tools.

The question and its answer are printed and forgotten: the conversation does not
change. Its tokens still count in the session totals (they were paid for).
"""

from __future__ import annotations

from rich.markdown import Markdown
from rich.text import Text

from mnemocode.cli.commands import ReplContext, SlashCommand
from mnemocode.core.errors import MnemoError
from mnemocode.core.types import Message
from mnemocode.llm.base import complete

SIDE_NOTE = (
    "[mnemo] This is a side question (/btw): answer it briefly from the conversation "
    "so far, without calling tools. It is not kept in the conversation."
)


async def btw_command(ctx: ReplContext, arg: str) -> None:
    if not arg:
        ctx.console.print(Text("usage: /btw <question>", style="yellow"))
        return
    agent = ctx.app.agent
    question = Message.user(f"{arg}\n\n{SIDE_NOTE}")
    request = agent.context.build([*agent.history, question], agent.toolset.specs())
    request.tool_choice = "none"
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
        "btw",
        "a side question about the conversation (no tools, not kept)",
        btw_command,
        "<question>",
    )
]
