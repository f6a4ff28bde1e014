"""Keeping requests inside the context window and tool outputs inside their cap."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from mnemocode.core.types import Message, ModelRequest, TextPart, ToolResult

PRUNED_NOTE = (
    "[output pruned to keep the conversation inside the context window; "
    "re-run the tool if you still need it]"
)


# The answer's reserve never takes more than this share of the context window: a
# default of 8,192 output tokens would leave nothing of a 4k local model.
OUTPUT_SHARE = 0.25


def output_reserve(window: int, configured: int | None) -> int | None:
    """Tokens kept free for the answer: ``max_output_tokens``, at most a quarter of
    the window (None when no maximum is configured)."""
    if not configured:
        return None
    return min(configured, max(1, int(window * OUTPUT_SHARE)))


# What memory may put in front of the model every turn, as shares of the window
# (the configured [memory] caps apply when smaller): a 4k model keeps ~3k for work.
RECENT_SHARE = 0.05
PREFIX_SHARE = 0.04


def memory_caps(window: int, recent_tokens: int, prefix_tokens: int) -> tuple[int, int]:
    """The effective (recent, prefix) token caps for a model with ``window`` tokens."""
    return (
        min(recent_tokens, int(window * RECENT_SHARE)),
        min(prefix_tokens, int(window * PREFIX_SHARE)),
    )


def overflow_advice(*, needed: int, limit: int, fixed: int, last: int, window: int) -> str:
    """Why a request does not fit and what would help. ``fixed``: the system prompt,
    memory and tool schemas alone; ``last``: the newest message alone."""
    head = f"The request needs ~{needed} tokens but ~{limit} fit"
    where = f"context_window {window}"
    if fixed >= limit:
        return (
            f"{head} ({where}): the system prompt, memory and tool schemas alone take "
            f"~{fixed}. Raise context_window if the server allows more (`mnemo doctor` "
            "shows what it reports), or use fewer tools (--tools) for this model."
        )
    if fixed + last > limit:
        return (
            f"{head} ({where}): your message alone is ~{last} tokens. "
            "Send a shorter message or attach less."
        )
    return (
        f"{head} ({where}): the conversation has grown. Use /clear to start fresh, or a "
        "model with a larger window."
    )


def cap_tool_output(result: ToolResult, max_chars: int, spill_dir: Path | None) -> ToolResult:
    """Cut an oversized text result to head + tail, saving the whole to a file the
    model can page through with file_read."""
    text = result.text
    if len(text) <= max_chars:
        return result
    head, tail = text[: max_chars * 2 // 3], text[-(max_chars // 3) :]
    where = "the rest is not saved"
    if spill_dir is not None:
        spill_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        path = spill_dir / f"{result.name}-{digest}.txt"
        path.write_text(text, encoding="utf-8")
        where = f"the full output is saved at {path}: read it with file_read (offset/limit) or grep"
    omitted = len(text) - len(head) - len(tail)
    note = f"\n\n[... {omitted} characters omitted of {len(text)}; {where} ...]\n\n"
    images = [p for p in result.content if not isinstance(p, TextPart)]
    return ToolResult(
        result.call_id, result.name, [TextPart(head + note + tail), *images], result.is_error
    )


def _prunable(history: list[Message], keep_recent: int) -> list[int]:
    return [
        i
        for i, m in enumerate(history[: max(0, len(history) - keep_recent)])
        if m.role == "tool" and len(m.text) > len(PRUNED_NOTE) * 2
    ]


def _prune(history: list[Message], i: int) -> None:
    old = history[i]
    history[i] = Message(
        "tool", [TextPart(PRUNED_NOTE)], tool_call_id=old.tool_call_id, name=old.name
    )


def prune_tool_outputs(history: list[Message], keep_recent: int) -> int:
    """Prune every old tool output; returns how many were pruned."""
    indexes = _prunable(history, keep_recent)
    for i in indexes:
        _prune(history, i)
    return len(indexes)


def fit_to_window(
    history: list[Message], measure: Callable[[], int], limit: int, keep_recent: int = 2
) -> tuple[int, int]:
    """Prune the oldest large tool outputs of ``history`` in place (never the last
    ``keep_recent`` messages) until ``measure()`` is within ``limit``. Pruning is
    kept, so later requests share the same prefix. Returns (tokens before, after)."""
    before = after = measure()
    if before <= limit:
        return before, after
    for i in _prunable(history, keep_recent):
        _prune(history, i)
        after = measure()
        if after <= limit:
            break
    return before, after


class TokenMeter:
    """Counts the tokens of a request, caching each message's count so the check
    before every model call costs only the new messages."""

    IMAGE_TOKENS = 85
    MESSAGE_OVERHEAD = 4

    def __init__(self, count_text: Callable[[str], int]) -> None:
        self._count = count_text
        self._messages: dict[int, tuple[Message, int]] = {}
        self._fixed: dict[str, int] = {}

    def _message(self, message: Message) -> int:
        cached = self._messages.get(id(message))
        if cached is not None and cached[0] is message:
            return cached[1]
        n = self.MESSAGE_OVERHEAD + self._count(message.text)
        n += sum(self.IMAGE_TOKENS for p in message.content if not isinstance(p, TextPart))
        for call in message.tool_calls:
            n += self._count(call.name) + self._count(call.raw_arguments or str(call.arguments))
        if message.reasoning:
            n += self._count(message.reasoning)
        self._messages[id(message)] = (message, n)
        return n

    def _fixed_part(self, key: str, text: str) -> int:
        if key not in self._fixed:
            self._fixed[key] = self._count(text)
        return self._fixed[key]

    def measure(self, request: ModelRequest) -> int:
        system = "".join(b.text for b in request.system)
        tools = "".join(f"{t.name}{t.description}{t.parameters}" for t in request.tools)
        total = self._fixed_part(f"s{hash(system)}", system) + self._fixed_part(
            f"t{hash(tools)}", tools
        )
        live = {id(m) for m in request.messages}
        if len(self._messages) > 2 * len(live) + 64:
            self._messages = {k: v for k, v in self._messages.items() if k in live}
        return total + sum(self._message(m) for m in request.messages)
