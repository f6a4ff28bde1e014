"""The records memory stores and returns. Plain dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mnemocode.core.types import MemoryHit

EntryKind = Literal["decision", "architecture", "convention", "progress", "task", "fact", "note"]
ENTRY_KINDS: tuple[EntryKind, ...] = (
    "decision",
    "architecture",
    "convention",
    "progress",
    "task",
    "fact",
    "note",
)
# "rejected": considered and turned down; "reversed": taken, then undone later.
# Both stay in memory (marked) so the model does not propose them again blindly.
EntryStatus = Literal["active", "rejected", "reversed", "done"]
ENTRY_STATUSES: tuple[EntryStatus, ...] = ("active", "rejected", "reversed", "done")

# Core (global) memory: user traits by dimension, each with how long (days) an
# unreinforced trait stays relevant — its Ebbinghaus stability to start with.
DIMENSION_STABILITY_DAYS: dict[str, float] = {
    "communication": 60.0,
    "autonomy": 45.0,
    "tools": 90.0,
    "languages": 120.0,
    "workflow": 60.0,
    "preferences": 45.0,
}
DEFAULT_DIMENSION = "preferences"

SearchSource = Literal["summary", "project", "history", "core"]
SearchHit = MemoryHit


@dataclass(slots=True)
class Entry:
    """One item of project memory, addressed by ``key`` (unique per project)."""

    key: str
    kind: EntryKind
    value: str
    rationale: str = ""
    status: EntryStatus = "active"
    pinned: bool = False
    source: str = "user"  # user | judge | mirror
    id: int | None = None
    created: float = 0.0
    updated: float = 0.0
    session_id: str | None = None


@dataclass(slots=True)
class Trait:
    """One item of core memory: something about the user, in a dimension."""

    dimension: str
    key: str
    value: str
    stability_days: float
    reinforcements: int = 0
    last_seen: float = 0.0
    pinned: bool = False
    id: int | None = None
    created: float = 0.0


@dataclass(slots=True)
class SessionInfo:
    id: str
    started: float
    updated: float
    title: str = ""
    model: str = ""
    ended: float | None = None
    turns: int = 0
    messages: int = 0


@dataclass(slots=True)
class Summary:
    """A structured summary of one session (level 0) or of several consolidated
    into a coarser one (level 1)."""

    session_id: str
    started: float
    ended: float
    title: str
    body: str
    level: int = 0
    id: int | None = None
    covers: list[str] = field(default_factory=list)  # session ids (level 1)
