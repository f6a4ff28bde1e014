"""/map [query]: the ranked code map of the work directory, focused on ``query``
and on the files read so far in the conversation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from mnemocode.agent.codemap.session import focus_for
from mnemocode.cli.commands import ReplContext, SlashCommand

if TYPE_CHECKING:
    from mnemocode.agent.codemap import CodeMap


async def map_command(ctx: ReplContext, arg: str) -> None:
    session = ctx.app.code_map
    if session is None:
        ctx.say("the code map is off ([codemap] tokens = 0)", "yellow")
        return
    chat = session.relative(list(ctx.app.agent.tool_context.seen_files))

    def render(cm: CodeMap) -> tuple[str, str]:
        focus = focus_for(cm, session.root, arg, chat)
        return cm.render(focus, tokens=session.tokens), cm.selection().summary()

    with ctx.renderer.status("mapping…"):
        rendered, files = await session.run(render)
    ctx.console.print(Text(rendered.rstrip() or "(no source files)"))
    focus = f" · focused on {arg!r}" if arg else ""
    ctx.say(f"{files}{focus} · budget {session.tokens} tokens", "dim")


COMMANDS = [SlashCommand("map", "the ranked code map (focused on a query)", map_command, "[query]")]
