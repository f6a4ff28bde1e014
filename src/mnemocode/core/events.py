"""Events the agent emits while it works. Front ends render them; the runtime
bus carries them to other processes. ``to_dict`` gives the documented
stream-json shape (see README, "Headless mode")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mnemocode.core.types import ToolCall, ToolResult, Usage


@dataclass(frozen=True, slots=True)
class TurnStarted:
    turn: int
    prompt: str
    type: Literal["turn_started"] = "turn_started"


@dataclass(frozen=True, slots=True)
class TextDeltaEvent:
    text: str
    type: Literal["text_delta"] = "text_delta"


@dataclass(frozen=True, slots=True)
class ReasoningDeltaEvent:
    text: str
    type: Literal["reasoning_delta"] = "reasoning_delta"


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    call: ToolCall
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolOutputDelta:
    """Streaming output of a running tool (shell commands)."""

    call_id: str
    text: str
    type: Literal["tool_output"] = "tool_output"


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    call: ToolCall
    result: ToolResult
    duration_s: float
    type: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True, slots=True)
class ModelCallFinished:
    model: str
    usage: Usage
    cost_usd: float | None
    duration_s: float
    type: Literal["model_call"] = "model_call"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know that is not an error (retry, stall warning)."""

    level: Literal["info", "warning"]
    message: str
    # Notices of one topic replace each other where a front end can (retries).
    topic: str = ""
    type: Literal["notice"] = "notice"


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    message: str
    kind: str
    type: Literal["error"] = "error"


@dataclass(frozen=True, slots=True)
class TurnFinished:
    text: str
    stop_reason: str  # "end_turn", "max_iterations", "stall", "cancelled", "error"
    usage: Usage
    cost_usd: float | None
    iterations: int
    extra: dict[str, Any] = field(default_factory=dict)
    type: Literal["turn_finished"] = "turn_finished"


@dataclass(frozen=True, slots=True)
class StrategyChosen:
    """The router picked (or the user forced) a strategy for this turn."""

    strategy: str  # "direct", "context", …
    reason: str
    forced: bool = False
    type: Literal["strategy"] = "strategy"


@dataclass(frozen=True, slots=True)
class Escalated:
    """A rung failed; the next one starts with what the failed one learnt."""

    from_strategy: str
    to_strategy: str
    reason: str
    rolled_back: bool = False
    type: Literal["escalated"] = "escalated"


@dataclass(frozen=True, slots=True)
class SolverStep:
    """One step of the context-first solver (plan, gather, solve, verify, fix,
    review, polish) starting or ending."""

    step: str
    status: Literal["started", "finished", "failed", "skipped"]
    detail: str = ""
    type: Literal["solver_step"] = "solver_step"


@dataclass(frozen=True, slots=True)
class SubagentEvent:
    """An event of a sub-agent (the ``task`` tool), nested under the call that runs it."""

    agent: str
    call_id: str
    event: AgentEvent
    depth: int = 1
    type: Literal["subagent"] = "subagent"


AgentEvent = (
    TurnStarted
    | TextDeltaEvent
    | ReasoningDeltaEvent
    | ToolCallStarted
    | ToolOutputDelta
    | ToolCallFinished
    | ModelCallFinished
    | Notice
    | ErrorEvent
    | TurnFinished
    | StrategyChosen
    | Escalated
    | SolverStep
    | SubagentEvent
)


def event_to_dict(event: AgentEvent) -> dict[str, Any]:
    if isinstance(event, SubagentEvent):
        inner = event_to_dict(event.event)
        return {"agent": event.agent, "call_id": event.call_id, "depth": event.depth,
                "event": inner, "type": event.type}  # fmt: skip
    data = asdict(event)
    if isinstance(event, ToolCallStarted | ToolCallFinished):
        data["call"].pop("raw_arguments", None)
    if isinstance(event, ToolCallFinished):
        result = event.result
        data["result"] = {"text": result.text, "is_error": result.is_error}
    return data
