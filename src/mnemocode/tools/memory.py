"""``memory_search``: what mnemo remembers from earlier sessions of this project
and about the user."""

from __future__ import annotations

from datetime import datetime

from mnemocode.core.errors import ToolError
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import MemoryHit
from mnemocode.tools.base import tool

_SOURCES = {"project", "summary", "history", "core"}
_ORIGIN = {"project": "project memory", "summary": "session summary", "core": "about the user"}


def describe_hit(hit: MemoryHit) -> str:
    when = datetime.fromtimestamp(hit.when).astimezone().strftime("%Y-%m-%d %a %H:%M")
    origin = _ORIGIN.get(hit.source, f"transcript of session {hit.session_id}")
    return f"[{when}] {origin} ({hit.ref})\n{hit.text.strip()}"


@tool(read_only=True)
async def memory_search(
    ctx: ToolContext, query: str, sources: list[str] | None = None, limit: int = 8
) -> str:
    """Search memory: decisions, past sessions and transcripts, user habits; "yesterday" works.

    Args:
        query: Words to look for, optionally with a date phrase.
        sources: Limit to some of: project, summary, history, core.
        limit: Most results to return (1-30).
    """
    if ctx.memory is None:
        raise ToolError("memory is turned off for this session ([memory] enabled = false)")
    unknown = set(sources or ()) - _SOURCES
    if unknown:
        raise ToolError(f"unknown source(s) {sorted(unknown)}; use {sorted(_SOURCES)}")
    hits = ctx.memory.search(
        query, limit=max(1, min(limit, 30)), sources=tuple(sources) if sources else None
    )
    if not hits:
        return f"Nothing in memory matches {query!r}."
    return "\n\n".join(describe_hit(h) for h in hits)
