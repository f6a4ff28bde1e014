"""``TerminalApprover``: asks the user before a tool call the policy flagged.

It shows what will happen, why it is asked and the preview (a coloured diff for
file changes) first, then asks ``y`` allow once / ``a`` allow for this session /
``n`` deny, with an optional reason that goes back to the model. It runs inside
the turn's task, in the same event loop as the REPL (``prompt_async``).

The REPL binds it to its console and terminal with ``bind``: ``pause`` takes the
live display and the key watcher off the terminal while the question is asked;
``interrupt`` cancels the turn when the user presses Ctrl-C at the question.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Literal

from prompt_toolkit import PromptSession
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from rich.console import Console
from rich.text import Text

from mnemocode.cli.render import diff_hunks, diff_renderable, extract_diff
from mnemocode.core.protocols import ApprovalDecision, ApprovalRequest

MAX_PREVIEW_LINES = 40
QUESTION = "Allow? [y] once  [a] this session  [!] always here  [n] no › "
Choice = Literal["once", "session", "always", "deny"]
_ANSWERS: dict[str, Choice] = {
    "y": "once",
    "yes": "once",
    "a": "session",
    "s": "session",
    "!": "always",
    "always": "always",
    "n": "deny",
    "no": "deny",
}


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
                decision: ApprovalDecision | None = await self._ask()
            except (KeyboardInterrupt, EOFError):
                self.console.print(Text("denied (interrupted)", style="red"))
                decision = None
        return decision if decision is not None else await self._cancelled()

    async def _ask(self) -> ApprovalDecision:
        choice = await self._ask_choice()
        if choice == "deny":
            reason = (await self._prompt("reason for the model (optional) › ")).strip()
            self.console.print(Text("denied", style="red"))
            return ApprovalDecision(False, reason, "once", "user")
        return ApprovalDecision(True, "", choice, "user")

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

    async def _ask_choice(self) -> Choice:
        while True:
            answer = (await self._prompt(QUESTION)).strip().lower()
            choice = _ANSWERS.get(answer)
            if choice is not None:
                return choice
            self.console.print(Text("answer y, a, ! or n", style="yellow"))

    async def _prompt(self, message: str) -> str:
        if self._session is None:
            self._session = PromptSession(input=self._input, output=self._output)
        return await self._session.prompt_async(message)
