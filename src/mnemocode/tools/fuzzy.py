"""Where in a text does a block of lines most nearly appear? (The edit engine's
last matching level, and its "closest candidates" when nothing matches.)

Two passes keep this fast on big files and big blocks:

1. every window of ``n - 1``, ``n`` or ``n + 1`` lines gets a cheap score — the
   share of the block's lines it contains (a sliding multiset count, O(lines));
2. the few best distinct places (plus every window, when the text and block are
   small enough to afford it) get difflib's character-level ratio.

Lines are compared without indentation; callers pass them already normalised.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_PLACES = 5
# Character-level scan of every window when lines × block chars stays under this.
FULL_SCAN_BUDGET = 300_000
# In that scan, skip windows whose ratio cannot reach this (difflib's upper bounds):
# they could neither match nor tie with a match.
PRUNE_BELOW = 0.75


@dataclass(frozen=True, slots=True)
class Window:
    start: int  # 0-based index of the first line
    size: int
    score: float

    @property
    def end(self) -> int:
        return self.start + self.size

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


def similar_windows(
    lines: Sequence[str], block: Sequence[str], max_places: int = MAX_PLACES
) -> list[Window]:
    """The places most similar to ``block``, best first, none overlapping another.

    Scores are difflib ratios, except for places sharing under half of the block's
    lines, which keep that share as a rough score (enough to show them as hints)."""
    n, total = len(block), len(lines)
    if n == 0 or total == 0:
        return []
    sizes = sorted({max(1, n - 1), n, n + 1} & set(range(1, total + 1)))
    target = "\n".join(block)
    scorer = _CharScorer(lines, target)
    coarse = _distinct(_line_overlap(lines, block, sizes))[:max_places]
    if coarse:
        best = coarse[0]
        for start in (best.start - 1, best.start, best.start + 1):
            for size in sizes:
                scorer.score(start, size)
        for w in coarse[1:]:
            if w.score >= 0.5:
                scorer.score(w.start, w.size)
            else:
                scorer.scored.append(w)
    if total * len(target) <= FULL_SCAN_BUDGET:
        for start in range(total):
            for size in sizes:
                scorer.score(start, size, prune_below=PRUNE_BELOW)
    return _distinct(scorer.scored)[:max_places]


class _CharScorer:
    def __init__(self, lines: Sequence[str], target: str) -> None:
        self.lines = lines
        self.matcher = difflib.SequenceMatcher(None, autojunk=False)
        self.matcher.set_seq2(target)  # difflib caches what it learns about seq2
        self.scored: list[Window] = []
        self._done: set[tuple[int, int]] = set()

    def score(self, start: int, size: int, prune_below: float = 0.0) -> None:
        if start < 0 or start + size > len(self.lines) or (start, size) in self._done:
            return
        self._done.add((start, size))
        self.matcher.set_seq1("\n".join(self.lines[start : start + size]))
        if prune_below and (
            self.matcher.real_quick_ratio() < prune_below
            or self.matcher.quick_ratio() < prune_below
        ):
            return
        self.scored.append(Window(start, size, self.matcher.ratio()))


def _line_overlap(lines: Sequence[str], block: Sequence[str], sizes: Sequence[int]) -> list[Window]:
    """For every window: |window lines ∩ block lines| / max(size, n), as multisets."""
    want = Counter(block)
    n = len(block)
    out: list[Window] = []
    for size in sizes:
        have: Counter[str] = Counter()
        common = 0
        for j, line in enumerate(lines):
            if have[line] < want[line]:
                common += 1
            have[line] += 1
            if j >= size:
                gone = lines[j - size]
                have[gone] -= 1
                if have[gone] < want[gone]:
                    common -= 1
            if j >= size - 1 and common:
                out.append(Window(j - size + 1, size, common / max(size, n)))
    return out


def _distinct(windows: Iterable[Window]) -> list[Window]:
    """Best first, dropping every window that overlaps a better one."""
    chosen: list[Window] = []
    for w in sorted(windows, key=lambda w: (-w.score, w.start, w.size)):
        if not any(w.overlaps(c) for c in chosen):
            chosen.append(w)
    return chosen
