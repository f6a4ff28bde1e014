"""The escalation router: picks a strategy for each turn, and when a rung fails
starts the next one with the reason and what was learnt.

``auto`` picks without a model call: a deterministic reading of the task
(questions, explanations and conversation → ``direct``; change requests →
``context``). The user forces a strategy with ``/strategy``, ``--strategy`` or
``[router] strategy``. A failed rung is never run again for the same task; its
edits are rolled back through the checkpoint store unless ``[router] on_failure =
"keep"``. The conversation ends up as if one rung had answered: the user
message once, then the answer."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field, replace
from typing import Any

from mnemocode.agent.codemap.session import SessionMap
from mnemocode.agent.loop import Agent, Emit
from mnemocode.agent.strategies import (
    Attempt,
    ContextStrategy,
    DirectStrategy,
    Learnt,
    RungResult,
    StrategyRegistry,
)
from mnemocode.config.settings import RouterConfig, Settings
from mnemocode.core.errors import ConfigError, MnemoError
from mnemocode.core.events import Escalated, Notice, StrategyChosen, TurnFinished, TurnStarted
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import Message, Usage
from mnemocode.safety.checkpoints import CheckpointStore

AUTO = "auto"
INTERRUPTED = "[interrupted by the user]"
EDIT_TOOLS = frozenset({"file_edit", "file_write", "apply_patch"})

# ---- auto: reading the task ---------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CHANGE_VERBS = _words(
    """fix add implement change update rename refactor remove delete make write create
    replace move convert migrate bump upgrade downgrade support handle extend modify edit
    optimize optimise improve port introduce drop rewrite restructure split merge extract
    inline patch correct repair resolve adjust tweak set wire hook enable disable deprecate
    cleanup clean format reformat annotate type document translate build generate append
    insert prepend rework simplify speed reduce increase raise lower limit allow prevent
    avoid ensure"""
)
_QUESTION_WORDS = _words(
    """what why how where when which who whose whom is are was were does do did can could
    should would will shall may might has have had am isn't aren't doesn't don't didn't
    explain describe summarize summarise tell show list compare walk outline clarify
    define review look find search"""
)
_CONVERSATION = _words(
    """hi hello hey thanks thank ty ok okay yes no yep nope sure cool great nice good
    morning evening bye goodbye cheers hmm"""
)
_LEAD_IN = re.compile(
    r"^(?:(?:please|pls|kindly|ok|okay|now|so|and|then|also|next|hey|hi|right|alright|"
    r"great|thanks|first|finally)[,!]?\s+)+",
    re.IGNORECASE,
)
_ASK_TO = re.compile(
    r"^(?:(?:can|could|would|will) you (?:please |also |now )?|i (?:want|need|'d like|would "
    r"like) you to |i want to |i need to |i'd like to |let'?s |go ahead and |try to |help me |"
    r"we (?:need|have|should) to |you (?:need|should) to )",
    re.IGNORECASE,
)
# Pasted material says nothing about what is asked: fenced code, tagged blocks
# (<stdin>, attached files), the quoted lines of an email.
_PASTED = re.compile(r"```.*?(?:```|\Z)|<(\w[\w-]*)[^>]*>.*?</\1>|^>.*$", re.DOTALL | re.MULTILINE)
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")
_WORD = re.compile(r"[a-z][a-z']*")


@dataclass(frozen=True, slots=True)
class Pick:
    strategy: str
    reason: str


def classify(text: str) -> Pick:
    """``direct`` or ``context`` for a task, with the reason; no model call."""
    typed = _PASTED.sub(" ", text[:4_000])
    sentences = [s.strip() for s in _SENTENCE.split(typed) if s.strip()]
    asked = False
    for sentence in sentences:
        kind = _sentence_kind(sentence)
        if kind == "change":
            return Pick("context", f"a change request ({_quote(sentence)})")
        asked = asked or kind == "question"
    if asked:
        return Pick("direct", "a question, not a change request")
    words = _WORD.findall(typed.lower())
    if not words or set(words) <= _CONVERSATION:
        return Pick("direct", "conversation")
    return Pick("direct", "no change asked for")


def _sentence_kind(sentence: str) -> str:
    lowered = _LEAD_IN.sub("", sentence.lower().lstrip("-*• "))
    asked_to = _ASK_TO.match(lowered)
    rest = lowered[asked_to.end() :] if asked_to else lowered
    words = _WORD.findall(rest)
    if not words:
        return "other"
    first = words[0]
    if first in _CHANGE_VERBS:
        return "change"
    if asked_to is not None and lowered.startswith(("can", "could", "would", "will")):
        return "question"  # "can you explain …"
    if first in _QUESTION_WORDS or sentence.rstrip().endswith("?"):
        return "question"
    return "other"


def _quote(sentence: str, width: int = 60) -> str:
    flat = " ".join(sentence.split())
    return repr(flat if len(flat) <= width else flat[: width - 1] + "…")


# ---- accounting ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RungReport:
    """One rung of one turn: what it cost and how it ended."""

    strategy: str
    outcome: str  # "ok", or the failure ("checks_failing", …) / stop reason
    reason: str
    model_calls: int
    usage: Usage
    cost_usd: float | None
    duration_s: float
    rolled_back: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "outcome": self.outcome,
            "reason": self.reason,
            "model_calls": self.model_calls,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "cost_usd": self.cost_usd,
            "duration_s": round(self.duration_s, 3),
            "rolled_back": self.rolled_back,
        }


@dataclass(slots=True)
class RungTotals:
    runs: int = 0
    failures: int = 0
    model_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    duration_s: float = 0.0


@dataclass(slots=True)
class Ledger:
    """Per-strategy totals of a session (``/cost``)."""

    by_strategy: dict[str, RungTotals] = field(default_factory=dict)

    def add(self, report: RungReport) -> None:
        totals = self.by_strategy.setdefault(report.strategy, RungTotals())
        totals.runs += 1
        totals.failures += report.outcome != "ok"
        totals.model_calls += report.model_calls
        totals.usage = totals.usage + report.usage
        if report.cost_usd is not None:
            totals.cost_usd = (totals.cost_usd or 0.0) + report.cost_usd
        totals.duration_s += report.duration_s


def _report(result: RungResult) -> RungReport:
    outcome = "ok" if result.failure is None and result.stop_reason == "end_turn" else (
        result.failure or result.stop_reason
    )  # fmt: skip
    return RungReport(
        result.strategy,
        outcome,
        result.reason,
        result.model_calls,
        result.usage,
        result.cost_usd,
        result.duration_s,
    )


# ---- the router ----------------------------------------------------------------------


class Router:
    def __init__(
        self,
        agent: Agent,
        registry: StrategyRegistry,
        config: RouterConfig,
        *,
        checkpoints: CheckpointStore | None = None,
    ) -> None:
        self.agent = agent
        self.registry = registry
        self.checkpoints = checkpoints
        self.on_failure = config.on_failure
        self.context_min_window = config.context_min_window
        self.mode: str = AUTO
        self.set_mode(config.strategy)
        self.ledger = Ledger()
        self.last_pick: StrategyChosen | None = None
        self.last_rungs: list[RungReport] = []

    def reset_session(self) -> None:
        """A new conversation: its own totals."""
        self.ledger = Ledger()
        self.last_pick, self.last_rungs = None, []

    def offered(self) -> list[str]:
        """What ``/strategy`` and ``--strategy`` accept."""
        return [AUTO, *self.registry.names()]

    def set_mode(self, name: str) -> None:
        if name != AUTO and name not in self.registry:
            available = ", ".join(self.offered())
            raise ConfigError(f"no strategy {name!r} (available: {available})", key="strategy")
        self.mode = name

    def pick(self, text: str) -> StrategyChosen:
        if self.mode != AUTO:
            return StrategyChosen(self.mode, "chosen by the user", forced=True)
        found = classify(text)
        if found.strategy not in self.registry:
            return StrategyChosen("direct", f"{found.reason}; {found.strategy} is not available")
        if found.strategy != "direct" and not self._can_edit():
            return StrategyChosen("direct", f"{found.reason}, but no tool here edits files")
        window = self.agent.slot.context_window
        if found.strategy == "context" and window < self.context_min_window:
            return StrategyChosen(
                "direct", f"{found.reason}, but the model's {window:,}-token window is too small"
            )
        return StrategyChosen(found.strategy, found.reason)

    def _can_edit(self) -> bool:
        return any(spec.name in EDIT_TOOLS for spec in self.agent.toolset.specs())

    async def run_turn(self, prompt: Message | str, emit: Emit) -> TurnFinished:
        message = Message.user(prompt) if isinstance(prompt, str) else prompt
        turn = self.agent.turns + 1
        emit(TurnStarted(turn, message.text))
        chosen = self.last_pick = self.pick(message.text)
        emit(chosen)
        reports: list[RungReport] = []
        self.last_rungs = reports
        tried: list[str] = []
        learnt: list[Learnt] = []
        name = chosen.strategy
        try:
            while True:
                tried.append(name)
                result = await self.registry.get(name).run(
                    Attempt(message, turn, tuple(learnt)), emit
                )
                report = _report(result)
                following = self.registry.next_after(name, tried) if result.failure else None
                if following is None or result.learnt is None:
                    reports.append(report)
                    break
                rolled_back = self._roll_back(turn, emit)
                reports.append(replace(report, rolled_back=rolled_back))
                learnt.append(replace(result.learnt, rolled_back=rolled_back))
                emit(Escalated(name, following, result.reason, rolled_back))
                name = following
        except asyncio.CancelledError:
            if self.agent.turns < turn:  # no rung recorded the turn yet
                self.agent.record_turn(message, Message.assistant(INTERRUPTED))
            raise
        finally:
            for report in reports:
                self.ledger.add(report)
        if not result.recorded:
            self.agent.record_turn(message, Message.assistant(result.text))
        return self._finish(emit, chosen, result, reports)

    def _roll_back(self, turn: int, emit: Emit) -> bool:
        """Undo the failed rung's edits (the turn's checkpoint), unless kept."""
        if self.on_failure == "keep" or self.checkpoints is None:
            return False
        session = self.agent.tool_context.session_id
        try:
            self.checkpoints.end_turn(session, turn)
            changes = self.checkpoints.rewind(session, turn - 1)
        except MnemoError as exc:  # a conflict (the user edited meanwhile) or git
            emit(Notice("warning", f"The failed attempt's edits were kept: {exc.one_line()}"))
            return False
        return bool(changes)

    def _finish(
        self, emit: Emit, chosen: StrategyChosen, result: RungResult, reports: list[RungReport]
    ) -> TurnFinished:
        usage = Usage()
        costs = [r.cost_usd for r in reports if r.cost_usd is not None]
        for report in reports:
            usage = usage + report.usage
        extra = dict(result.extra)
        extra["strategy"] = result.strategy
        extra["picked"] = {
            "strategy": chosen.strategy,
            "reason": chosen.reason,
            "forced": chosen.forced,
        }
        extra["rungs"] = [r.as_dict() for r in reports]
        iterations = sum(r.model_calls for r in reports)
        finished = TurnFinished(
            result.text,
            result.stop_reason,
            usage,
            sum(costs) if costs else None,
            result.iterations if len(reports) == 1 else iterations,
            extra,
        )
        emit(finished)
        return finished


def build_ladder(
    agent: Agent,
    settings: Settings,
    checkpoints: CheckpointStore | None,
    code_map: SessionMap | None,
) -> Router:
    """The ladder: direct (the tool loop), then the context-first solver."""
    from mnemocode.agent.solver import ContextSolver

    def make_solver(context: ToolContext) -> ContextSolver:
        return ContextSolver(
            slot=agent.slot,
            toolset=agent.toolset,
            tool_context=context,
            config=settings.solver,
            codemap=code_map,
            meter=agent.meter,
            # The session's prefix as it is now (the first request's map included).
            system_prompt=agent.context.prefix.text,
            checkpoints=checkpoints,
        )

    registry = StrategyRegistry([DirectStrategy(agent), ContextStrategy(agent, make_solver)])
    return Router(agent, registry, settings.router, checkpoints=checkpoints)
