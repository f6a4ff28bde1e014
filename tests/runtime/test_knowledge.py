"""Project memory through the runtime's ``KnowledgeBase``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mnemocode.config.settings import MemoryConfig
from mnemocode.llm.tokens import count_tokens
from mnemocode.memory.knowledge import MemoryKnowledgeBase
from mnemocode.memory.service import Memory, open_registry
from mnemocode.runtime.protocols import KnowledgeBase


@pytest.fixture
def memory(tmp_path: Path, isolated_home: Path) -> Iterator[Memory]:
    work = tmp_path / "shop"
    work.mkdir()
    registry = open_registry(isolated_home)
    project = registry.create(work)
    registry.conn.close()
    opened = Memory(
        home=isolated_home, project=project, config=MemoryConfig(), count_tokens=count_tokens
    )
    yield opened
    opened.close()


async def test_what_is_added_is_found_as_knowledge(memory: Memory) -> None:
    knowledge: KnowledgeBase = MemoryKnowledgeBase(memory)
    await knowledge.add("payments", "Payments go through the Stripe adapter in billing/")
    await knowledge.add("db", "We chose PostgreSQL over MySQL for JSONB", kind="decision")
    await knowledge.add("", "Deploys happen on Tuesdays only")

    [hit] = await knowledge.search("stripe payments")
    assert hit.ref == "entry:payments" and hit.source == "project"
    assert "Stripe adapter" in hit.text and hit.when > 0
    assert memory.entries.get("db") is not None
    assert memory.entries.get("db").kind == "decision"  # type: ignore[union-attr]
    assert any("Tuesdays" in e.value and e.kind == "note" for e in memory.entries.all())
    assert [h.ref for h in await knowledge.search("PostgreSQL", limit=1)] == ["entry:db"]


async def test_adding_again_replaces_and_unknown_kinds_are_refused(memory: Memory) -> None:
    knowledge = MemoryKnowledgeBase(memory)
    await knowledge.add("style", "tabs")
    await knowledge.add("style", "four spaces, never tabs", kind="convention")
    entry = memory.entries.get("style")
    assert entry is not None and (entry.kind, entry.value) == (
        "convention",
        "four spaces, never tabs",
    )
    with pytest.raises(ValueError, match="unknown kind 'gossip'"):
        await knowledge.add("x", "y", kind="gossip")
    assert await knowledge.search("nothing matches this") == []
