"""One model call of the solver: a request with the solver's own tools, streamed,
counted, and translated into ``SolveFailed`` when it cannot be used."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from mnemocode.agent.budget import TokenMeter
from mnemocode.agent.loop import Emit, ModelSlot
from mnemocode.agent.solver.outcome import SolveFailed
from mnemocode.core.errors import ContextOverflowError, ModelError
from mnemocode.core.events import ModelCallFinished, Notice, TextDeltaEvent
from mnemocode.core.types import (
    Message,
    ModelRequest,
    ModelResponse,
    ResponseDone,
    Retrying,
    SystemBlock,
    TextDelta,
    ToolChoice,
    ToolSpec,
    Usage,
)

# What a request may take of the window; the rest is left for the answer.
WINDOW_SHARE = 0.8


@dataclass(slots=True)
class Caller:
    """Makes the solver's calls and keeps their tally."""

    slot: ModelSlot
    system: list[SystemBlock]
    emit: Emit
    meter: TokenMeter
    calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None

    async def call(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        tool_choice: ToolChoice = "auto",
        stream_text: bool = False,
    ) -> ModelResponse:
        request = ModelRequest(list(messages), list(self.system), list(tools), tool_choice)
        needed, room = self.meter.measure(request), int(self.slot.context_window * WINDOW_SHARE)
        if needed > room:
            raise SolveFailed(
                "context_overflow",
                f"the request needs ~{needed} tokens; ~{room} fit the model's context window",
            )
        started = time.perf_counter()
        response: ModelResponse | None = None
        try:
            async for event in self.slot.model.stream(request):
                if isinstance(event, TextDelta) and stream_text:
                    self.emit(TextDeltaEvent(event.text))
                elif isinstance(event, Retrying):
                    message = f"{event.message}; retry {event.attempt} in {event.delay_s:.1f}s"
                    self.emit(Notice("warning", message, topic="retry"))
                elif isinstance(event, ResponseDone):
                    response = event.response
        except ContextOverflowError as exc:
            self.calls += 1
            raise SolveFailed("context_overflow", exc.one_line()) from exc
        except ModelError as exc:
            self.calls += 1
            raise SolveFailed("model_error", exc.one_line()) from exc
        self.calls += 1
        if response is None:
            raise SolveFailed("model_error", "the stream ended without a final response")
        cost = self.slot.price(response.usage)
        self.usage = self.usage + response.usage
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost
        duration = time.perf_counter() - started
        self.emit(ModelCallFinished(self.slot.model.name, response.usage, cost, duration))
        if response.finish_reason == "length":
            raise SolveFailed("truncated", "the model's answer was cut off at its output limit")
        return response
