"""BM25F over a tree's files: a per-file prior for the ranking, from the task's words.

Each file is three fields: its path's words, the names it defines (a language-agnostic
``def``/``class``/``func``/``fn``… pattern) and its whole text. Identifiers are split
into their parts (``getHTTPResponse_code`` → gethttpresponse_code, get, http,
response, code) so prose words meet code names. Tokenised files are kept in a
``TermCache`` keyed by path, mtime and size, so a second index over a mostly
unchanged tree reads only the files that changed.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_DEFINITION = re.compile(
    r"^[ \t]*(?:export[ \t]+|pub(?:\([a-z]+\))?[ \t]+|async[ \t]+|static[ \t]+|public[ \t]+)*"
    r"(?:def|class|function|func|fn|struct|enum|trait|interface|type|module|object|impl)"
    r"[ \t]+(?:\([^)\n]*\)[ \t]*)?([A-Za-z_][A-Za-z0-9_]*)",
    re.MULTILINE,
)
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "not",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "then",
        "this",
        "to",
        "was",
        "were",
        "when",
        "which",
        "will",
        "with",
        "self",
        "none",
        "true",
        "false",
        "def",
        "return",
        "import",
    ]
)

# BM25F: per-field weights and length normalisation, one saturation.
FIELD_WEIGHTS = (3.0, 2.0, 1.0)  # path, definitions, body
FIELD_B = (0.3, 0.5, 0.75)
K1 = 1.2


@lru_cache(maxsize=1 << 17)  # the same names recur across a tree's files
def expand(token: str) -> list[str]:
    """A token's terms: itself lowercased, and its parts when it has several (a shared
    list: not to be changed)."""
    lower = token.lower()
    parts = [p.lower() for chunk in token.split("_") for p in _PART.findall(chunk)]
    terms = [lower] if len(lower) > 1 and lower not in _STOP else []
    if len(parts) > 1:
        terms += [p for p in parts if len(p) > 1 and p not in _STOP and p != lower]
    return terms


def term_counts(text: str) -> Counter[str]:
    """The terms of ``text`` with their counts (each distinct token expanded once)."""
    counts: Counter[str] = Counter()
    for token, n in Counter(_TOKEN.findall(text)).items():
        for term in expand(token):
            counts[term] += n
    return counts


def query_terms(text: str) -> dict[str, float]:
    """Query weights: a term repeated in the task counts more, with a square root."""
    return {t: math.sqrt(n) for t, n in term_counts(text).items()}


def path_terms(path: str) -> Counter[str]:
    words = re.split(r"[/\\.\-]+", path)
    counts: Counter[str] = Counter()
    for word in words[:-1] if len(words) > 1 else words:  # the extension says little
        for term in expand(word):
            counts[term] += 1
    return counts


@dataclass(frozen=True, slots=True)
class Document:
    """One file, tokenised: its three fields' counts and the exact names it defines."""

    fields: tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]]
    lengths: tuple[int, int, int]
    defines: frozenset[str]


def document(path: str, text: str) -> Document:
    names = _DEFINITION.findall(text)
    defs: Counter[str] = Counter()
    for name in names:
        for term in expand(name):
            defs[term] += 1
    body = term_counts(text)
    fields = (path_terms(path), defs, body)
    lengths = (sum(fields[0].values()), sum(defs.values()), sum(body.values()))
    return Document(fields=fields, lengths=lengths, defines=frozenset(names))


class TermCache:
    """Tokenised files by (absolute path, mtime_ns, size); least recently used dropped."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: OrderedDict[tuple[str, int, int], Document] = OrderedDict()
        self._max = max_entries

    def get(self, key: tuple[str, int, int]) -> Document | None:
        doc = self._entries.get(key)
        if doc is not None:
            self._entries.move_to_end(key)
        return doc

    def put(self, key: tuple[str, int, int], doc: Document) -> None:
        self._entries[key] = doc
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


DEFAULT_CACHE = TermCache()


class LexicalIndex:
    """BM25F scores of every file for a query, and which files define a name."""

    def __init__(self, docs: Mapping[str, Document]) -> None:
        self.paths: tuple[str, ...] = tuple(sorted(docs))
        self._docs = [docs[p] for p in self.paths]
        n = max(1, len(self._docs))
        self._avg = tuple(max(1.0, sum(d.lengths[f] for d in self._docs) / n) for f in range(3))
        self._definers: dict[str, list[str]] = {}
        for path, doc in zip(self.paths, self._docs, strict=True):
            for name in doc.defines:
                self._definers.setdefault(name, []).append(path)

    @classmethod
    def build(
        cls,
        root: Path,
        files: Iterable[str],
        *,
        max_file_bytes: int = 1_000_000,
        cache: TermCache | None = None,
    ) -> LexicalIndex:
        """Index ``files`` (relative to ``root``); unreadable or too large ones are
        indexed by their path only."""
        cache = DEFAULT_CACHE if cache is None else cache
        docs: dict[str, Document] = {}
        for rel in files:
            full = os.path.join(root, rel)
            try:
                st = os.stat(full)
            except OSError:
                docs[rel] = document(rel, "")
                continue
            key = (full, st.st_mtime_ns, st.st_size)
            doc = cache.get(key)
            if doc is None:
                text = ""
                if st.st_size <= max_file_bytes:
                    try:
                        with open(full, encoding="utf-8", errors="replace") as f:
                            text = f.read()
                    except OSError:
                        text = ""
                doc = document(rel, text)
                cache.put(key, doc)
            docs[rel] = doc
        return cls(docs)

    def defining(self, name: str) -> Sequence[str]:
        """The files that define ``name`` (exact, case-sensitive), sorted."""
        return self._definers.get(name, ())

    def scores(self, query: str | Mapping[str, float]) -> dict[str, float]:
        """BM25F score of each file with a positive score (the text or term weights)."""
        weights = query_terms(query) if isinstance(query, str) else dict(query)
        if not weights or not self._docs:
            return {}
        n = len(self._docs)
        df: Counter[str] = Counter()
        for doc in self._docs:
            for term in weights:
                if term in doc.fields[2] or term in doc.fields[0] or term in doc.fields[1]:
                    df[term] += 1
        idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in weights if df[t]}
        out: dict[str, float] = {}
        for path, doc in zip(self.paths, self._docs, strict=True):
            norms = [1 - FIELD_B[f] + FIELD_B[f] * doc.lengths[f] / self._avg[f] for f in range(3)]
            total = 0.0
            for term, qw in weights.items():
                w = idf.get(term)
                if w is None:
                    continue
                tf = 0.0
                for f in range(3):
                    count = doc.fields[f].get(term)
                    if count:
                        tf += FIELD_WEIGHTS[f] * count / norms[f]
                if tf:
                    total += qw * w * tf / (K1 + tf)
            if total > 0:
                out[path] = total
        return out
