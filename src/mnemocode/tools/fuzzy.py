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
# Blocks of at most this many lines are compared with every window, not only with
# the places that share whole lines with them (one typo per line defeats those).
SHORT_BLOCK_LINES = 3
MAX_FULL_SCAN_LINES = 20_000
# In that scan, windows whose similarity cannot reach this (by difflib's upper
# bounds) could neither match nor tie with a match: only the best few of them are
# scored, as hints for the no-match message.
PRUNE_BELOW = 0.75
HINTS_SCANNED = 10
# A run of differing lines longer than this (in chars, both sides) counts as no match.
MAX_CHUNK_CHARS = 2_000


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

    Scores approximate difflib's character ratio; places sharing under half of the
    block's lines keep that share as a rough score (enough to show them as hints)."""
    n, total = len(block), len(lines)
    if n == 0 or total == 0:
        return []
    sizes = sorted({max(1, n - 1), n, n + 1} & set(range(1, total + 1)))
    scorer = _Scorer(lines, block)
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
    if n <= SHORT_BLOCK_LINES and total <= MAX_FULL_SCAN_LINES:
        bounds = sorted(
            (
                (scorer.upper_bound(start, size), start, size)
                for start in range(total)
                for size in sizes
            ),
            reverse=True,
        )
        for rank, (bound, start, size) in enumerate(bounds):
            if bound < PRUNE_BELOW and rank >= HINTS_SCANNED:
                break
            scorer.score(start, size)
    return _distinct(scorer.scored)[:max_places]


class _Scorer:
    def __init__(self, lines: Sequence[str], block: Sequence[str]) -> None:
        self.lines = lines
        self.block = list(block)
        self.block_chars = sum(len(line) + 1 for line in block)
        self.scored: list[Window] = []
        self._done: set[tuple[int, int]] = set()
        self._quick = difflib.SequenceMatcher(None, autojunk=False)
        self._quick.set_seq2("\n".join(block))

    def score(self, start: int, size: int) -> None:
        if start < 0 or start + size > len(self.lines) or (start, size) in self._done:
            return
        self._done.add((start, size))
        self.scored.append(Window(start, size, self.similarity(self.lines[start : start + size])))

    def upper_bound(self, start: int, size: int) -> float:
        """difflib's cheap upper bounds of the character ratio (0 when out of range)."""
        if start + size > len(self.lines):
            return 0.0
        self._quick.set_seq1("\n".join(self.lines[start : start + size]))
        bound = self._quick.real_quick_ratio()
        return min(bound, self._quick.quick_ratio()) if bound >= 0.4 else bound

    def similarity(self, window: Sequence[str]) -> float:
        """difflib's ratio 2·M/T, with M counted line-wise: equal lines match
        whole, differing lines by their own character ratio."""
        total = self.block_chars + sum(len(line) + 1 for line in window)
        matched = 0.0
        lines = difflib.SequenceMatcher(None, window, self.block, autojunk=False)
        for tag, i1, i2, j1, j2 in lines.get_opcodes():
            if tag == "equal":
                matched += 2 * sum(len(line) + 1 for line in window[i1:i2])
            elif tag == "replace":
                matched += _chunk_matched(window[i1:i2], self.block[j1:j2])
        return min(1.0, matched / total) if total else 0.0


def _chunk_matched(have: Sequence[str], want: Sequence[str]) -> float:
    """Matched characters (both sides) between two runs of differing lines."""
    pairs = list(zip(have, want, strict=True)) if len(have) == len(want) else []
    if not pairs:
        a, b = "\n".join(have), "\n".join(want)
        if len(a) + len(b) > MAX_CHUNK_CHARS:
            return 0.0
        pairs = [(a, b)]
    matched = 0.0
    for a, b in pairs:
        ratio = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a or b else 1.0
        matched += ratio * (len(a) + len(b)) + (2 if len(have) == len(want) else 0)
    return matched


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
