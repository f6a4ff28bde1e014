"""Drives the real REPL: prompt_toolkit pipe input, rich console into a StringIO,
the scripted model at the model boundary, real tools, guard and sandbox.

One scripted model answers both the conversation and memory's own requests
(session summaries, the extraction judge, compaction): those are told apart by
their JSON-schema instructions and served from ``memory_script``. Without one,
memory requests get an empty but valid answer, so leaving the REPL (which saves
the session) stays quiet in tests that are not about memory.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from mnemocode.app import App, build_app
from mnemocode.cli.approver import TerminalApprover
from mnemocode.cli.repl import Repl
from mnemocode.config.settings import ModelConfig, RouterConfig, SafetyConfig, Settings
from mnemocode.core.protocols import Approver
from mnemocode.core.types import Message, ModelRequest
from mnemocode.llm.testing import ScriptedModel, ScriptExhaustedError, Turn

TIMEOUT_S = 10.0
MEMORY_MARK = "JSON object matching this JSON Schema"
TurnLike = Turn | str


def is_memory_request(request: ModelRequest) -> bool:
    """A request memory makes (summary, judge, compaction), not a conversation turn."""
    return not request.tools and any(MEMORY_MARK in block.text for block in request.system)


def empty_memory_reply(request: ModelRequest) -> str:
    system = "".join(block.text for block in request.system)
    if "MemoryOps" in system:
        return json.dumps({"ops": []})
    return json.dumps({"title": "a session", "topics": []})


def summary_reply(title: str, **fields: object) -> str:
    """What the memory model answers for a session summary (or a compaction)."""
    return json.dumps({"title": title, **fields})


def ops_reply(*ops: dict[str, object]) -> str:
    """What the extraction judge answers."""
    return json.dumps({"ops": list(ops)})


class Router:
    """The script of the scripted model: conversation turns and memory turns, each
    in their own order."""

    def __init__(self, chat: Sequence[TurnLike], memory: Sequence[TurnLike] | None) -> None:
        self.chat, self.memory = list(chat), None if memory is None else list(memory)
        self.served = {"chat": 0, "memory": 0}

    def __call__(self, request: ModelRequest) -> TurnLike:
        if is_memory_request(request):
            if self.memory is None:
                return empty_memory_reply(request)
            return self._next("memory", self.memory, request)
        return self._next("chat", self.chat, request)

    def _next(self, kind: str, turns: list[TurnLike], request: ModelRequest) -> TurnLike:
        n = self.served[kind]
        if n >= len(turns):
            last = request.messages[-1].text[:80] if request.messages else ""
            raise ScriptExhaustedError(
                f"{kind} script exhausted: request #{n + 1} arrived but only {len(turns)} "
                f"turn(s) were scripted; last message: {last!r}"
            )
        self.served[kind] = n + 1
        return turns[n]


def settings(mode: str = "ask", strategy: str = "direct", **models: ModelConfig) -> Settings:
    """The REPL tests script the tool loop: ``direct`` unless a test says otherwise."""
    entries = {"test": ModelConfig(model="scripted"), **models}
    return Settings(
        models=entries,
        active_model="test",
        safety=SafetyConfig(mode=mode),  # type: ignore[arg-type]
        router=RouterConfig(strategy=strategy),  # type: ignore[arg-type]
    )


@dataclass
class Session:
    repl: Repl
    model: ScriptedModel
    out: StringIO
    input: PipeInput
    task: asyncio.Task[int]
    work: Path
    home: Path

    @property
    def app(self) -> App:
        """The REPL's app now (``/project switch`` replaces it)."""
        return self.repl.app

    @property
    def output(self) -> str:
        return self.out.getvalue()

    @property
    def memory_requests(self) -> list[ModelRequest]:
        return [r for r in self.model.requests if is_memory_request(r)]

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
    script: Sequence[TurnLike],
    *,
    config: Settings | None = None,
    approver: Approver | None = None,
    memory_script: Sequence[TurnLike] | None = None,
    setup: Callable[[App], None] | None = None,
    switchable: bool = False,
    project: str | None = None,
) -> AsyncIterator[Session]:
    """The REPL in ``tmp_path/work`` with ``tmp_path/home`` as mnemo's home.
    ``setup`` runs on the app before the REPL starts (pre-populate memory);
    ``switchable`` gives the REPL a ``rebuild`` so ``/project switch`` works."""
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir(exist_ok=True)
    model = ScriptedModel(Router(script, memory_script))
    out = StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    chosen = config or settings()

    def build(name: str | None) -> App:
        return build_app(
            chosen,
            cwd=work,
            home=home,
            approver=approver or TerminalApprover(),
            env={},
            model=model,
            project=name,
        )

    app = build(project)
    if setup is not None:
        setup(app)
    with create_pipe_input() as pipe:
        repl = Repl(app, console, pipe, DummyOutput(), rebuild=build if switchable else None)
        task = asyncio.create_task(repl.run())
        session = Session(repl, model, out, pipe, task, work, home)
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
