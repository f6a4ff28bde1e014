"""Conversations as compact plain text for a model to summarise, and where to cut them.

``render_transcript`` writes one line per tool call (``→ name(args)``) and per tool
result (``← name: first lines… (N chars)``), leaves long fenced code blocks out (a
summary should name files and functions, not copy code) and, past ``max_chars``,
keeps the head and the tail. ``split_for_compaction`` picks the index where the
recent part of a history — kept verbatim — starts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mnemocode.core.types import Message, TextPart

TOOL_RESULT_CHARS = 300
TOOL_RESULT_LINES = 4
TOOL_ARGS_CHARS = 200
ARG_VALUE_CHARS = 80
MAX_CODE_LINES = 3  # fenced blocks longer than this are replaced by a note

# A fenced block: ``` or ~~~ at the start of a line, an optional language, the body,
# and the same fence closing it (or the end of the text, when the message was cut).
_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+#.-]*)[^\n]*\n"
    r"(?P<body>.*?)(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
_BLANK_LINES = re.compile(r"\n{3,}")


def elide_code(text: str) -> str:
    """``text`` with every fenced code block of more than three lines replaced by
    ``[code: N lines of <lang>]``."""

    def replace(match: re.Match[str]) -> str:
        lines = len(match.group("body").splitlines())
        if lines <= MAX_CODE_LINES:
            return match.group(0)
        lang = match.group("lang")
        return f"[code: {lines} lines of {lang}]" if lang else f"[code: {lines} lines]"

    return _FENCE.sub(replace, text)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _arg_value(value: Any, keep_code: bool) -> Any:
    """Long string arguments (file contents, patches) shrink to a length note."""
    if isinstance(value, str):
        lines = value.count("\n") + 1
        if not keep_code and lines > MAX_CODE_LINES:
            return f"<{lines} lines, {len(value)} chars>"
        return _shorten(value, ARG_VALUE_CHARS)
    if isinstance(value, dict):
        return {str(k): _arg_value(v, keep_code) for k, v in value.items()}
    if isinstance(value, list):
        return [_arg_value(v, keep_code) for v in value]
    return value


def _render_call(name: str, arguments: dict[str, Any], raw: str, keep_code: bool) -> str:
    if arguments or not raw:
        args = json.dumps(_arg_value(arguments, keep_code), ensure_ascii=False)
    else:  # the model sent arguments that are not a JSON object: quote them
        args = raw
    return f"→ {name}({_shorten(args, TOOL_ARGS_CHARS)})"


def _render_result(message: Message, keep_code: bool) -> str:
    text = message.text if keep_code else elide_code(message.text)
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    head = " | ".join(lines[:TOOL_RESULT_LINES])
    if len(lines) > TOOL_RESULT_LINES:
        head += " …"
    images = sum(1 for part in message.content if not isinstance(part, TextPart))
    size = f"{len(message.text)} chars" + (f", {images} image(s)" if images else "")
    marker = " ERROR" if message.is_error else ""
    return f"← {message.name or 'tool'}{marker}: {_shorten(head, TOOL_RESULT_CHARS)} ({size})"


def _render_message(message: Message, keep_code: bool) -> list[str]:
    if message.role == "tool":
        return [_render_result(message, keep_code)]
    text = message.text.strip()
    if not keep_code:
        text = elide_code(text)
    images = sum(1 for part in message.content if not isinstance(part, TextPart))
    if images:
        text = f"{text} [{images} image(s)]".strip()
    lines = [f"{message.role}: {text}"] if text else []
    lines.extend(
        _render_call(c.name, c.arguments, c.raw_arguments, keep_code) for c in message.tool_calls
    )
    return lines


def _cut_middle(text: str, max_chars: int) -> str:
    """Head (two fifths) and tail (three fifths) of ``text`` around a note, within
    ``max_chars``, cut at line breaks where one is close."""
    note = f"\n\n[… {len(text)} characters in all; the middle of the conversation is omitted …]\n\n"
    budget = max_chars - len(note)
    if budget <= 0:
        return text[:max_chars]
    head_end = budget * 2 // 5
    tail_start = len(text) - (budget - head_end)
    newline = text.rfind("\n", 0, head_end)
    if newline > head_end // 2:
        head_end = newline
    newline = text.find("\n", tail_start)
    if newline != -1 and newline - tail_start < (len(text) - tail_start) // 2:
        tail_start = newline + 1
    return text[:head_end].rstrip() + note + text[tail_start:].lstrip()


def render_transcript(
    messages: list[Message], *, max_chars: int | None = None, keep_code: bool = False
) -> str:
    """A compact plain-text rendering of ``messages`` for a model to summarise."""
    blocks: list[str] = []
    for message in messages:
        lines = _render_message(message, keep_code)
        if not lines:
            continue
        if message.role == "user" and blocks:
            blocks.append("")  # a blank line before each user turn
        blocks.extend(lines)
    text = _BLANK_LINES.sub("\n\n", "\n".join(blocks)).strip()
    if max_chars is not None and len(text) > max_chars:
        text = _cut_middle(text, max_chars)
    return text


def is_user_turn(message: Message) -> bool:
    """A message the user typed (not a tool result, whatever its role)."""
    return message.role == "user" and message.tool_call_id is None


def _separated_call(history: list[Message], split: int) -> int | None:
    """The index of the earliest assistant message before ``split`` with a tool
    call whose result is at or after ``split``; None when no pair is cut."""
    results_after = {m.tool_call_id for m in history[split:] if m.tool_call_id is not None}
    for index, message in enumerate(history[:split]):
        if any(call.id in results_after for call in message.tool_calls):
            return index
    return None


def split_for_compaction(history: list[Message], keep_recent_turns: int) -> int:
    """Where the recent part of ``history`` starts: at the ``keep_recent_turns``-th
    last user turn (all of it when ``keep_recent_turns`` <= 0). Moved earlier when
    it would part a tool call from its result. 0 means nothing to compact."""
    if keep_recent_turns <= 0:
        split = len(history)
    else:
        starts = [i for i, message in enumerate(history) if is_user_turn(message)]
        if len(starts) < keep_recent_turns:
            return 0
        split = starts[-keep_recent_turns]
    while split > 0:
        earlier = _separated_call(history, split)
        if earlier is None:
            break
        split = earlier
    return split
