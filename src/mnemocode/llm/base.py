"""What every provider adapter shares: assembling a stream into a response.

Adapters feed provider deltas to a :class:`StreamAssembler`, yield the
``StreamEvent`` it returns, and end with ``ResponseDone(assembler.finish(...))``.
No SDK is imported here.

Finish reasons are normalised to the OpenAI vocabulary: ``"stop"``,
``"tool_calls"``, ``"length"``, ``"content_filter"``; anything else passes through.
A response that carries tool calls always finishes with ``"tool_calls"`` (several
servers say ``"stop"``), so the loop can trust either signal.

Token accounting: ``Usage.input_tokens`` is the whole prompt, cached tokens
included; ``cache_read_tokens`` / ``cache_write_tokens`` are the parts of it that
were read from / written to a prompt cache.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from mnemocode.core.errors import ModelConnectionError
from mnemocode.core.protocols import ChatModel
from mnemocode.core.types import (
    Message,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    ResponseDone,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "eos": "stop",
    "tool_use": "tool_calls",
    "function_call": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}


def normalize_finish_reason(reason: str | None, *, has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_calls"
    if not reason:
        return "stop"
    return _FINISH_REASONS.get(reason, reason)


def parse_arguments(raw: str) -> dict[str, Any] | None:
    """Tool-call arguments as a dict; None when they are not a JSON object.

    Empty means no arguments. A JSON string holding an object (double encoding,
    seen from some local models) is unwrapped once.
    """
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
        if isinstance(value, str):
            value = json.loads(value)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(slots=True)
class _PendingCall:
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)


class StreamAssembler:
    """Collects deltas into a ``ModelResponse`` and returns the events to yield.

    Tool-call fragments are grouped by ``index``. The id and name are taken from
    the first fragment that carries them and never concatenated: llama.cpp repeats
    the function name in every chunk. The ``ToolCallDelta`` events returned carry
    id and name only once per call, so consumers may concatenate safely.
    """

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _PendingCall] = {}
        self.usage = Usage()
        self.usage_reported = False
        self.finish_reason: str | None = None
        self.model = ""
        self.provider_fields: dict[str, Any] = {}

    @property
    def is_empty(self) -> bool:
        """True until any text, reasoning or tool call has arrived."""
        return not (self._text or self._reasoning or self._calls)

    @property
    def has_output(self) -> bool:
        """True once text or a tool call has been produced."""
        return bool(self._text or self._calls)

    def text(self, delta: str | None) -> TextDelta | None:
        if not delta:
            return None
        self._text.append(delta)
        return TextDelta(delta)

    def reasoning(self, delta: str | None) -> ReasoningDelta | None:
        if not delta:
            return None
        self._reasoning.append(delta)
        return ReasoningDelta(delta)

    def tool_call(
        self,
        index: int | None,
        *,
        id: str | None = None,
        name: str | None = None,
        arguments: str | None = None,
    ) -> ToolCallDelta:
        """Record one fragment. ``index`` None means: the call with this id, or a new one."""
        slot = self._slot(index, id)
        pending = self._calls.setdefault(slot, _PendingCall())
        new_id = id if id and pending.id is None else None
        new_name = name if name and pending.name is None else None
        if new_id:
            pending.id = new_id
        if new_name:
            pending.name = new_name
        if arguments:
            pending.arguments.append(arguments)
        return ToolCallDelta(slot, new_id, new_name, arguments or "")

    def _slot(self, index: int | None, call_id: str | None) -> int:
        if index is not None:
            return index
        if call_id:
            for slot, pending in self._calls.items():
                if pending.id == call_id:
                    return slot
            return max(self._calls, default=-1) + 1
        return max(self._calls, default=0)

    def tool_calls(self) -> list[ToolCall]:
        calls = []
        for number, slot in enumerate(sorted(self._calls), start=1):
            pending = self._calls[slot]
            raw = "".join(pending.arguments)
            parsed = parse_arguments(raw)
            calls.append(
                ToolCall(
                    id=pending.id or f"call_{number}",
                    name=pending.name or "",
                    arguments=parsed if parsed is not None else {},
                    raw_arguments=raw,
                )
            )
        return calls

    def set_usage(self, usage: Usage) -> None:
        self.usage = usage
        self.usage_reported = True

    def finish(self, finish_reason: str | None = None) -> ModelResponse:
        text = "".join(self._text)
        calls = self.tool_calls()
        message = Message(
            "assistant",
            [TextPart(text)] if text else [],
            calls,
            reasoning="".join(self._reasoning) or None,
            provider_fields=dict(self.provider_fields),
        )
        reason = normalize_finish_reason(
            finish_reason or self.finish_reason, has_tool_calls=bool(calls)
        )
        return ModelResponse(message, self.usage, reason, self.model)

    def done(self, finish_reason: str | None = None) -> ResponseDone:
        return ResponseDone(self.finish(finish_reason))


async def complete(model: ChatModel, request: ModelRequest) -> ModelResponse:
    """Run ``request`` to the end and return the assembled response."""
    stream = model.stream(request)
    try:
        async for event in stream:
            if isinstance(event, ResponseDone):
                return event.response
    finally:
        await aclose_iterator(stream)
    raise ModelConnectionError("the stream ended without a final response", model=model.name)


async def aclose_iterator(iterator: AsyncIterator[StreamEvent]) -> None:
    """Close an async generator early so its ``finally`` blocks (HTTP cleanup) run now."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
