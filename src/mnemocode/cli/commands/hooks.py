"""``/hooks``: the session's hooks, by event, and where each was configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnemocode.cli.commands import SlashCommand

if TYPE_CHECKING:
    from mnemocode.cli.commands import ReplContext

WHERE = "[[hooks.<Event>]] in mnemo's config, .claude/settings.json, ~/.claude/settings.json"


def hook_lines(ctx: ReplContext) -> list[str]:
    hooks = ctx.app.hooks
    if hooks is None:
        return [f"no hooks configured ({WHERE})"]
    lines: list[str] = []
    for hook in hooks.hooks:
        matcher = f" [{hook.matcher}]" if hook.matcher.strip() not in {"", "*"} else ""
        lines.append(
            f"{hook.event}{matcher}: `{hook.command}` (timeout {hook.timeout:g}s; {hook.source})"
        )
    return lines


async def hooks_command(ctx: ReplContext, arg: str) -> None:
    for line in hook_lines(ctx):
        ctx.say(line)


COMMANDS = [SlashCommand("hooks", "the configured hooks and where each came from", hooks_command)]
