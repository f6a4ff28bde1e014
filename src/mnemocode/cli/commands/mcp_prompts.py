"""MCP prompts as slash commands: ``/mcp__<server>__<prompt> args``.

Arguments go positionally in the prompt's declared order, or as ``name=value``
(quoted as in a shell). The prompt's messages become the next user turn (text and
images); a required argument missing gives the usage line and sends nothing.
The commands come from the servers' catalogs each time the registry is asked, so
``/help`` and the completer follow restarts and ``/project switch``.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from mnemocode.cli.commands import Handler, ReplContext, SlashCommand
from mnemocode.core.types import ContentPart, Message, TextPart

if TYPE_CHECKING:
    from mnemocode.app import App
    from mnemocode.extensions.mcp.catalog import PromptInfo


def prompt_commands(app: App) -> list[SlashCommand]:
    """One command per prompt of each server of ``app``."""
    toolset = app.mcp
    if toolset is None:
        return []
    from mnemocode.extensions.mcp.toolset import tool_name

    found = []
    for server in toolset.connections:
        for prompt in toolset.catalog(server).prompts:
            summary = f"{prompt.description or prompt.name} (MCP prompt of {server})"
            found.append(
                SlashCommand(
                    tool_name(server, prompt.name),
                    summary,
                    _handler(server, prompt),
                    prompt.usage(),
                )
            )
    return found


def parse_arguments(prompt: PromptInfo, arg: str) -> dict[str, str]:
    """The prompt's arguments from what was typed; ``ValueError`` says what is wrong."""
    try:
        words = shlex.split(arg)
    except ValueError as exc:
        raise ValueError(f"cannot read the arguments: {exc}") from None
    names = [a.name for a in prompt.arguments]
    values: dict[str, str] = {}
    positional: list[str] = []
    for word in words:
        key, eq, value = word.partition("=")
        if eq and key in names:
            values[key] = value
        else:
            positional.append(word)
    free = [n for n in names if n not in values]
    if len(positional) > len(free):
        extra = " ".join(positional[len(free) :])
        raise ValueError(f"too many arguments ({extra})")
    values.update(zip(free, positional, strict=False))
    missing = [a.name for a in prompt.arguments if a.required and a.name not in values]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return values


def _handler(server: str, prompt: PromptInfo) -> Handler:
    async def run(ctx: ReplContext, arg: str) -> None:
        await _run_prompt(ctx, arg, server, prompt)

    return run


async def _run_prompt(ctx: ReplContext, arg: str, server: str, prompt: PromptInfo) -> None:
    from mnemocode.extensions.mcp.connection import McpServerError
    from mnemocode.extensions.mcp.toolset import tool_name

    command = "/" + tool_name(server, prompt.name)
    try:
        arguments = parse_arguments(prompt, arg)
    except ValueError as exc:
        usage = f"{command} {prompt.usage()}".rstrip()
        named = " (or name=value)" if prompt.arguments else ""
        ctx.say(f"{exc}; usage: {usage}{named}", "yellow")
        return
    toolset = ctx.app.mcp
    if toolset is None or server not in toolset.connections:
        ctx.say(f"MCP server {server!r} is no longer in this session", "yellow")
        return
    vision = ctx.app.agent.tool_context.vision
    try:
        with ctx.renderer.status(f"{server}: prompt {prompt.name}…"):
            turn = await toolset.get_prompt(server, prompt.name, arguments, vision=vision)
    except McpServerError as exc:
        ctx.say(f"✗ {exc}; nothing was sent", "red")
        return
    if not turn.text and not turn.images:
        ctx.say(f"{command}: the server's prompt is empty; nothing was sent", "yellow")
        return
    images = f" and {len(turn.images)} image(s)" if turn.images else ""
    ctx.say(f"{command}: {len(turn.text)} characters{images} sent as your message", "dim")
    parts: list[ContentPart] = [TextPart(turn.text), *turn.images]
    ctx.queued_turn = Message("user", parts)
