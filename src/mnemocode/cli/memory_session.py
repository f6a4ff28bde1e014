"""What the REPL does with memory when it starts and when it ends; neither waits
for a model.

At start, work an earlier run left queued goes to the background worker (one
line says so; one line when it ends). At exit, this session's summary and
extraction are queued and, with the worker's unfinished job, handed to a
detached ``mnemo memory process`` (``HandOff``); the REPL exits at once. Without
a hand-off (an App whose model lives in this process only) the work stays queued
for the next start.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prompt_toolkit.application import Application, run_in_terminal
from prompt_toolkit.application.current import set_app
from rich.console import Console
from rich.text import Text

from mnemocode.app import App
from mnemocode.cli.memory_process import start_memory_process

HandOff = Callable[[App], Path]  # starts the detached worker; returns its log


def jobs(n: int) -> str:
    return f"{n} job" + ("" if n == 1 else "s")


def detached_process(app: App) -> Path:
    """The hand-off of the real CLI: ``mnemo memory process`` for ``app``'s project."""
    project = app.project.name if app.project is not None else None
    return start_memory_process(app.cwd, project, app.home)


def reporter(console: Console, prompt: Application[str]) -> Callable[[str], None]:
    """Prints a line above the prompt when it is shown (else where the output is)."""

    def report(line: str) -> None:
        def show() -> None:
            console.print(Text(line, style="dim"))

        with set_app(prompt):  # run_in_terminal hides and redraws this prompt
            run_in_terminal(show)

    return report


def start_in_background(app: App, console: Console) -> None:
    """Queued memory work goes to the background worker."""
    pending = app.start_memory_work()
    if pending:
        console.print(Text(f"memory: {jobs(pending)} running in the background", style="dim"))


async def leave(app: App, console: Console, hand_off: HandOff | None) -> None:
    """This session queued, the worker stopped, the work handed off; one line."""
    if app.memory is None:
        return
    app.queue_session_end()
    await app.stop_memory_work()
    pending = app.memory.pending_jobs()
    if not pending:
        return
    if hand_off is None:
        line = f"memory: {jobs(pending)} queued for the next start here"
    else:
        try:
            log = hand_off(app)
        except OSError as exc:
            line = f"memory: {jobs(pending)} queued for the next start ({exc})"
        else:
            line = f"memory: {jobs(pending)} handed to a background process (log: {log})"
    console.print(Text(line, style="dim"))
