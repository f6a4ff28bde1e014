"""The agent loop. It only loops: ask the model, run the tools it called, record
both, repeat until the model answers without calling a tool. Everything else —
which model, which tools, what the system prompt says, what is allowed — is
passed in."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mnemocode.agent.budget import (
    TokenMeter,
    cap_tool_output,
    fit_to_window,
    output_reserve,
    overflow_advice,
    prune_tool_outputs,
)
from mnemocode.agent.compaction import Compactor
from mnemocode.agent.context import ContextBuilder
from mnemocode.agent.stall import StallDetector
from mnemocode.config.settings import AgentConfig
from mnemocode.core.errors import ContextOverflowError, ModelError, TurnStopped
from mnemocode.core.events import (
    AgentEvent,
    ErrorEvent,
    ModelCallFinished,
    Notice,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    ToolCallFinished,
    ToolCallStarted,
    ToolOutputDelta,
    TurnFinished,
    TurnStarted,
)
from mnemocode.core.protocols import ChatModel, ToolContext, Toolset
from mnemocode.core.types import (
    Message,
    ModelResponse,
    ReasoningDelta,
    ResponseDone,
    Retrying,
    TextDelta,
    TextPart,
    ToolCall,
    ToolResult,
    Usage,
)
from mnemocode.llm.cost import CostTracker

CUT_OFF_NOTE = "[cut off: the stream ended early]"

Emit = Callable[[AgentEvent], None]
Recorder = Callable[[int, Message], None]  # (turn, message): persist as it happens
Pricer = Callable[[Usage], float | None]
# (session, the final answer, whether it already went on for a stop check, emit) →
# why the model must go on (Stop hooks), or None: the turn ends.
StopCheck = Callable[[str, str, bool, Emit], Awaitable[str | None]]


@dataclass(slots=True)
class ModelSlot:
    """The model in use and what the loop needs to know about it."""

    model: ChatModel
    context_window: int
    price: Pricer = lambda _usage: None


@dataclass(slots=True)
class _TurnTally:
    """Usage, cost and iterations of the turn in progress."""

    emit: Emit
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    iterations: int = 0

    def add(self, usage: Usage, cost: float | None) -> None:
        self.usage = self.usage + usage
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost

    def finish(self, text: str, reason: str) -> TurnFinished:
        event = TurnFinished(text, reason, self.usage, self.cost_usd, self.iterations)
        self.emit(event)
        return event


class Agent:
    def __init__(
        self,
        *,
        slot: ModelSlot,
        toolset: Toolset,
        tool_context: ToolContext,
        context: ContextBuilder,
        config: AgentConfig,
        meter: TokenMeter,
        history: list[Message] | None = None,
        compactor: Compactor | None = None,
        recorder: Recorder | None = None,
        first_turn: int = 1,
    ) -> None:
        self.slot = slot
        self.toolset = toolset
        self.tool_context = tool_context
        self.context = context
        self.config = config
        self.meter = meter
        self.history: list[Message] = history if history is not None else []
        self.compactor = compactor
        self.recorder = recorder
        self.stop_check: StopCheck | None = None
        self.totals = CostTracker()
        self.turns = first_turn - 1
        # Where each turn still in ``history`` began (index of its user message).
        # Turn numbers only grow, so (session, turn) names one turn for checkpoints.
        self.turn_starts: dict[int, int] = {}
        # Calls cut short by a cancel: what the model is told about them.
        self._interrupted: dict[str, ToolResult] = {}
        self._told: tuple[int, int | None] | None = None  # the output-reserve notice, once

    def _add(self, message: Message) -> None:
        self.history.append(message)
        if self.recorder is not None:
            self.recorder(self.turns, message)

    # ---- one turn ------------------------------------------------------------

    async def run_turn(self, prompt: Message | str, emit: Emit) -> TurnFinished:
        message = Message.user(prompt) if isinstance(prompt, str) else prompt
        self.turns += 1
        self.turn_starts[self.turns] = len(self.history)
        self._add(message)
        emit(TurnStarted(self.turns, message.text))
        turn = _TurnTally(emit)
        stall = StallDetector()
        went_on = False
        try:
            while turn.iterations < self.config.max_iterations:
                turn.iterations += 1
                response = await self._call_model(emit)
                turn.add(response.usage, self.slot.price(response.usage))
                calls = response.message.tool_calls
                if not calls:
                    more = await self._must_go_on(response.message.text, went_on, emit)
                    if more is None:
                        return turn.finish(response.message.text, "end_turn")
                    went_on = True
                    self._add(Message.user(more))
                    continue
                results = await self._run_calls(calls, emit)
                verdict = stall.observe(calls, results, self._read_only_names())
                if verdict is not None:
                    emit(Notice("warning", verdict.message))
                    if verdict.stop:
                        return turn.finish(verdict.message, "stall")
                    self._append_note(verdict.message)
            many = "s" if turn.iterations != 1 else ""
            return turn.finish(
                f"Stopped after {turn.iterations} iteration{many} (agent.max_iterations). "
                "The work so far is kept; say 'continue' to go on.",
                "max_iterations",
            )
        except TurnStopped as exc:
            return turn.finish(str(exc), exc.reason)
        except ModelError as exc:
            emit(ErrorEvent(exc.one_line(), type(exc).__name__))
            finished = turn.finish(exc.one_line(), "error")
            finished.extra["error_kind"] = type(exc).__name__
            return finished
        except asyncio.CancelledError:
            self._close_dangling_calls("cancelled by the user")
            emit(Notice("info", "Interrupted."))
            raise
        except Exception:
            self._close_dangling_calls("an internal error stopped the turn")
            raise

    async def _must_go_on(self, answer: str, went_on: bool, emit: Emit) -> str | None:
        if self.stop_check is None:
            return None
        why = await self.stop_check(self.tool_context.session_id, answer, went_on, emit)
        if why is None:
            return None
        emit(Notice("info", f"A Stop hook asks to go on: {why}", topic="hooks"))
        return f"[Stop hook] {why}"

    def record_turn(self, prompt: Message, answer: Message) -> int:
        """A turn answered outside the loop (the context-first solver): the user
        message and the answer join the history as a loop turn would; returns its number."""
        self.turns += 1
        self.turn_starts[self.turns] = len(self.history)
        self._add(prompt)
        self._add(answer)
        return self.turns

    def rewind_to(self, turn: int) -> list[int]:
        """Forget turn ``turn`` and every later one; returns the turns dropped."""
        if turn not in self.turn_starts:
            return []
        del self.history[self.turn_starts[turn] :]
        dropped = sorted(t for t in self.turn_starts if t >= turn)
        for t in dropped:
            del self.turn_starts[t]
        return dropped

    # ---- the model -----------------------------------------------------------

    async def compact(self, emit: Emit, *, force: bool = False) -> int:
        """Compact the history if it passed the threshold (or ``force``); returns
        how many messages the summary replaced."""
        if self.compactor is None:
            return 0
        tools = self.toolset.specs()

        def measure() -> int:
            return self.meter.measure(self.context.build(self.history, tools))

        removed, summary = await self.compactor.run(
            self.history,
            self.context.summary,
            measure,
            self.slot.context_window,
            emit,
            force=force,
        )
        if removed:
            self.context.summary = summary
            self.turn_starts = {t: i - removed for t, i in self.turn_starts.items() if i >= removed}
        return removed

    async def _keep_in_window(self, emit: Emit) -> None:
        """Compact past the compaction threshold; prune past the context budget.
        One measurement when neither is needed (the usual case)."""
        tokens = self.meter.measure(self.context.build(self.history, self.toolset.specs()))
        window = self.slot.context_window
        if self.compactor is not None and tokens > window * self.compactor.threshold:
            await self.compact(emit)
        elif tokens <= self._budget_limit():
            return
        self._fit_context(emit)

    def _output_reserve(self, emit: Emit | None = None) -> int | None:
        window, configured = self.slot.context_window, self.context.max_output_tokens
        reserve = output_reserve(window, configured)
        if emit is not None and reserve != configured and (window, configured) != self._told:
            self._told = (window, configured)
            emit(
                Notice(
                    "info",
                    f"max_output_tokens {configured} does not fit a {window}-token context "
                    f"window: answers are limited to {reserve} tokens (a quarter of it).",
                )
            )
        return reserve

    def _budget_limit(self) -> int:
        out = self._output_reserve() or 0
        return max(1_000, int(self.slot.context_window * self.config.context_budget) - out)

    async def _call_model(self, emit: Emit, *, after_overflow: bool = False) -> ModelResponse:
        await self._keep_in_window(emit)
        request = self.context.build(self.history, self.toolset.specs())
        request.max_output_tokens = self._output_reserve(emit)
        started = time.perf_counter()
        partial: list[str] = []
        response: ModelResponse | None = None
        try:
            async for event in self.slot.model.stream(request):
                if isinstance(event, TextDelta):
                    partial.append(event.text)
                    emit(TextDeltaEvent(event.text))
                elif isinstance(event, ReasoningDelta):
                    emit(ReasoningDeltaEvent(event.text))
                elif isinstance(event, Retrying):
                    partial.clear()  # the retried attempt showed no text
                    emit(
                        Notice(
                            "warning",
                            f"{event.message}; retry {event.attempt} in {event.delay_s:.1f}s",
                            topic="retry",
                        )
                    )
                elif isinstance(event, ResponseDone):
                    response = event.response
        except ContextOverflowError:
            # Our estimate said it fits but the server disagreed: prune every old
            # tool output once and try again.
            if after_overflow or not prune_tool_outputs(self.history, keep_recent=2):
                raise
            emit(
                Notice(
                    "warning",
                    "The model said the context was too long; old tool outputs were pruned.",
                )
            )
            return await self._call_model(emit, after_overflow=True)
        except asyncio.CancelledError:
            text = "".join(partial)
            self._add(
                Message.assistant((text + "\n\n" if text else "") + "[interrupted by the user]")
            )
            raise
        except ModelError:
            # The user saw this text: it stays in the conversation, marked as cut off.
            if partial:
                self._add(Message.assistant("".join(partial) + "\n\n" + CUT_OFF_NOTE))
            raise
        if response is None:
            raise ModelError(
                "the stream ended without a final response", model=self.slot.model.name
            )
        cost = self.slot.price(response.usage)
        duration = time.perf_counter() - started
        self.totals.record(self.slot.model.name, response.usage, cost, duration)
        emit(ModelCallFinished(self.slot.model.name, response.usage, cost, duration))
        self._add(response.message)
        return response

    def _fit_context(self, emit: Emit) -> None:
        tools = self.toolset.specs()
        limit = self._budget_limit()

        def measure() -> int:
            return self.meter.measure(self.context.build(self.history, tools))

        before, after = fit_to_window(self.history, measure, limit)
        if after > limit:
            fixed = self.meter.measure(self.context.build([], tools))
            last = self.meter.measure(self.context.build(self.history[-1:], tools)) - fixed
            advice = overflow_advice(
                needed=after, limit=limit, fixed=fixed, last=last, window=self.slot.context_window
            )
            reserve = self._output_reserve()
            if reserve:
                advice += f" ({reserve} tokens are kept for the answer.)"
            raise TurnStopped("context_overflow", advice)
        if after < before:
            emit(Notice("info", f"Pruned old tool outputs: ~{before} → ~{after} tokens."))

    # ---- tools ---------------------------------------------------------------

    def _read_only_names(self) -> set[str]:
        return {s.name for s in self.toolset.specs() if s.read_only}

    async def _run_calls(self, calls: list[ToolCall], emit: Emit) -> list[ToolResult]:
        """Consecutive read-only calls run concurrently; anything else runs alone, in order."""
        read_only = self._read_only_names()
        results: list[ToolResult] = []
        batch: list[ToolCall] = []

        async def flush() -> None:
            if batch:
                results.extend(await asyncio.gather(*(self._run_one(c, emit) for c in batch)))
                batch.clear()

        try:
            for call in calls:
                if call.name in read_only:
                    batch.append(call)
                    continue
                await flush()
                results.append(await self._run_one(call, emit))
            await flush()
        finally:
            # Record what finished, even when cancelled, so no call is left unanswered.
            for result in results:
                self._add(Message.tool(result))
        return results

    async def _run_one(self, call: ToolCall, emit: Emit) -> ToolResult:
        emit(ToolCallStarted(call))
        started = time.perf_counter()
        result = _invalid_arguments(call)
        if result is None:
            output: list[str] = []

            def tee(event: AgentEvent) -> None:
                if isinstance(event, ToolOutputDelta) and event.call_id == call.id:
                    output.append(event.text)
                emit(event)

            ctx = dataclasses.replace(
                self.tool_context, current_call_id=call.id, emit=tee, turn=self.turns
            )
            try:
                result = await self.toolset.call(call, ctx)
            except asyncio.CancelledError:
                elapsed = time.perf_counter() - started
                cut = _interrupted(call, elapsed, "".join(output))
                cut = cap_tool_output(
                    cut, self.config.tool_output_max_chars, self.tool_context.log_dir
                )
                self._interrupted[call.id] = cut
                emit(ToolCallFinished(call, cut, elapsed))
                raise
            except Exception as exc:  # a broken tool must not end the session
                result = ToolResult.of_text(
                    call, f"Tool {call.name} failed: {type(exc).__name__}: {exc}", is_error=True
                )
        # The toolset's own timing, when it has one, leaves out an approval's wait.
        ran = result.duration_s
        result = cap_tool_output(
            result, self.config.tool_output_max_chars, self.tool_context.log_dir
        )
        emit(ToolCallFinished(call, result, time.perf_counter() - started if ran is None else ran))
        return result

    def _append_note(self, note: str) -> None:
        # A new message, not a mutation: adapters cache converted messages by identity.
        last = self.history[-1]
        self.history[-1] = dataclasses.replace(
            last, content=[*last.content, TextPart(f"\n\n[mnemo] {note}")]
        )

    def _close_dangling_calls(self, reason: str) -> None:
        """After a cancel, answer every tool call that has no result yet."""
        answered = {m.tool_call_id for m in self.history if m.role == "tool"}
        for message in reversed(self.history):
            if message.role == "assistant":
                for call in message.tool_calls:
                    if call.id not in answered:
                        result = self._interrupted.get(call.id) or ToolResult.of_text(
                            call, f"Not run: {reason}.", is_error=True
                        )
                        self._add(Message.tool(result))
                break
        self._interrupted.clear()


def _interrupted(call: ToolCall, elapsed: float, output: str) -> ToolResult:
    """A call the user cancelled while it ran: how long it ran and what it printed."""
    text = f"Interrupted by the user after {elapsed:.1f}s, before it finished"
    if call.name == "shell_exec":
        text += "; the command and its children were killed"
    shown = output.rstrip("\n")
    text += f". Output so far:\n{shown}" if shown else "; no output so far."
    return ToolResult.of_text(call, text, is_error=True)


def _invalid_arguments(call: ToolCall) -> ToolResult | None:
    raw = call.raw_arguments.strip()
    if call.arguments or not raw or raw in {"{}", "null"}:
        return None
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        return ToolResult.of_text(
            call,
            f"Your arguments for {call.name} were not valid JSON ({exc.msg}); send a JSON object.",
            is_error=True,
        )
    return None
