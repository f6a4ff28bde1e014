"""The ranked code map: tree-sitter definitions and references of a tree's files,
ranked for a task by personalised PageRank, rendered to a token budget.

``CodeMap`` is the one entry point. Every call brings the index up to date first
(a stat per file; files whose mtime or size changed are re-read, and re-parsed
when their content changed), so one ``CodeMap`` can serve a whole session.

With a cache file, finished answers are memoised there by the tree's state: the
focus of a task text and the rendered map of a focus, so asking again about an
unchanged tree (a new session on the same task) decodes no tags at all.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import marshal
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from mnemocode.agent.codemap.cache import FORMAT, Entry, TagCache, document_of, tags_of
from mnemocode.agent.codemap.files import MAX_FILES
from mnemocode.agent.codemap.graph import MENTIONED, definition_score, rank_files
from mnemocode.agent.codemap.index import BuildStats, Index, build_index
from mnemocode.agent.codemap.lexical import Document, LexicalIndex, document
from mnemocode.agent.codemap.render import Item, fit
from mnemocode.agent.codemap.tags import FileTags
from mnemocode.agent.codemap.types import Focus, RankedFile, Selection, Tag

__all__ = ["BuildStats", "CodeMap"]
# The modules whose code decides a memoised answer: any change to them is a miss.
_DECIDING = ("__init__", "focus", "lexical", "graph", "render")


class CodeMap:
    """The code map of the files under ``root``; tags cached in ``cache_path``."""

    def __init__(
        self,
        root: Path,
        *,
        cache_path: Path | None = None,
        max_file_bytes: int = 1_000_000,
        max_files: int = MAX_FILES,
        workers: int | None = None,
        count: Callable[[str], int] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.workers = workers  # parser processes (None: as many as pay off; 1: none)
        self._cache = TagCache(cache_path, str(self.root)) if cache_path is not None else None
        self._count = count
        self._entries: dict[str, Entry] = {}
        self._index: Index | None = None
        # decoded per path, with the digest they were decoded for
        self._tags: dict[str, tuple[bytes, FileTags]] = {}
        self._lexical: tuple[bytes, LexicalIndex] | None = None

    @property
    def stats(self) -> BuildStats:
        """What the last refresh did (files parsed, re-hashed, reused); the first
        refresh if there was none yet."""
        return (self._index or self._refresh()).stats

    def selection(self) -> Selection:
        """The files covered, and how many were left out, by reason."""
        return self._refresh().selection

    def prepare(self) -> Selection:
        """Bring the index up to date and decode every file's tags and words, so the
        next answers only rank (a session's background build)."""
        index = self._refresh()
        self._decoded(index)
        self.lexical()
        return index.selection

    def focus(self, text: str, chat_files: Sequence[str] = ()) -> Focus:
        """``focus_from_text`` of ``text`` over this map's files, with its lexical
        index; memoised for the tree's state."""
        from mnemocode.agent.codemap.focus import focus_from_text

        index = self._refresh()
        key = self._key(index, "focus", text, *chat_files)
        found = self._memo_get(key)
        if found is not None:
            files, identifiers, changed, prior, said = marshal.loads(found)
            return Focus(files, identifiers, changed, prior, said)
        focus = focus_from_text(
            text,
            root=self.root,
            files=index.selection.files,
            chat_files=chat_files,
            index=self.lexical(),
        )
        value = (focus.files, focus.identifiers, focus.changed, focus.prior, focus.text)
        self._memo_put(key, marshal.dumps(value))
        return focus

    def lexical(self) -> LexicalIndex:
        """The lexical (BM25F) index of the covered files, from their cached words."""
        index = self._refresh()
        if self._lexical is not None and self._lexical[0] == index.fingerprint:
            return self._lexical[1]
        docs: dict[str, Document] = {}
        for path in index.selection.files:
            doc = document_of(index.entries[path])
            docs[path] = doc if doc is not None else document(path, "")
        self._lexical = (index.fingerprint, LexicalIndex(docs))
        return self._lexical[1]

    def rank(self, focus: Focus) -> list[RankedFile]:
        """Every covered file, best first (ties by path), with its definitions best
        first."""
        return _ranked(self._decoded(self._refresh()), focus)

    def render(self, focus: Focus, *, tokens: int) -> str:
        """The map under ``tokens`` tokens ("" for 0): the best definitions' lines
        under their file names, best file first."""
        if tokens <= 0:
            return ""
        index = self._refresh()
        key = None
        if self._count is None:  # a counter passed in has no name to key on
            key = self._key(index, "render", repr(focus), str(tokens), _counter())
            found = self._memo_get(key)
            if found is not None:
                return found.decode("utf-8", "surrogatepass")
        tags = self._decoded(index)
        items = _best_items(tags, focus, tokens)  # fit never looks past ``tokens`` items
        shown = {path for path, _ in items}
        definitions = {
            path: _in_line_order(tuple(_tag(path, d) for d in tags[path].definitions))
            for path in shown
        }
        text = fit(items, definitions, tokens, self._count or _count_tokens)
        if key is not None:
            self._memo_put(key, text.encode("utf-8", "surrogatepass"))
        return text

    def find(self, name: str) -> tuple[list[Tag], list[Tag]]:
        """Where ``name`` is defined and where it is referenced, by path and line."""
        definitions: list[Tag] = []
        references: list[Tag] = []
        for path, tags in self._decoded(self._refresh()).items():
            definitions += [_tag(path, d) for d in tags.definitions if d[0] == name]
            references += [Tag(path, name, "ref", line) for line in tags.references.get(name, ())]
        return definitions, references

    def _refresh(self) -> Index:
        index = build_index(
            self.root,
            cache=self._cache,
            known=self._entries,
            max_file_bytes=self.max_file_bytes,
            max_files=self.max_files,
            workers=self.workers,
        )
        self._entries = index.entries
        self._index = index
        return index

    def _decoded(self, index: Index) -> dict[str, FileTags]:
        """The tags of every covered file, in path order; each decoded once."""
        out: dict[str, FileTags] = {}
        known = self._tags
        for path in index.selection.files:
            entry = index.entries[path]
            held = known.get(path)
            if held is None or held[0] != entry.digest:
                held = known[path] = (entry.digest, tags_of(entry))
            out[path] = held[1]
        for gone in set(known) - set(out):
            del known[gone]
        return out

    def _key(self, index: Index, kind: str, *parts: str) -> bytes:
        h = hashlib.blake2b(digest_size=20)
        h.update(_code_stamp() + index.fingerprint + kind.encode())
        for part in parts:
            h.update(b"\0" + part.encode("utf-8", "surrogatepass"))
        return h.digest()

    def _memo_get(self, key: bytes) -> bytes | None:
        return self._cache.memo_get(key) if self._cache is not None else None

    def _memo_put(self, key: bytes, value: bytes) -> None:
        if self._cache is not None:
            self._cache.memo_put(key, value)


@functools.cache
def _code_stamp() -> bytes:
    h = hashlib.blake2b(FORMAT.encode(), digest_size=16)
    here = Path(__file__).parent
    for name in _DECIDING:
        try:
            h.update((here / f"{name}.py").read_bytes())
        except OSError:  # no source files (a frozen build): the version decides
            h.update(name.encode())
    return h.digest()


@functools.cache
def _counter() -> str:
    """Which counter ``_count_tokens`` uses, without loading it (a memo key)."""
    available = all(importlib.util.find_spec(m) is not None for m in ("tiktoken", "bpe_openai"))
    return "o200k_base" if available else "chars/4"


def _count_tokens(text: str) -> int:
    from mnemocode.llm.tokens import count_tokens  # the llm package is slow to import

    return count_tokens(text)


def _tag(path: str, d: tuple[str, int, int, str, str, tuple[str, ...]]) -> Tag:
    name, line, end_line, category, signature, parents = d
    return Tag(path, name, "def", line, signature, parents, end_line, category)


def _ranked(tags: dict[str, FileTags], focus: Focus) -> list[RankedFile]:
    out: list[RankedFile] = []
    for path, score, order in _ranking(tags, focus):
        defs = tags[path].definitions
        out.append(RankedFile(path, score, tuple(_tag(path, defs[i]) for i in order)))
    return out


def _ranking(tags: dict[str, FileTags], focus: Focus) -> list[tuple[str, float, list[int]]]:
    """Every file best first with its score, and its definitions' indices best first."""
    ranking = rank_files(list(tags), tags, focus)
    out: list[tuple[str, float, list[int]]] = []
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
        out.append((path, score, [i for _, _, i in scored]))
    return out


def _best_items(tags: dict[str, FileTags], focus: Focus, limit: int) -> list[Item]:
    """The first ``limit`` definitions of every file, best first across files (a
    file's own order holds; files interleave by score), then files without any; only
    those ``limit`` become tags."""
    scored: list[tuple[float, str, int, int, int, int]] = []
    for rank, (path, score, order) in enumerate(_ranking(tags, focus)):
        if not order:
            scored.append((-score, path, 0, rank, 0, -1))
        defs = tags[path].definitions
        for position, i in enumerate(order):
            # a file's own order of its definitions holds; files interleave by score
            mentioned = focus.identifiers.get(defs[i][0], 0.0)
            value = score / math.sqrt(position + 1) * (1.0 + MENTIONED * mentioned)
            scored.append((-value, path, defs[i][1], rank, position, i))
    scored.sort()  # ties: the file's rank, then the definition's
    return [
        (path, None if i < 0 else _tag(path, tags[path].definitions[i]))
        for _, path, _, _, _, i in scored[:limit]
    ]


def _in_line_order(tags: tuple[Tag, ...]) -> list[Tag]:
    return sorted(tags, key=lambda t: (t.line, t.name))
