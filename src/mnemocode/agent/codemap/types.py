"""What the code map is made of and what it answers with. Plain data: the parser,
the cache, the ranking and the renderers all speak these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TagKind = Literal["def", "ref"]


@dataclass(frozen=True, slots=True)
class Tag:
    """One definition or reference of a name in a file (lines 1-based)."""

    path: str  # relative to the map's root, posix
    name: str
    kind: TagKind
    line: int
    # Definitions: the full signature as written (decorators, parameters, return
    # type) and the enclosing definitions' names ("Class.method" has ("Class",)).
    signature: str = ""
    parents: tuple[str, ...] = ()
    end_line: int = 0
    category: str = ""  # class, function, method, variable, … (definitions)


@dataclass(frozen=True, slots=True)
class Focus:
    """What the ranking is personalised toward. Weights are relative (1.0 = normal)."""

    # Files in the conversation or named by the task (relative paths).
    files: dict[str, float] = field(default_factory=dict)
    # Identifiers the task mentions.
    identifiers: dict[str, float] = field(default_factory=dict)
    # Recently changed files (git status / git diff).
    changed: tuple[str, ...] = ()
    # Any other per-file prior (e.g. lexical match of the task against file contents),
    # mixed into the personalisation vector.
    prior: dict[str, float] = field(default_factory=dict)
    text: str = ""  # the task text itself, if any


@dataclass(frozen=True, slots=True)
class RankedFile:
    path: str
    score: float
    definitions: tuple[Tag, ...] = ()  # best first


@dataclass(frozen=True, slots=True)
class Selection:
    """Which files the map covers, and how many were left out and why."""

    files: tuple[str, ...]
    skipped: dict[str, int] = field(default_factory=dict)  # reason → count
    unparsed: tuple[str, ...] = ()  # listed by name only (no grammar)

    def summary(self) -> str:
        """``"120 files (3 by name only) · left out: 40 vendored, 2 minified"``."""
        text = f"{len(self.files):,} files"
        if self.unparsed:
            text += f" ({len(self.unparsed):,} by name only)"
        left = [f"{count:,} {reason}" for reason, count in sorted(self.skipped.items()) if count]
        return text + (" · left out: " + ", ".join(left) if left else "")
