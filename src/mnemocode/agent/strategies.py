"""The rungs of the escalation ladder: a one-method ``Strategy`` protocol, the
registry that keeps the rungs in ladder order, and the two built-in rungs —
``direct`` (the tool loop) and ``context`` (the context-first solver).

A rung either answers the turn or fails with a reason and what it learnt; the
router (``agent/router.py``) decides what happens next. ``workflow`` and ``rlm``
register here when they exist; until then they are not offered."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mnemocode.agent.loop import Agent, Emit
from mnemocode.core.events import (
    AgentEvent,
    ModelCallFinished,
    TextDeltaEvent,
    TurnFinished,
    TurnStarted,
)
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import Message, TextPart, Usage

LADDER = ("direct", "context", "workflow", "rlm")
# Solver failures that send the task up the ladder. A denial (the user said no)
# and a model error (the endpoint is down) end the turn instead: another rung
# would only ask again or fail the same way.
ESCALATING = frozenset(
    {"checks_failing", "review_failed", "invalid_output", "truncated", "context_overflow"}
)
DIFF_NOTE_CHARS = 6_000
ESCALATION_TAG = "mnemo-escalation"


@dataclass(frozen=True, slots=True)
class Learnt:
    """What a failed rung found out, handed to the next one."""

    strategy: str
    reason: str
    files_read: tuple[str, ...] = ()
    failing_checks: tuple[str, ...] = ()
    diff: str = ""
    rolled_back: bool = False

    def note(self) -> str:
        """The block the next rung reads (the direct loop: in its first request)."""
        lines = [f'<{ESCALATION_TAG} from="{self.strategy}">']
        lines.append(f"An earlier attempt ({self.strategy}) failed: {self.reason}")
        if self.files_read:
            lines.append("Files it read: " + ", ".join(self.files_read))
        if self.failing_checks:
            lines.append("Checks still failing:")
            lines.extend(f"- {check}" for check in self.failing_checks)
        if self.diff:
            state = "rolled back; the files are as before" if self.rolled_back else "kept"
            diff = self.diff
            if len(diff) > DIFF_NOTE_CHARS:
                diff = diff[:DIFF_NOTE_CHARS] + "\n… (diff cut)"
            lines.append(f"Its attempted change ({state}):\n```diff\n{diff.rstrip()}\n```")
        lines.append(f"</{ESCALATION_TAG}>")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One rung's go at a turn: the user's message as sent, the turn number
    (checkpoints are keyed by (session, turn)) and what earlier rungs learnt."""

    message: Message
    turn: int
    learnt: tuple[Learnt, ...] = ()


@dataclass(slots=True)
class RungResult:
    strategy: str
    text: str
    stop_reason: str  # for the turn: end_turn, error, denied, max_iterations…
    failure: str | None = None  # an ESCALATING kind: the next rung should try
    reason: str = ""
    learnt: Learnt | None = None
    recorded: bool = False  # the turn is already in the conversation
    model_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    duration_s: float = 0.0
    iterations: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Strategy(Protocol):
    """A rung of the ladder."""

    name: str

    async def run(self, attempt: Attempt, emit: Emit) -> RungResult: ...


class StrategyRegistry:
    """The registered rungs, always in ladder order."""

    def __init__(self, strategies: Sequence[Strategy] = ()) -> None:
        self._by_name: dict[str, Strategy] = {}
        for strategy in strategies:
            self.register(strategy)

    def register(self, strategy: Strategy) -> None:
        if strategy.name not in LADDER:
            raise ValueError(
                f"unknown strategy {strategy.name!r} (the ladder: {', '.join(LADDER)})"
            )
        if strategy.name in self._by_name:
            raise ValueError(f"strategy {strategy.name!r} is registered twice")
        self._by_name[strategy.name] = strategy

    def names(self) -> list[str]:
        return [name for name in LADDER if name in self._by_name]

    def get(self, name: str) -> Strategy:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self.names())
            raise ValueError(f"no strategy {name!r} (available: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def next_after(self, failed: str, tried: Sequence[str]) -> str | None:
        """The rung after ``failed``: the next one up the ladder not tried yet,
        else the lowest one not tried (context fails → direct while nothing
        above context is registered)."""
        names = [n for n in self.names() if n not in tried]
        above = [n for n in names if LADDER.index(n) > LADDER.index(failed)]
        found = above or names
        return found[0] if found else None


# ---- direct: the tool loop ----------------------------------------------------------


class DirectStrategy:
    """Today's tool loop. It records the turn itself and never escalates: its own
    stop reasons (max iterations, stall, error) end the turn."""

    name = "direct"

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    async def run(self, attempt: Attempt, emit: Emit) -> RungResult:
        message = attempt.message
        if attempt.learnt:
            notes = "\n\n".join(lesson.note() for lesson in attempt.learnt)
            message = dataclasses.replace(message, content=[*message.content, TextPart(notes)])
        calls = 0

        def forward(event: AgentEvent) -> None:
            # The router announces the turn and its end, with every rung counted.
            nonlocal calls
            if isinstance(event, TurnStarted | TurnFinished):
                return
            if isinstance(event, ModelCallFinished):
                calls += 1
            emit(event)

        started = time.perf_counter()
        finished = await self.agent.run_turn(message, forward)
        return RungResult(
            self.name,
            finished.text,
            finished.stop_reason,
            recorded=True,
            model_calls=calls,
            usage=finished.usage,
            cost_usd=finished.cost_usd,
            duration_s=time.perf_counter() - started,
            iterations=finished.iterations,
            extra=dict(finished.extra),
        )


# ---- context: the context-first solver -----------------------------------------------


class SolveResult(Protocol):
    """What ``agent.solver.SolveOutcome`` gives the router."""

    @property
    def ok(self) -> bool: ...
    @property
    def failure(self) -> str | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def files_read(self) -> Sequence[object]: ...
    @property
    def failing_checks(self) -> Sequence[object]: ...
    @property
    def diff(self) -> str: ...
    @property
    def model_calls(self) -> int: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def cost_usd(self) -> float | None: ...
    @property
    def duration_s(self) -> float: ...


class Solver(Protocol):
    async def run(
        self, task: str, emit: Emit, *, history: Sequence[Message] = (), learnt: str = ""
    ) -> SolveResult: ...


# The solver for one turn: its tool context carries that turn's number.
SolverFactory = Callable[[ToolContext], Solver]


def answer_text(outcome: SolveResult) -> str:
    """The assistant's answer of a solved turn: the summary line, then the text."""
    return "\n\n".join(part.strip() for part in (outcome.summary, outcome.text) if part.strip())


class ContextStrategy:
    """The context-first solver. It leaves the conversation to the router (the
    user message and the answer are recorded once, after the ladder ends)."""

    name = "context"

    def __init__(self, agent: Agent, make_solver: SolverFactory) -> None:
        self.agent = agent
        self.make_solver = make_solver

    async def run(self, attempt: Attempt, emit: Emit) -> RungResult:
        streamed: list[str] = []
        seen_calls = 0

        def forward(event: AgentEvent) -> None:
            nonlocal seen_calls
            if isinstance(event, TurnStarted | TurnFinished):
                return
            if isinstance(event, TextDeltaEvent):
                streamed.append(event.text)
            elif isinstance(event, ModelCallFinished):
                seen_calls += 1
                self.agent.totals.record(event.model, event.usage, event.cost_usd, event.duration_s)
            emit(event)

        context = dataclasses.replace(self.agent.tool_context, turn=attempt.turn)
        solver = self.make_solver(context)
        learnt = "\n\n".join(lesson.note() for lesson in attempt.learnt)
        started = time.perf_counter()
        outcome = await solver.run(
            attempt.message.text, forward, history=tuple(self.agent.history), learnt=learnt
        )
        duration = time.perf_counter() - started
        if outcome.model_calls and not seen_calls:  # a solver that announced no call
            model = self.agent.slot.model.name
            self.agent.totals.record(model, outcome.usage, outcome.cost_usd, duration)
        text = answer_text(outcome) if outcome.ok else (outcome.reason or outcome.text)
        _show_unstreamed(emit, text, "".join(streamed), outcome.summary)
        result = RungResult(
            self.name,
            text,
            "end_turn" if outcome.ok else _stop_reason(outcome.failure),
            model_calls=outcome.model_calls,
            usage=outcome.usage,
            cost_usd=outcome.cost_usd,
            duration_s=outcome.duration_s or duration,
            iterations=outcome.model_calls,
        )
        if not outcome.ok and outcome.failure in ESCALATING:
            result.failure = outcome.failure
            result.reason = outcome.reason or str(outcome.failure)
            result.learnt = Learnt(
                self.name,
                result.reason,
                tuple(str(path) for path in outcome.files_read),
                tuple(str(check) for check in outcome.failing_checks),
                outcome.diff,
            )
        return result


def _stop_reason(failure: str | None) -> str:
    if failure == "denied":
        return "denied"
    if failure in ESCALATING:
        return str(failure)
    return "error"


def _show_unstreamed(emit: Emit, answer: str, streamed: str, summary: str) -> None:
    """Front ends show streamed text; the part of the answer the solver did not
    stream (often all of it, always the summary line) is streamed here."""
    if not streamed.strip():
        if answer:
            emit(TextDeltaEvent(answer))
    elif summary.strip() and summary.strip() not in streamed:
        emit(TextDeltaEvent("\n\n" + summary.strip()))
