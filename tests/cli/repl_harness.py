"""Drives the real REPL: prompt_toolkit pipe input, rich console into a StringIO,
the scripted model at the model boundary, real tools, guard and sandbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from mnemocode.app import App, build_app
from mnemocode.cli.approver import TerminalApprover
from mnemocode.cli.repl import run_repl
from mnemocode.config.settings import ModelConfig, SafetyConfig, Settings
from mnemocode.core.protocols import Approver
from mnemocode.core.types import Message
from mnemocode.llm.testing import ScriptedModel, Turn

TIMEOUT_S = 10.0


def settings(mode: str = "ask", **models: ModelConfig) -> Settings:
    entries = {"test": ModelConfig(model="scripted"), **models}
    return Settings(models=entries, active_model="test", safety=SafetyConfig(mode=mode))  # type: ignore[arg-type]


@dataclass
class Session:
    app: App
    model: ScriptedModel
    out: StringIO
    input: PipeInput
    task: asyncio.Task[int]
    work: Path
    home: Path

    @property
    def output(self) -> str:
        return self.out.getvalue()

    def send(self, text: str) -> None:
        self.input.send_text(text)

    async def wait_for(self, needle: str, *, count: int = 1) -> str:
        """Wait until ``needle`` appears ``count`` times in the console output."""
        await self.until(lambda: self.output.count(needle) >= count, f"{needle!r} x{count}")
        return self.output

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not predicate():
            if self.task.done():
                self.task.result()  # raises what went wrong
                raise AssertionError(f"the REPL ended before {what}; output:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; output:\n{self.output}")
            await asyncio.sleep(0.01)

    async def finish(self) -> int:
        """Wait for the REPL to end by itself (after /quit, Ctrl-D...)."""
        return await asyncio.wait_for(self.task, TIMEOUT_S)


@asynccontextmanager
async def repl_session(
    tmp_path: Path,
    script: list[Turn | str],
    *,
    config: Settings | None = None,
    approver: Approver | None = None,
) -> AsyncIterator[Session]:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir(exist_ok=True)
    model = ScriptedModel(script)
    out = StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    app = build_app(
        config or settings(),
        cwd=work,
        home=home,
        approver=approver or TerminalApprover(),
        env={},
        model=model,
    )
    with create_pipe_input() as pipe:
        task = asyncio.create_task(run_repl(app, console=console, input=pipe, output=DummyOutput()))
        session = Session(app, model, out, pipe, task, work, home)
        try:
            yield session
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


def unanswered_calls(messages: list[Message]) -> list[str]:
    """Ids of assistant tool calls with no tool message after them."""
    answered = {m.tool_call_id for m in messages if m.role == "tool"}
    return [
        c.id
        for m in messages
        if m.role == "assistant"
        for c in m.tool_calls
        if c.id not in answered
    ]
