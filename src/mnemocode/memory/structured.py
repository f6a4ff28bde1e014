"""Asking a model for a JSON object that a pydantic model validates, with one retry.

Models wrap JSON in ```json fences, put a sentence before it, or get a field wrong.
:func:`extract_json_object` takes the first balanced ``{...}`` that parses;
:func:`ask_json` validates it and, when that fails, asks once more, quoting the
problem, before giving up with :class:`StructuredOutputError`.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mnemocode.core.errors import MnemoError
from mnemocode.core.protocols import ChatModel
from mnemocode.core.types import Message, ModelRequest, SystemBlock
from mnemocode.llm.base import complete

T = TypeVar("T", bound=BaseModel)

MAX_REPORTED_ERRORS = 8
REPLY_EXCERPT_CHARS = 200


class StructuredOutputError(MnemoError):
    """The model's reply was not a valid JSON object for the schema, twice."""

    def __init__(self, message: str, *, reply: str = "", problem: str = "") -> None:
        self.reply, self.problem = reply, problem
        super().__init__(message)


def _object_end(text: str, start: int) -> int | None:
    """The index just past the ``}`` closing the ``{`` at ``start`` (braces inside
    JSON strings ignored), or None when it is never closed."""
    depth = 0
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def extract_json_object(text: str) -> dict[str, Any]:
    """The first balanced top-level ``{...}`` in ``text`` that is valid JSON.

    Accepts fences and prose around it. Raises ``ValueError`` saying what is wrong.
    """
    first_error: str | None = None
    position = 0
    while (start := text.find("{", position)) != -1:
        end = _object_end(text, start)
        if end is None:
            first_error = first_error or "the JSON object is not closed (the reply was cut?)"
            break
        try:
            value = json.loads(text[start:end])
        except ValueError as exc:
            first_error = first_error or f"invalid JSON: {exc}"
            position = end  # skip the objects nested in this one
            continue
        if isinstance(value, dict):
            return value
        position = end
    raise ValueError(first_error or "the reply contains no JSON object")


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, ``field.path: message``, without pydantic's URLs."""
    errors = exc.errors(include_url=False)
    lines = [
        f"{'.'.join(str(part) for part in error['loc']) or '(root)'}: {error['msg']}"
        for error in errors[:MAX_REPORTED_ERRORS]
    ]
    if len(errors) > MAX_REPORTED_ERRORS:
        lines.append(f"… and {len(errors) - MAX_REPORTED_ERRORS} more")
    return "validation error: " + "; ".join(lines)


def parse_reply(reply: str, schema: type[T]) -> T:
    """``reply`` validated as ``schema``; ``ValueError`` with a readable message."""
    data = extract_json_object(reply)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ValueError(describe_validation_error(exc)) from exc


def _retry_prompt(problem: str, schema: type[BaseModel]) -> str:
    return (
        f"Your reply could not be used: {problem}\n\n"
        f"Reply again with ONLY the corrected JSON object for {schema.__name__} "
        "(no prose, no code fences), following the schema in the instructions."
    )


async def ask_json(model: ChatModel, system: str, user: str, schema: type[T]) -> T:
    """Ask ``model`` (no tools) and validate its reply as ``schema``; on failure ask
    once more with the problem quoted. Raises ``StructuredOutputError`` when the
    second reply fails too; model errors (``ModelError``) pass through."""
    messages = [Message.user(user)]
    request = ModelRequest(messages=messages, system=[SystemBlock(system)])
    reply = (await complete(model, request)).message.text
    try:
        return parse_reply(reply, schema)
    except ValueError as exc:
        problem = str(exc)
    retry = ModelRequest(
        messages=[
            *messages,
            Message.assistant(reply or "(empty reply)"),
            Message.user(_retry_prompt(problem, schema)),
        ],
        system=[SystemBlock(system)],
    )
    second = (await complete(model, retry)).message.text
    try:
        return parse_reply(second, schema)
    except ValueError as exc:
        excerpt = second.strip()[:REPLY_EXCERPT_CHARS] or "(empty)"
        raise StructuredOutputError(
            f"model {model.name!r} did not return a valid {schema.__name__} JSON object "
            f"after a retry: {exc} (reply began: {excerpt!r})",
            reply=second,
            problem=str(exc),
        ) from exc
