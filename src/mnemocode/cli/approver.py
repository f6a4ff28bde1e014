"""``TerminalApprover``: asks the user before a tool call the policy flagged.

It shows what will happen, why it is asked and the preview (a coloured diff for
file changes) first, then the answers, each one key, no Enter: ``y`` once, ``a``
for this session (the line says exactly what that covers, as the guard decides
it), ``!`` always (a saved rule), ``n`` or Esc no. After ``n`` an optional reason
goes back to the model. It runs inside the turn's task, in the same event loop
as the REPL.

The REPL binds it to its console and terminal with ``bind``: ``pause`` takes the
live display and the key watcher off the terminal while the question is asked;
``interrupt`` cancels the turn when the user presses Ctrl-C at the question.

``OwnCommandApprover`` answers for the user's own ``!cmd``: they typed it, so it
runs; only a destructive one gets the one-key question.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Literal

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import Layout, Window
from prompt_toolkit.layout.controls import FormattedTextControl
from prompt_toolkit.output import Output
from rich.console import Console
from rich.text import Text

from mnemocode.cli.render import diff_hunks, diff_renderable, extract_diff
from mnemocode.core.protocols import ApprovalDecision, ApprovalRequest, Approver
from mnemocode.safety.guard import Verdict

MAX_PREVIEW_LINES = 40
Choice = Literal["once", "session", "always", "server", "deny"]
KEYS: dict[str, Choice] = {"y": "once", "a": "session", "!": "always", "s": "server", "n": "deny"}
_SAID = {
    "once": "allowed once",
    "session": "allowed",
    "always": "allowed, and saved as a rule",
    "server": "allowed, and saved as a rule for every tool of this server",
    "deny": "denied",
}


def _mcp_server(request: ApprovalRequest) -> str | None:
    if not request.tool.startswith("mcp__"):
        return None
    server, sep, _tool = request.tool[len("mcp__") :].partition("__")
    return server if sep else None


def answers(request: ApprovalRequest) -> list[tuple[str, str]]:
    """The keys and what each one means for this request."""
    scope = request.session_scope or "this call for this session"
    found = [
        ("y", "yes, once"),
        ("a", f"yes, and {scope}"),
        ("!", "yes, always: a saved rule for exactly this, in later sessions too"),
    ]
    server = _mcp_server(request)
    if server is not None:
        found.append(("s", f"yes, always, for every tool of MCP server {server!r} (a saved rule)"))
    return [*found, ("n", "no (Esc)")]


class TerminalApprover:
    """Implements ``core.protocols.Approver`` on a terminal."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        self.console = console or Console()
        self._input, self._output = input, output
        self._session: PromptSession[str] | None = None
        self._pause: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext
        self._interrupt: Callable[[], None] | None = None
        self._previewed: set[str] = set()

    def bind(
        self,
        *,
        console: Console | None = None,
        input: Input | None = None,
        output: Output | None = None,
        pause: Callable[[], AbstractContextManager[None]] | None = None,
        interrupt: Callable[[], None] | None = None,
        previewed: set[str] | None = None,
    ) -> None:
        """Share the REPL's console, terminal and turn controls."""
        if previewed is not None:
            self._previewed = previewed
        if console is not None:
            self.console = console
        if input is not None or output is not None:
            self._input, self._output, self._session = input, output, None
        if pause is not None:
            self._pause = pause
        self._interrupt = interrupt

    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        with self._pause():
            self._show(request)
            try:
                decision: ApprovalDecision | None = await self._ask(request)
            except (KeyboardInterrupt, EOFError):
                self.console.print(Text("denied (interrupted)", style="red"))
                decision = None
        return decision if decision is not None else await self._cancelled()

    async def _ask(self, request: ApprovalRequest) -> ApprovalDecision:
        choice, key = await self._key({k for k, _meaning in answers(request)})
        scope = request.session_scope if choice == "session" else ""
        said = _SAID[choice] + (f": {scope}" if scope else "")
        self.console.print(Text(f"  {said}", style="red" if choice == "deny" else "green"))
        if choice == "server":
            return ApprovalDecision(True, "", "always", "user", wide=True)
        if choice != "deny":
            return ApprovalDecision(True, "", choice, "user")
        reason = ""
        if key == "n":
            self.console.print(Text("  reason for the model (optional, Enter skips):"))
            reason = (await self._prompt("  › ")).strip()
        return ApprovalDecision(False, reason, "once", "user")

    async def _cancelled(self) -> ApprovalDecision:
        if self._interrupt is not None:
            self._interrupt()
            await asyncio.sleep(0)  # the cancel lands here when we run in the turn's task
        return ApprovalDecision(False, "the user interrupted", "once", "user")

    def _show(self, request: ApprovalRequest) -> None:
        head = Text("? ", style="bold yellow")
        head.append(request.summary, style="bold")
        self.console.print(head)
        self.console.print(Text(f"  {request.reason}", style="dim"))
        if request.preview:
            diff = extract_diff(request.preview)
            if diff is not None:
                self.console.print(diff_renderable(diff, MAX_PREVIEW_LINES))
                self._previewed.add(diff_hunks(diff))
            else:
                lines = request.preview.rstrip("\n").splitlines()
                shown = "\n".join(lines[:MAX_PREVIEW_LINES])
                if len(lines) > MAX_PREVIEW_LINES:
                    shown += f"\n… {len(lines) - MAX_PREVIEW_LINES} more lines"
                self.console.print(Text(shown, style="dim"), highlight=False)
        for key, meaning in answers(request):
            line = Text(f"  {key} ", style="bold")
            line.append(meaning)
            self.console.print(line)

    async def _key(self, offered: set[str]) -> tuple[Choice, str]:
        """One key press: ``(choice, key)``; Esc is a no, Ctrl-C interrupts."""
        bindings = KeyBindings()

        def answer(key: str, choice: Choice) -> None:
            @bindings.add(key)
            def _(event: KeyPressEvent) -> None:
                event.app.exit(result=(choice, key))

        for key, choice in KEYS.items():
            if key not in offered:
                continue
            answer(key, choice)
            if key.isalpha():
                answer(key.upper(), choice)
        answer("escape", "deny")

        @bindings.add("c-c")
        def _interrupt(event: KeyPressEvent) -> None:
            event.app.exit(exception=KeyboardInterrupt())

        @bindings.add("c-d")
        def _eof(event: KeyPressEvent) -> None:
            event.app.exit(exception=EOFError())

        @bindings.add("<any>")
        def _other(event: KeyPressEvent) -> None:
            """Any other key: the question stays."""

        shown = "/".join(k for k in KEYS if k in offered)
        question = FormattedText([("bold", f"  [{shown}] › ")])
        app: Application[tuple[Choice, str]] = Application(
            layout=Layout(Window(FormattedTextControl(question), height=1)),
            key_bindings=bindings,
            input=self._input,
            output=self._output,
            erase_when_done=True,
        )
        return await app.run_async()

    async def _prompt(self, message: str) -> str:
        if self._session is None:
            self._session = PromptSession(input=self._input, output=self._output)
        return await self._session.prompt_async(message)


class OwnCommandApprover:
    """For the user's own ``!cmd``: what the policy would ask about runs, since the
    user typed it; a destructive command (``ask``) still gets ``inner``'s question.
    A refusal of the policy never reaches an approver, so it stays a refusal."""

    def __init__(self, inner: Approver, *, ask: bool) -> None:
        self.inner, self.ask = inner, ask

    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        if self.ask:
            return await self.inner.approve(request)
        return ApprovalDecision(True, "", "once", "user (own command)")


# Shell rules (and programs) that lose data or stop things: the user's own !cmd
# is asked about (one key) only for these.
DESTRUCTIVE_RULES = frozenset(
    {
        "write:rm", "write:rmdir", "write:unlink", "write:truncate", "write:dd",
        "write:find-delete", "write:git-reset-hard", "write:git-clean",
        "write:git-checkout-discard", "net:git-push-force", "system:kill", "system:power",
    }
)  # fmt: skip
DESTRUCTIVE_PROGRAMS = frozenset(
    {
        "rm", "rmdir", "unlink", "shred", "truncate", "dd", "kill", "pkill", "killall",
        "shutdown", "reboot", "poweroff",
    }
)  # fmt: skip


def destructive(verdict: Verdict) -> bool:
    """Would this command, where the policy asks, lose data or stop something?"""
    if verdict.action != "ask":
        return False
    if verdict.protected or verdict.rule in DESTRUCTIVE_RULES:
        return True
    commands = verdict.shell.commands if verdict.shell is not None else ()
    return any(c.split(maxsplit=1)[0] in DESTRUCTIVE_PROGRAMS for c in commands if c.strip())
