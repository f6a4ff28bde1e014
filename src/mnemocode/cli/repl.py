"""The interactive REPL: ``mnemo`` with no arguments.

Reads a line (prompt_toolkit: persistent history, multi-line, completion), then
runs it: ``/command`` through the command registry, ``!cmd`` through the safety
guard like a model's shell call, anything else as a turn of the agent with its
``@path`` and ``@server:uri`` (MCP resource) attachments. Each turn runs as a task;
Ctrl-C or Esc cancels it (the agent closes dangling tool calls, the sandbox kills
the command's process group).

Memory never waits for a model here (``memory_session``): work an earlier run
left queued runs in the background; leaving queues this session's summary and
extraction and hands them to a detached ``mnemo memory process``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.output import Output
from rich.console import Console
from rich.text import Text

from mnemocode.app import App
from mnemocode.cli.approver import OwnCommandApprover, TerminalApprover, destructive
from mnemocode.cli.attachments import build_message, collect_attachments
from mnemocode.cli.commands import ReplContext, default_commands
from mnemocode.cli.commands.general import show_resumed
from mnemocode.cli.commands.mcp_prompts import prompt_commands
from mnemocode.cli.commands.model import close_model
from mnemocode.cli.commands.skills import skill_commands
from mnemocode.cli.completion import ReplCompleter
from mnemocode.cli.mcp_attach import ResourceError, mcp_attachments, mcp_resources
from mnemocode.cli.memory_session import (
    HandOff,
    detached_process,
    leave,
    reporter,
    start_in_background,
)
from mnemocode.cli.render import Renderer, format_cost, format_tokens
from mnemocode.cli.turn_control import TurnControl
from mnemocode.core.events import AgentEvent, ToolOutputDelta
from mnemocode.core.types import Message, TextPart, ToolCall, ToolResult

T = TypeVar("T")

SHELL_NOTE_HEAD = 2_000
SHELL_NOTE_TAIL = 6_000
ESC_TIMEOUT_S = 0.1
CANCEL_KEYS = {Keys.Escape, Keys.ControlC}


# ---- the prompt ----------------------------------------------------------------------


def _key_bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter")
    def _submit(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            buffer.apply_completion(state.current_completion)
            return
        if buffer.document.is_cursor_at_the_end and buffer.text.endswith("\\"):
            buffer.delete_before_cursor(1)
            buffer.insert_text("\n")
            return
        buffer.validate_and_handle()

    @kb.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @kb.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        if event.current_buffer.text:
            event.current_buffer.reset()
        else:
            event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    return kb


class ContextSize:
    """What the next request would carry, in tokens (a resumed session's too);
    counted again only when the conversation changed, not on every key."""

    def __init__(self) -> None:
        self._key: tuple[object, ...] = ()
        self._tokens = 0

    def tokens(self, app: App) -> int:
        from mnemocode.llm.tokens import estimate_request_tokens

        agent = app.agent
        last = agent.history[-1] if agent.history else None
        key = (app.session_id, len(agent.history), id(last), agent.context.summary)
        if key != self._key:
            self._key = key
            request = agent.context.build(agent.history, agent.toolset.specs())
            self._tokens = estimate_request_tokens(request)
        return self._tokens


def make_session(
    ctx: ReplContext, input: Input | None, output: Output | None
) -> PromptSession[str]:
    """The prompt; it reads ``ctx.app`` each time (``/project switch`` replaces it)."""
    ctx.app.home.mkdir(parents=True, exist_ok=True)
    completer = ReplCompleter(
        ctx.commands.summaries,
        lambda: list(ctx.app.settings.models),
        ctx.app.cwd,
        lambda: mcp_resources(ctx.app),
    )

    context = ContextSize()

    def toolbar() -> FormattedText:
        app = ctx.app
        usage = app.agent.totals.usage
        window = app.agent.slot.context_window
        text = (
            f" {app.project_name} · {app.model_alias}"
            f" · context {format_tokens(context.tokens(app))}/{format_tokens(window)}"
            f" · {format_tokens(usage.input_tokens)} in · {format_tokens(usage.output_tokens)} out"
            f" · {format_cost(app.agent.totals.cost_usd)} · mode {app.safety.policy.mode} "
        )
        return FormattedText([("class:bottom-toolbar", text)])

    return PromptSession(
        history=FileHistory(str(ctx.app.home / "history")),
        multiline=True,
        key_bindings=_key_bindings(),
        completer=completer,
        complete_while_typing=True,
        bottom_toolbar=toolbar,
        prompt_continuation="  ",
        reserve_space_for_menu=6,
        enable_open_in_editor=True,
        input=input,
        output=output,
    )


# ---- the loop ------------------------------------------------------------------------


class Repl:
    def __init__(
        self,
        app: App,
        console: Console,
        input: Input | None,
        output: Output | None,
        *,
        rebuild: Callable[[str], App] | None = None,
        memory_process: HandOff | None = None,
    ) -> None:
        self.console = console
        self.hand_off = memory_process
        self.renderer = Renderer(console)
        self.ctx = ReplContext(
            app,
            console,
            self.renderer,
            default_commands(),
            config_path=app.home / "config.toml",
            rebuild=rebuild,
        )
        self.ctx.commands.add_source(lambda: prompt_commands(self.ctx.app))
        self.ctx.commands.add_source(lambda: skill_commands(self.ctx.app))
        self.session = make_session(self.ctx, input, output)
        self.ctx.ask = self._ask
        self.ctx.adopt = self.adopt
        self.control = TurnControl(self.session.app.input)
        self._shell_runs = 0
        self._bind(app)

    @property
    def app(self) -> App:
        return self.ctx.app

    def _bind(self, app: App) -> None:
        app.report_memory = reporter(self.console, self.session.app)
        approver = app.guard.approver
        if isinstance(approver, TerminalApprover):
            approver.bind(
                console=self.console,
                input=self.session.app.input,
                output=self.session.app.output,
                pause=self._pause,
                interrupt=self.control.interrupt,
                previewed=self.renderer.previewed,
            )

    async def adopt(self, app: App) -> None:
        """Work with ``app`` from now on (``/project switch``); the old one is closed."""
        old = self.ctx.app
        self._bind(app)
        self.ctx.app = app
        completer = self.session.completer
        if isinstance(completer, ReplCompleter):
            completer.cwd = app.cwd
        if old.mcp is not app.mcp:
            await old.close()
        app.begin_mcp()
        if old.agent.slot.model is not app.agent.slot.model:
            await close_model(old.agent.slot.model)
        if old.memory is not None and old.memory is not app.memory:
            await leave(old, self.console, self.hand_off)
            old.memory.close()

    async def _ask(self, message: str) -> str:
        session: PromptSession[str] = PromptSession(
            input=self.session.app.input, output=self.session.app.output
        )
        return await session.prompt_async(message)

    @contextmanager
    def _pause(self) -> Iterator[None]:
        with self.renderer.suspend(), self.control.paused():
            yield

    async def run(self, first: str | None = None) -> int:
        """``first``: a line handled before the first prompt (``mnemo --resume``
        without an id opens the picker this way)."""
        self._banner()
        if self.app.agent.history:  # --continue / --resume ID
            show_resumed(self.ctx)
        try:
            start_in_background(self.app, self.console)
            self.app.begin_mcp()
            if first:
                await self.handle(first)
            await self._loop()
            await leave(self.app, self.console, self.hand_off)
        finally:
            await self.app.close()
            await close_model(self.app.agent.slot.model)
        return 0

    async def _loop(self) -> None:
        armed = False
        while not self.ctx.exit_requested:
            try:
                line = await self.session.prompt_async([("class:prompt", "› ")])
            except KeyboardInterrupt:
                if armed:
                    break
                armed = True
                self.console.print(Text("(Ctrl-C again or Ctrl-D to exit)", style="dim"))
                continue
            except EOFError:
                break
            armed = False
            await self.handle(line)

    async def handle(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        try:
            if text.startswith("/"):
                await self._command(text)
            elif text.startswith("!"):
                await self.run_shell(text[1:].strip())
            else:
                await self.run_prompt(line.strip("\n"))
        except Exception as exc:  # a bug in one turn must not end the session
            self.renderer.end_turn()
            why = f"✗ internal error: {type(exc).__name__}: {exc}"
            self.console.print(Text(why, style="bold red"))

    async def _command(self, text: str) -> None:
        self.ctx.queued_turn = None
        _result, cancelled = await self.control.run(self._dispatch(text))
        if cancelled:
            self.console.print(Text("Interrupted.", style="dim"))
            return
        message, self.ctx.queued_turn = self.ctx.queued_turn, None
        if message is not None:  # an MCP prompt made the user's turn
            await self._turn(self._with_shell_notes(message))

    async def _dispatch(self, text: str) -> None:
        if text.startswith("/mcp__"):  # an MCP prompt: its server's catalog first
            await self.app.start_mcp(self.renderer)
        await self.ctx.commands.dispatch(self.ctx, text)

    async def run_prompt(self, text: str) -> None:
        message, cancelled = await self.control.run(self.prepare_message(text))
        if cancelled:
            self.console.print(Text("Interrupted.", style="dim"))
        elif message is not None:
            await self._turn(message)

    async def _turn(self, message: Message) -> None:
        _result, cancelled = await self.control.run(self.app.run_turn(message, self.renderer))
        if cancelled:
            self.renderer.end_turn(interrupted=True)

    async def prepare_message(self, text: str) -> Message | None:
        """Attachments resolved, and ``!cmd`` results not yet seen prepended; None
        (said why) when an ``@server:uri`` cannot be attached."""
        app = self.app
        vision = app.agent.tool_context.vision
        cap = app.settings.tools.attach_max_chars
        try:
            resources = await mcp_attachments(text, app, vision=vision, max_chars=cap)
        except ResourceError as exc:
            why = f"✗ {exc}; the prompt was not sent (↑ brings it back)"
            self.console.print(Text(why, style="bold red"))
            return None
        used = sum(len(a.block) for a in resources)
        attachments = resources + collect_attachments(
            text,
            app.cwd,
            vision=vision,
            max_chars=max(0, cap - used),
            skip={a.token for a in resources},
        )
        for item in attachments:
            style = "yellow" if item.kind in {"missing", "binary", "skipped"} else "dim"
            self.console.print(Text(f"@ {item.note}", style=style))
        return self._with_shell_notes(build_message(text, attachments))

    def _with_shell_notes(self, message: Message) -> Message:
        """``!cmd`` results not yet seen, before the message's text."""
        if self.ctx.shell_notes:
            notes = "\n\n".join(self.ctx.shell_notes)
            self.ctx.shell_notes.clear()
            first = message.content[0]
            if isinstance(first, TextPart):
                message.content[0] = TextPart(f"{notes}\n\n{first.text}")
        return message

    async def run_shell(self, command: str) -> None:
        if not command:
            self.console.print(Text("usage: !<shell command>", style="yellow"))
            return
        self._shell_runs += 1
        call = ToolCall(f"user_shell_{self._shell_runs}", "shell_exec", {"command": command})
        printed: list[str] = []

        def emit(event: AgentEvent) -> None:
            if isinstance(event, ToolOutputDelta):
                printed.append(event.text)
            self.renderer(event)

        ctx = dataclasses.replace(
            self.app.agent.tool_context,
            current_call_id=call.id,
            emit=emit,
            sandbox=self.app.safety.sandbox.for_user(),  # the user's own, as in a terminal
        )
        # The policy still decides (a refusal stays one, the audit log records it);
        # what it would ask about runs, as the user typed it, unless it destroys.
        guard = self.app.guard
        spec = next((s for s in guard.specs() if s.name == call.name), None)
        ask = destructive(guard.policy.decide(call, spec, ctx))
        guard = dataclasses.replace(guard, approver=OwnCommandApprover(guard.approver, ask=ask))
        self.renderer.begin_tool(call)
        started = time.perf_counter()
        result, cancelled = None, False
        try:
            result, cancelled = await self.control.run(guard.call(call, ctx))
        finally:
            self.renderer.end_turn(interrupted=cancelled)
        if cancelled or result is None:
            self.console.print(Text("Interrupted.", style="dim"))
            self.ctx.shell_notes.append(
                interrupted_note(command, time.perf_counter() - started, "".join(printed))
            )
            return
        self.renderer.print_command_output(call, result)
        if not result.is_error:  # a refused command ran nothing the model should hear of
            self.ctx.shell_notes.append(shell_note(command, result))

    def _banner(self) -> None:
        app = self.app
        config = app.model_config
        head = Text("mnemo", style="bold")
        head.append(f" · {app.project_name}", style="bold cyan")
        head.append(
            f" · {app.model_alias} ({config.model}) · mode {app.safety.policy.mode} · {app.cwd}",
            style="dim",
        )
        self.console.print(head)
        hint = "/help for commands · @path attaches · !cmd runs · Ctrl-D exits"
        self.console.print(Text(hint, style="dim"))
        for notice in app.notices:
            self.console.print(Text(notice, style="yellow"))
        app.notices.clear()


def shell_note(command: str, result: ToolResult) -> str:
    """What the model is told about a ``!cmd`` the user ran (capped, tail kept)."""
    output = result.text.rstrip("\n")
    if len(output) > SHELL_NOTE_HEAD + SHELL_NOTE_TAIL:
        omitted = len(output) - SHELL_NOTE_HEAD - SHELL_NOTE_TAIL
        output = (
            f"{output[:SHELL_NOTE_HEAD]}\n[... {omitted} characters omitted ...]\n"
            f"{output[-SHELL_NOTE_TAIL:]}"
        )
    return f"I ran `{command}` myself; output:\n```\n{output}\n```"


def interrupted_note(command: str, seconds: float, output: str) -> str:
    """What the model is told about a ``!cmd`` the user interrupted."""
    shown = output.rstrip("\n")[-SHELL_NOTE_TAIL:]
    what = f"output so far:\n```\n{shown}\n```" if shown else "no output."
    return f"I ran `{command}` myself and interrupted it after {seconds:.1f}s; {what}"


async def run_repl(
    app: App,
    *,
    console: Console | None = None,
    input: Input | None = None,
    output: Output | None = None,
    rebuild: Callable[[str], App] | None = None,
    first: str | None = None,
    memory_process: HandOff | None = detached_process,
) -> int:
    """Run the REPL until /quit, Ctrl-D or a second Ctrl-C; returns the exit code.
    ``rebuild(name)`` builds the App of another project (``/project switch``);
    ``memory_process`` takes the memory work left at exit (None: it stays queued)."""
    repl = Repl(
        app, console or Console(), input, output, rebuild=rebuild, memory_process=memory_process
    )
    return await repl.run(first)


def start_repl(
    app: App, *, rebuild: Callable[[str], App] | None = None, first: str | None = None
) -> int:
    app.prune_checkpoints_in_background()
    return asyncio.run(run_repl(app, rebuild=rebuild, first=first))
