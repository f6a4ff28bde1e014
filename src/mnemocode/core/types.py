"""The data that flows between layers: messages, tool calls, usage, stream events.

Plain dataclasses: cheap to build in the hot loop, easy to serialise with
``to_dict``. Pydantic is kept for configuration and validated model output.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image, kept as base64 so messages stay JSON-serialisable."""

    data_b64: str
    media_type: str
    type: Literal["image"] = "image"

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str) -> ImagePart:
        return cls(base64.b64encode(data).decode("ascii"), media_type)


ContentPart = TextPart | ImagePart


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    # The arguments exactly as the model sent them; kept when they are not valid JSON
    # so the error we return can quote them.
    raw_arguments: str = ""


@dataclass(slots=True)
class ToolResult:
    call_id: str
    name: str
    content: list[ContentPart]
    is_error: bool = False
    # Set when a check inside the tool refused the call (e.g. "network" for an
    # address the URL guard refused), so the audit log records a denial.
    denied_by: str | None = None
    # How long the call itself ran, when the toolset timed it (the safety guard
    # starts the clock once an approval question is answered); None: the loop
    # times the whole call.
    duration_s: float | None = None

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @classmethod
    def of_text(
        cls, call: ToolCall, text: str, *, is_error: bool = False, denied_by: str | None = None
    ) -> ToolResult:
        return cls(call.id, call.name, [TextPart(text)], is_error, denied_by)


@dataclass(slots=True)
class Message:
    role: Role
    content: list[ContentPart] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    # Reasoning text some providers return (DeepSeek/MiniMax `reasoning_content`,
    # Anthropic thinking); passed back where the API needs it.
    reasoning: str | None = None
    # Provider-specific fields that must round-trip verbatim (e.g. thinking signatures).
    provider_fields: dict[str, Any] = field(default_factory=dict)
    # On a tool message: the result was an error (Anthropic sends this flag on).
    is_error: bool = False

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @classmethod
    def user(cls, text: str, images: list[ImagePart] | None = None) -> Message:
        parts: list[ContentPart] = [TextPart(text)]
        parts.extend(images or [])
        return cls("user", parts)

    @classmethod
    def assistant(cls, text: str = "", tool_calls: list[ToolCall] | None = None) -> Message:
        return cls("assistant", [TextPart(text)] if text else [], list(tool_calls or []))

    @classmethod
    def tool(cls, result: ToolResult) -> Message:
        return cls(
            "tool",
            list(result.content),
            tool_call_id=result.call_id,
            name=result.name,
            is_error=result.is_error,
        )


@dataclass(slots=True)
class Usage:
    """Tokens of one call or a sum. ``input_tokens`` is the whole prompt, cached
    tokens included; ``cache_read_tokens``/``cache_write_tokens`` say how much of
    it was read from or written to the provider's prompt cache."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """What the model sees of a tool. ``read_only`` tools may run concurrently."""

    name: str
    description: str
    parameters: dict[str, Any]
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class SystemBlock:
    """A piece of the system prompt. ``cache`` marks the end of a stable prefix."""

    text: str
    cache: bool = False


ToolChoice = Literal["auto", "required", "none"] | str  # a tool name forces that tool


@dataclass(slots=True)
class ModelRequest:
    messages: list[Message]
    system: list[SystemBlock] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    max_output_tokens: int | None = None
    temperature: float | None = None


# ---- stream events emitted by a ChatModel ---------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call as it streams; ``index`` groups fragments."""

    index: int
    id: str | None
    name: str | None
    arguments_delta: str


@dataclass(slots=True)
class ModelResponse:
    message: Message
    usage: Usage
    finish_reason: str
    model: str = ""


@dataclass(frozen=True, slots=True)
class Retrying:
    """The call failed with a retryable error and will be tried again after ``delay_s``."""

    message: str
    attempt: int
    delay_s: float


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """Always the last event of a stream: the assembled assistant message."""

    response: ModelResponse


@dataclass(slots=True)
class MemoryHit:
    """One result of a memory search."""

    source: Literal["summary", "project", "history", "core"]
    ref: str  # "entry:<key>", "summary:<id>", "msg:<session>:<seq>", "trait:<id>"
    text: str
    score: float
    when: float  # unix time the hit is about
    session_id: str | None = None


StreamEvent = TextDelta | ReasoningDelta | ToolCallDelta | Retrying | ResponseDone
