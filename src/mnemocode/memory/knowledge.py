"""``MemoryKnowledgeBase``: a project's memory as the runtime's ``KnowledgeBase``,
so code that only knows the runtime (remote workers, tool hosts) can search it and
add to it."""

from __future__ import annotations

import asyncio
from typing import cast, get_args

from mnemocode.memory.service import Memory
from mnemocode.memory.types import Entry, EntryKind
from mnemocode.runtime.protocols import Knowledge

KINDS: tuple[str, ...] = get_args(EntryKind)


class MemoryKnowledgeBase:
    """Searches and notes go to ``memory`` in a worker thread (search may embed the
    query), one at a time: the memory's SQLite connections are shared."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self._lock = asyncio.Lock()

    async def search(self, query: str, *, limit: int = 10) -> list[Knowledge]:
        async with self._lock:
            hits = await asyncio.to_thread(self.memory.search, query, limit=limit)
        return [Knowledge(hit.ref, hit.text, hit.score, hit.when, hit.source) for hit in hits]

    async def add(self, key: str, text: str, *, kind: str = "note") -> None:
        """Add (or replace) the project entry ``key``; an empty key gets one made
        from the text. ``kind`` is one of the memory's entry kinds."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
        async with self._lock:
            if kind == "note":
                await asyncio.to_thread(self.memory.remember, text, key=key or None)
                return
            entry = Entry(key or _key_for(self.memory, text), cast(EntryKind, kind), text)
            await asyncio.to_thread(self.memory.entries.upsert, entry)


def _key_for(memory: Memory, text: str) -> str:
    from mnemocode.memory.mirror import derive_key

    return derive_key(text, {e.key for e in memory.entries.all()})
