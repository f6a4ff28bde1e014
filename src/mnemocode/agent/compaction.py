"""Compaction: when a request passes a share of the context window, old tool
outputs are pruned first; if that is not enough, the old turns are replaced by a
structured summary and only the recent turns stay verbatim.

The summary lives in the request's system blocks (after the stable prefix), so
the prefix stays byte-identical and AGENTS.md and pinned memory — which are in
the prefix — survive every compaction untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mnemocode.agent.budget import fit_to_window
from mnemocode.core.errors import MnemoError
from mnemocode.core.events import AgentEvent, Notice
from mnemocode.core.types import Message
from mnemocode.memory.transcript import split_for_compaction

# (old messages, the summary of even older ones) → the new summary text
Summarizer = Callable[[list[Message], str], Awaitable[str]]


@dataclass(slots=True)
class Compactor:
    summarize: Summarizer
    threshold: float = 0.5
    keep_recent_turns: int = 3
    # Told (messages removed from the front of the history, the new summary).
    on_compacted: Callable[[int, str], None] = field(default=lambda _n, _s: None)
    # Told right before a summary is made ("manual" or "auto"): PreCompact hooks.
    before_summary: Callable[[str, Callable[[AgentEvent], None]], Awaitable[None]] | None = None

    async def run(
        self,
        history: list[Message],
        previous: str,
        measure: Callable[[], int],
        window: int,
        emit: Callable[[AgentEvent], None],
        *,
        force: bool = False,
    ) -> tuple[int, str]:
        """Compact ``history`` in place if needed (or ``force``). Returns how many
        messages were replaced and the summary now standing for them."""
        limit = int(window * self.threshold)
        if not force:
            before, after = fit_to_window(history, measure, limit)
            if after <= limit:
                if after < before:
                    emit(Notice("info", f"Pruned old tool outputs: ~{before} → ~{after} tokens."))
                return 0, previous
        split = split_for_compaction(history, self.keep_recent_turns)
        if split <= 0:
            if force:
                emit(Notice("info", "Nothing old enough to compact yet."))
            return 0, previous
        tokens = measure()
        if self.before_summary is not None:
            await self.before_summary("manual" if force else "auto", emit)
        try:
            summary = await self.summarize(history[:split], previous)
        except MnemoError as exc:
            emit(Notice("warning", f"Compaction failed ({exc.one_line()}); history kept."))
            return 0, previous
        del history[:split]
        self.on_compacted(split, summary)
        emit(
            Notice(
                "info",
                f"Compacted the conversation: {split} older messages summarised "
                f"(~{tokens} → ~{measure()} tokens before the summary).",
            )
        )
        return split, summary
