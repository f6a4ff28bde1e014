"""The ranked code map: tree-sitter definitions and references of a tree's files,
ranked for a task by personalised PageRank, rendered to a token budget.

``CodeMap`` is the one entry point. Every call brings the index up to date first
(a stat per file; files whose mtime or size changed are re-read, and re-parsed
when their content changed), so one ``CodeMap`` can serve a whole session.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from mnemocode.agent.codemap.cache import Entry, TagCache
from mnemocode.agent.codemap.graph import MENTIONED, definition_score, rank_files
from mnemocode.agent.codemap.index import BuildStats, Index, build_index
from mnemocode.agent.codemap.render import Item, fit
from mnemocode.agent.codemap.tags import FileTags
from mnemocode.agent.codemap.types import Focus, RankedFile, Selection, Tag

__all__ = ["BuildStats", "CodeMap"]


class CodeMap:
    """The code map of the files under ``root``; tags cached in ``cache_path``."""

    def __init__(
        self,
        root: Path,
        *,
        cache_path: Path | None = None,
        max_file_bytes: int = 1_000_000,
        count: Callable[[str], int] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.max_file_bytes = max_file_bytes
        self._cache = TagCache(cache_path, str(self.root)) if cache_path is not None else None
        self._count = count
        self._entries: dict[str, Entry] = {}
        self._index: Index | None = None

    @property
    def stats(self) -> BuildStats:
        """What the last refresh did (files parsed, re-hashed, reused)."""
        return self._index.stats if self._index is not None else self._refresh().stats

    def selection(self) -> Selection:
        """The files covered, and how many were left out, by reason."""
        return self._refresh().selection

    def rank(self, focus: Focus) -> list[RankedFile]:
        """Every covered file, best first (ties by path), with its definitions best
        first."""
        index = self._refresh()
        return _ranked(index.tags, focus)

    def render(self, focus: Focus, *, tokens: int) -> str:
        """The map under ``tokens`` tokens ("" for 0): the best definitions' lines
        under their file names, best file first."""
        if tokens <= 0:
            return ""
        index = self._refresh()
        ranked = _ranked(index.tags, focus)
        items = _items(ranked, focus)
        definitions = {r.path: _in_line_order(r.definitions) for r in ranked}
        return fit(items, definitions, tokens, self._count or _count_tokens)

    def find(self, name: str) -> tuple[list[Tag], list[Tag]]:
        """Where ``name`` is defined and where it is referenced, by path and line."""
        index = self._refresh()
        definitions: list[Tag] = []
        references: list[Tag] = []
        for path, tags in index.tags.items():
            definitions += [_tag(path, d) for d in tags.definitions if d[0] == name]
            references += [Tag(path, name, "ref", line) for line in tags.references.get(name, ())]
        return definitions, references

    def _refresh(self) -> Index:
        index = build_index(
            self.root, cache=self._cache, known=self._entries, max_file_bytes=self.max_file_bytes
        )
        self._entries = index.entries
        self._index = index
        return index


def _count_tokens(text: str) -> int:
    from mnemocode.llm.tokens import count_tokens  # the llm package is slow to import

    return count_tokens(text)


def _tag(path: str, d: tuple[str, int, int, str, str, tuple[str, ...]]) -> Tag:
    name, line, end_line, category, signature, parents = d
    return Tag(path, name, "def", line, signature, parents, end_line, category)


def _ranked(tags: dict[str, FileTags], focus: Focus) -> list[RankedFile]:
    paths = list(tags)
    ranking = rank_files(paths, tags, focus)
    out: list[RankedFile] = []
    for path, score in ranking.files:
        defs = tags[path].definitions
        scored = sorted(
            (
                -definition_score(
                    ranking.definitions.get((path, d[0]), 0.0),
                    score,
                    len(defs),
                    focus.identifiers.get(d[0], 0.0),
                ),
                d[1],
                i,
            )
            for i, d in enumerate(defs)
        )
        out.append(RankedFile(path, score, tuple(_tag(path, defs[i]) for _, _, i in scored)))
    return out


def _items(ranked: list[RankedFile], focus: Focus) -> list[Item]:
    """Definitions of every file, best first across files; then files without any."""
    scored: list[tuple[float, str, int, Tag | None]] = []
    for r in ranked:
        if not r.definitions:
            scored.append((-r.score, r.path, 0, None))
        for position, tag in enumerate(r.definitions):
            # a file's own order of its definitions holds; files interleave by score
            score = r.score / math.sqrt(position + 1)
            mentioned = focus.identifiers.get(tag.name, 0.0)
            scored.append((-(score * (1.0 + MENTIONED * mentioned)), r.path, tag.line, tag))
    scored.sort(key=lambda s: s[:3])
    return [(path, tag) for _, path, _, tag in scored]


def _in_line_order(tags: tuple[Tag, ...]) -> list[Tag]:
    return sorted(tags, key=lambda t: (t.line, t.name))
