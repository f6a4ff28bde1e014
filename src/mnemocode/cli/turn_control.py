"""Running one turn (or command) as a task the user can cancel with Ctrl-C or
Esc while the prompt is not shown."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from prompt_toolkit.input import Input
from prompt_toolkit.input.typeahead import get_typeahead, store_typeahead
from prompt_toolkit.key_binding import KeyPress
from prompt_toolkit.keys import Keys

T = TypeVar("T")

ESC_TIMEOUT_S = 0.1
CANCEL_KEYS = {Keys.Escape, Keys.ControlC}


class TurnControl:
    """Runs one task at a time; Ctrl-C (SIGINT or the raw key) or Esc cancels it.

    While the task runs the terminal is in raw mode and its keys are watched: the
    cancel keys act at once, anything else typed is kept as type-ahead for the
    next prompt. ``paused`` hands the terminal back (the approver asks a question).
    """

    def __init__(self, input: Input) -> None:
        self.input = input
        self._task: asyncio.Future[Any] | None = None
        self._stack: ExitStack | None = None
        self._flush: asyncio.TimerHandle | None = None
        self._sigint = False
        self._previous_sigint: Any = None

    async def run(self, coro: Coroutine[Any, Any, T]) -> tuple[T | None, bool]:
        """``(result, cancelled)``. Errors of the task propagate."""
        task = asyncio.ensure_future(coro)
        self._task = task
        self._watch()
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait({task})
            raise
        finally:
            self._unwatch()
            self._task = None
        if task.cancelled():
            return None, True
        return task.result(), False

    def interrupt(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The terminal back in normal hands; type-ahead kept for the next prompt."""
        self._unwatch()
        saved = get_typeahead(self.input)
        try:
            yield
        finally:
            store_typeahead(self.input, saved + get_typeahead(self.input))
            if self._task is not None and not self._task.done():
                self._watch()

    # ---- watching ------------------------------------------------------------------

    def _watch(self) -> None:
        self._add_sigint()
        stack = ExitStack()
        try:
            stack.enter_context(self.input.raw_mode())
            stack.enter_context(self.input.attach(self._on_ready))
        except (OSError, EOFError, NotImplementedError):
            stack.close()
            return
        self._stack = stack
        self._handle(get_typeahead(self.input))

    def _unwatch(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
        self._remove_sigint()

    def _on_ready(self) -> None:
        self._handle(self.input.read_keys())
        if self._flush is not None:
            self._flush.cancel()
        loop = asyncio.get_running_loop()
        self._flush = loop.call_later(ESC_TIMEOUT_S, self._flush_keys)

    def _flush_keys(self) -> None:
        self._flush = None
        if self._stack is not None:
            self._handle(self.input.flush_keys())

    def _handle(self, keys: list[KeyPress]) -> None:
        kept = [k for k in keys if k.key not in CANCEL_KEYS]
        if len(kept) < len(keys):
            self.interrupt()
        if kept:
            store_typeahead(self.input, kept)

    def _add_sigint(self) -> None:
        if self._sigint or threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGINT)
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self.interrupt)
        except (NotImplementedError, RuntimeError, ValueError):
            return
        self._sigint, self._previous_sigint = True, previous

    def _remove_sigint(self) -> None:
        if not self._sigint:
            return
        self._sigint = False
        asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        if self._previous_sigint is not None:
            signal.signal(signal.SIGINT, self._previous_sigint)
