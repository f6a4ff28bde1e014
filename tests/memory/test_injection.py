"""What memory injects: forgotten traits leave the prompt but stay searchable,
reinforcement and pins keep them in, caps hold, recent summaries are newest
first with their dates."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mnemocode.config.settings import MemoryConfig
from mnemocode.llm.tokens import count_tokens
from mnemocode.memory.injection import stamp
from mnemocode.memory.projects import ProjectRegistry
from mnemocode.memory.service import Memory, open_core
from mnemocode.memory.types import Entry, Summary

DAY = 86_400.0
T0 = 1_750_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def memory(tmp_path: Path, isolated_home: Path, clock: Clock) -> Memory:
    project = ProjectRegistry(open_core(isolated_home)).create(tmp_path, "demo")
    return Memory(
        home=isolated_home,
        project=project,
        config=MemoryConfig(prefix_tokens=400, recent_tokens=300),
        count_tokens=count_tokens,
        clock=clock,
    )


def test_a_forgotten_trait_leaves_the_prompt_but_stays_searchable(
    memory: Memory, clock: Clock
) -> None:
    memory.traits.observe("communication", "terse", "Prefers terse answers", at=T0)
    memory.traits.observe("communication", "pinned", "Writes in British English", at=T0)
    pinned = memory.traits.get("communication", "pinned")
    assert pinned is not None and pinned.id is not None
    memory.traits.set_pinned(pinned.id, True)
    stability = 60.0  # the communication dimension's default
    assert "Prefers terse answers" in memory.prefix_text()

    clock.now = T0 + (stability * math.log(10) - 1) * DAY  # score just above 0.1
    assert "Prefers terse answers" in memory.prefix_text()
    clock.now = T0 + (stability * math.log(10) + 1) * DAY  # just below
    prefix = memory.prefix_text()
    assert "Prefers terse answers" not in prefix
    assert "Writes in British English" in prefix  # pinned: never decays
    hits = memory.search("terse answers", sources=("core",))
    assert [h.text for h in hits] == ["communication: Prefers terse answers"]


def test_reinforcement_keeps_a_trait_in_the_prompt_longer(memory: Memory, clock: Clock) -> None:
    for _ in range(3):
        memory.traits.observe("communication", "a", "Likes small commits", at=T0)
    memory.traits.observe("communication", "b", "Likes long explanations", at=T0)
    clock.now = T0 + 150 * DAY
    # a: stability 60 * 1.1^2 = 72.6 days → e^(-150/72.6) = 0.127; b: e^(-2.5) = 0.082
    prefix = memory.prefix_text()
    assert "Likes small commits" in prefix
    assert "Likes long explanations" not in prefix


def test_pinned_entries_are_kept_over_the_cap_and_the_rest_is_counted(memory: Memory) -> None:
    memory.entries.upsert(Entry("keep-me", "convention", "Never touch vendor/", pinned=True))
    for i in range(60):
        memory.entries.upsert(Entry(f"fact-{i:02d}", "fact", f"Detail number {i} " * 4))
    _core, project = memory.prefix_sections()
    assert "Never touch vendor/" in project.text
    assert project.left_out > 0
    assert f"({project.left_out} more entries not shown" in project.text
    assert project.tokens <= 400 + 20  # the cap, give or take the heading


def test_recent_summaries_are_newest_first_with_dates_under_the_cap(memory: Memory) -> None:
    for i in range(12):
        start = T0 + i * DAY
        memory.summaries.add(
            Summary(f"s{i}", start, start + 3600, f"Session {i}", f"Worked on part {i}.")
        )
    section = memory.recent_section()
    text = section.text
    assert section.tokens <= 300
    assert 0 < section.items < 12 and section.left_out == 12 - section.items
    assert text.index("Session 11") < text.index("Session 10")
    assert stamp(T0 + 11 * DAY) in text
    assert "older sessions not shown; memory_search finds them" in text
    assert "Session 0 " not in text and "Session 0\n" not in text
