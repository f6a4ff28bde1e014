"""Slash commands of the REPL: a tiny registry, one module per group.

A command is a name, a one-line summary and an async handler
``(ctx, arg) -> None``; ``arg`` is the text after the name, stripped.
Each group module exposes ``COMMANDS``; ``default_commands`` collects them.
Commands that come and go (an MCP server's prompts) come from a source the
registry asks each time; a fixed command of the same name wins.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # kept light: `mnemo memory ...` imports the command groups' helpers
    from rich.console import Console

    from mnemocode.app import App
    from mnemocode.cli.render import Renderer
    from mnemocode.core.types import Message

Handler = Callable[["ReplContext", str], Awaitable[None]]
Source = Callable[[], "list[SlashCommand]"]


@dataclass(frozen=True, slots=True)
class SlashCommand:
    name: str  # without the slash
    summary: str
    handler: Handler
    usage: str = ""  # e.g. "[alias]"


@dataclass(slots=True)
class ReplContext:
    """What a command may use. ``exit_requested`` ends the REPL after the command."""

    app: App
    console: Console
    renderer: Renderer
    commands: CommandRegistry
    exit_requested: bool = False
    # Output of ``!cmd`` runs not yet seen by the model; sent with the next prompt.
    shell_notes: list[str] = field(default_factory=list)
    # Where a working ``/model`` switch is remembered; None: not saved.
    config_path: Path | None = None
    # Asks the user one question at the prompt (confirmations).
    ask: Callable[[str], Awaitable[str]] | None = None
    # Builds a fresh App for the project of that name (``/project switch``); None:
    # switching needs a restart.
    rebuild: Callable[[str], App] | None = None
    # The REPL takes over a freshly built App (approver bound, the old one closed).
    adopt: Callable[[App], Awaitable[None]] | None = None
    # A user turn a command made (an MCP prompt); the REPL sends it after the command.
    queued_turn: Message | None = None

    def say(self, text: str, style: str = "") -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style))

    def progress(self, line: str) -> None:
        """A progress line of memory work."""
        self.say(line, "dim")


class CommandRegistry:
    def __init__(self, commands: list[SlashCommand] | None = None) -> None:
        self._commands: dict[str, SlashCommand] = {}
        self._sources: list[Source] = []
        for command in commands or []:
            self.add(command)

    def add(self, command: SlashCommand) -> None:
        if command.name in self._commands:
            raise ValueError(f"slash command /{command.name} is defined twice")
        self._commands[command.name] = command

    def add_source(self, source: Source) -> None:
        self._sources.append(source)

    def _current(self) -> dict[str, SlashCommand]:
        if not self._sources:
            return self._commands
        found = dict(self._commands)
        for source in self._sources:
            for command in source():
                found.setdefault(command.name, command)
        return found

    def get(self, name: str) -> SlashCommand | None:
        return self._current().get(name)

    def all(self) -> list[SlashCommand]:
        return list(self._current().values())

    def summaries(self) -> dict[str, str]:
        return {c.name: c.summary for c in self._current().values()}

    def suggest(self, name: str) -> str | None:
        close = difflib.get_close_matches(name, list(self._current()), n=1, cutoff=0.5)
        return close[0] if close else None

    async def dispatch(self, ctx: ReplContext, line: str) -> None:
        """Run ``/name arg``; an unknown name gets a suggestion."""
        name, _, arg = line.strip().removeprefix("/").partition(" ")
        command = self.get(name)
        if command is None:
            hint = self.suggest(name)
            also = f" — did you mean /{hint}?" if hint else ""
            ctx.console.print(f"[yellow]unknown command /{name}{also}[/] (/help lists them)")
            return
        await command.handler(ctx, arg.strip())


def default_commands() -> CommandRegistry:
    from mnemocode.cli.commands import (
        agents,
        btw,
        codemap,
        general,
        hooks,
        mcp,
        memory,
        model,
        project,
        safety,
        skills,
        strategy,
        tools,
    )

    groups = [
        general,
        model,
        strategy,
        tools,
        mcp,
        skills,
        agents,
        hooks,
        codemap,
        btw,
        memory,
        project,
        safety,
    ]
    return CommandRegistry([c for group in groups for c in group.COMMANDS])


__all__ = ["CommandRegistry", "Handler", "ReplContext", "SlashCommand", "default_commands"]
