"""The map as text: the best-ranked definitions that fit a token budget, under their
file names, best file first. Each definition shows its signature lines with their
line numbers, indented by nesting, with the enclosing definitions' lines above it;
``⋮`` stands for the code left out."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

from mnemocode.agent.codemap.types import Tag

ELIDED = "⋮"
INDENT = "    "
DECORATION = ("@", "#[", "[")  # lines above a definition's own
# A ranked item: a definition, or a file with none (shown by name).
Item = tuple[str, Tag | None]


def render_items(items: Sequence[Item], definitions: Mapping[str, Sequence[Tag]]) -> str:
    """``items`` grouped by file in order of first appearance; ``definitions`` holds
    every definition of each file (for the enclosing ones)."""
    order: list[str] = []
    chosen: dict[str, list[Tag]] = {}
    for path, tag in items:
        if path not in chosen:
            order.append(path)
            chosen[path] = []
        if tag is not None:
            chosen[path].append(tag)
    blocks: list[str] = []
    for path in order:
        tags = _with_parents(chosen[path], definitions.get(path, ()))
        if not tags:
            blocks.append(f"{path}\n")
            continue
        rows = [row for tag in tags for row in _rows(tag)]
        width = len(str(max(number for number, _ in rows)))
        lines = [f"{path}:"]
        for tag in tags:
            lines.append(ELIDED)
            for number, text in _rows(tag):
                label = str(number).rjust(width) if number else " " * width
                lines.append(f"{label}│{text}")
        lines.append(ELIDED)
        blocks.append("\n".join(lines) + "\n")
    return "".join(blocks)


def fit(
    items: Sequence[Item],
    definitions: Mapping[str, Sequence[Tag]],
    tokens: int,
    count: Callable[[str], int],
) -> str:
    """The longest prefix of ``items`` whose map fits ``tokens`` (binary search)."""
    if tokens <= 0 or not items:
        return ""
    lo, hi = 0, min(len(items), tokens)
    best = ""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        text = render_items(items[:mid], definitions)
        if count(text) <= tokens:
            lo, best = mid, text
        else:
            hi = mid - 1
    return best if lo else ""


def _with_parents(chosen: list[Tag], every: Sequence[Tag]) -> list[Tag]:
    """``chosen`` and the definitions enclosing each, in line order."""
    keep = {(t.line, t.name): t for t in chosen}
    for tag in chosen:
        for depth in range(len(tag.parents), 0, -1):
            parent = _enclosing(tag, depth, every)
            if parent is not None:
                keep.setdefault((parent.line, parent.name), parent)
    return [keep[key] for key in sorted(keep)]


def _enclosing(tag: Tag, depth: int, every: Sequence[Tag]) -> Tag | None:
    name, outer = tag.parents[depth - 1], tag.parents[: depth - 1]
    found = None
    for other in every:
        if other.line > tag.line:
            break
        if other.name == name and other.parents == outer and other.end_line >= tag.line:
            found = other
    return found


@functools.lru_cache(maxsize=8192)  # fit renders the same definitions many times
def _rows(tag: Tag) -> tuple[tuple[int, str], ...]:
    """The signature's lines, numbered (the name's line is ``tag.line``), indented."""
    lines = (tag.signature or tag.name).split("\n")
    at = len(lines) - 1
    for i, line in enumerate(lines):
        if not line.lstrip().startswith(DECORATION) and _has_word(line, tag.name):
            at = i
            break
    pad = INDENT * len(tag.parents)
    first = tag.line - at
    return tuple((first + i if first + i > 0 else 0, pad + line) for i, line in enumerate(lines))


def _has_word(line: str, name: str) -> bool:
    """``name`` in ``line`` as a whole word (no word character or ``$`` either side;
    a word character as the regex ``\\w`` has it)."""
    start = line.find(name)
    while start >= 0:
        end = start + len(name)
        before = line[start - 1] if start > 0 else " "
        after = line[end] if end < len(line) else " "
        if not (before.isalnum() or before in "_$") and not (after.isalnum() or after in "_$"):
            return True
        start = line.find(name, start + 1)
    return False
