"""Scripted turns: what a fake model says next, in-process or over HTTP.

A :class:`Turn` is one model response: reasoning, text, tool calls, or an error,
optionally after a delay. The same turns drive :class:`ScriptedModel` (in-process)
and the fake HTTP servers, and they have a JSON form for subprocess tests::

    {"text": "...", "reasoning": "...", "delay": 0.1,
     "tool_calls": [{"name": "file_read", "arguments": {"path": "a.py"}}],
     "error": {"status": 429, "message": "slow down", "retry_after": 0.1},
     "drop_after": 2, "cut_after": 2}

``drop_after`` = N streams N content chunks and then fails: with ``error`` set the
error arrives mid-stream, otherwise the connection is dropped. Error status 0 also
means "drop the connection" (before any output).

``cut_after`` = N streams N content chunks and then ends the response cleanly —
the chunked body is closed properly but no ``finish_reason`` (OpenAI) or
``message_stop`` (Anthropic) and no ``[DONE]`` is sent: a proxy or server that
gives up without an error. 0 sends only the opening chunk. ``ScriptedModel``
raises the ``ModelConnectionError`` the adapters raise for such a stream.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mnemocode.core.errors import (
    ContextOverflowError,
    ModelAuthError,
    ModelBadRequestError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
)
from mnemocode.core.types import Usage
from mnemocode.llm.errors import error_from_status

DROP = 0  # error status meaning "close the connection"


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    # Sent verbatim instead of the JSON of ``arguments`` (to script invalid JSON).
    raw_arguments: str | None = None

    def arguments_json(self) -> str:
        if self.raw_arguments is not None:
            return self.raw_arguments
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class ScriptedError:
    """An HTTP failure. ``status`` 0 drops the connection instead of answering."""

    status: int
    message: str = ""
    retry_after: float | None = None
    type: str | None = None
    code: str | None = None

    def to_model_error(self, model: str) -> ModelError:
        if self.status == DROP:
            return ModelConnectionError(self.message or "connection dropped", model=model)
        headers = {"retry-after": str(self.retry_after)} if self.retry_after is not None else None
        return error_from_status(
            self.status, self.message, model=model, code=self.code, kind=self.type, headers=headers
        )

    @classmethod
    def from_model_error(cls, exc: ModelError) -> ScriptedError:
        if isinstance(exc, ModelConnectionError):
            return cls(DROP, exc.message)
        if isinstance(exc, ContextOverflowError):
            return cls(exc.status or 400, exc.message, code="context_length_exceeded")
        defaults: list[tuple[type[ModelError], int]] = [
            (ModelAuthError, 401),
            (ModelNotFoundError, 404),
            (ModelBadRequestError, 400),
            (ModelRateLimitError, 429),
        ]
        status = exc.status or next((s for t, s in defaults if isinstance(exc, t)), 500)
        return cls(status, exc.message, retry_after=exc.retry_after)


@dataclass(frozen=True)
class Turn:
    """One scripted model response. ``a + b`` merges two turns (texts concatenate)."""

    text: str = ""
    tool_calls: tuple[ScriptedCall, ...] = ()
    reasoning: str = ""
    error: ScriptedError | ModelError | None = None
    delay: float = 0.0
    drop_after: int | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    cut_after: int | None = None

    def __add__(self, other: Turn) -> Turn:
        return Turn(
            text=self.text + other.text,
            tool_calls=self.tool_calls + other.tool_calls,
            reasoning=self.reasoning + other.reasoning,
            error=other.error or self.error,
            delay=self.delay + other.delay,
            drop_after=other.drop_after if other.drop_after is not None else self.drop_after,
            usage=other.usage or self.usage,
            finish_reason=other.finish_reason or self.finish_reason,
            cut_after=other.cut_after if other.cut_after is not None else self.cut_after,
        )

    def http_error(self) -> ScriptedError | None:
        if isinstance(self.error, ModelError):
            return ScriptedError.from_model_error(self.error)
        return self.error

    def model_error(self, model: str) -> ModelError | None:
        if isinstance(self.error, ScriptedError):
            return self.error.to_model_error(model)
        return self.error

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn:
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown turn keys: {', '.join(sorted(unknown))}")
        calls = tuple(
            ScriptedCall(
                c["name"], dict(c.get("arguments", {})), c.get("id"), c.get("raw_arguments")
            )
            for c in data.get("tool_calls", [])
        )
        raw_error = data.get("error")
        usage = data.get("usage")
        return cls(
            text=data.get("text", ""),
            tool_calls=calls,
            reasoning=data.get("reasoning", ""),
            error=ScriptedError(**raw_error) if raw_error else None,
            delay=float(data.get("delay", 0.0)),
            drop_after=data.get("drop_after"),
            usage=Usage(**usage) if usage else None,
            finish_reason=data.get("finish_reason"),
            cut_after=data.get("cut_after"),
        )


def load_script(path: str) -> list[Turn]:
    """Read a JSON list of turns (strings are shorthand for text turns)."""
    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    if not isinstance(raw, list):
        raise ValueError(f"{path}: a script is a JSON list of turns")
    return [Turn(text=item) if isinstance(item, str) else Turn.from_dict(item) for item in raw]


# ---- tiny constructors ----------------------------------------------------------


def text(content: str, *, reasoning: str = "", delay: float = 0.0) -> Turn:
    return Turn(text=content, reasoning=reasoning, delay=delay)


def reasoning(content: str) -> Turn:
    return Turn(reasoning=content)


def call(name: str, /, **arguments: Any) -> ScriptedCall:
    return ScriptedCall(name, arguments)


def tool_call(name: str, /, **arguments: Any) -> Turn:
    return Turn(tool_calls=(ScriptedCall(name, arguments),))


def calls(*items: ScriptedCall, text: str = "") -> Turn:
    return Turn(text=text, tool_calls=items)


def error(
    exc: ModelError | int,
    message: str = "",
    *,
    retry_after: float | None = None,
    after: int | None = None,
) -> Turn:
    """A failing turn: a ``ModelError`` or an HTTP status (0 drops the connection).

    ``after`` = N streams N chunks of output first (set text too) — a mid-stream failure.
    """
    if isinstance(exc, ModelError):
        return Turn(error=exc, drop_after=after)
    return Turn(error=ScriptedError(exc, message, retry_after), drop_after=after)


def dropped(content: str, *, after: int = 1) -> Turn:
    """Stream ``after`` chunks of ``content``, then drop the connection."""
    return Turn(text=content, drop_after=after)


def cut(content: str, *, after: int = 1) -> Turn:
    """Stream ``after`` chunks of ``content``, then end the response cleanly with no
    finish reason (see ``cut_after``)."""
    return Turn(text=content, cut_after=after)


TurnLike = Turn | str
Script = Sequence[TurnLike] | Callable[[Any], TurnLike]


def as_turn(item: TurnLike) -> Turn:
    return Turn(text=item) if isinstance(item, str) else item


class ScriptExhaustedError(AssertionError):
    """The fake model was asked for more turns than were scripted."""


class TurnSource:
    """Hands out turns from a list or a function, numbering tool-call ids."""

    def __init__(self, script: Script, owner: str) -> None:
        self._script = script
        self._owner = owner
        self._served = 0
        self._next_call = 0

    @property
    def served(self) -> int:
        return self._served

    @property
    def remaining(self) -> int | None:
        if callable(self._script):
            return None
        return len(self._script) - self._served

    def next(self, request: Any, describe: str = "") -> Turn:
        number = self._served + 1
        if callable(self._script):
            turn = as_turn(self._script(request))
        elif self._served < len(self._script):
            turn = as_turn(self._script[self._served])
        else:
            raise ScriptExhaustedError(
                f"{self._owner}: script exhausted — request #{number} arrived but only "
                f"{len(self._script)} turn(s) were scripted{describe}"
            )
        self._served = number
        return turn

    def call_id(self, scripted: ScriptedCall, prefix: str = "call_") -> str:
        self._next_call += 1
        return scripted.id or f"{prefix}{self._next_call}"


def split(content: str, parts: int) -> Iterator[str]:
    """Cut ``content`` into up to ``parts`` non-empty pieces, deterministically."""
    if not content:
        return
    size = max(1, -(-len(content) // max(1, parts)))
    for start in range(0, len(content), size):
        yield content[start : start + size]
