"""``memory_search``: one query over session summaries, project memory, past
transcripts and the user's traits.

Ranking: FTS5 BM25 per source (the Porter-stemmed index does the matching, in
SQLite), normalised to the best hit of the query, weighted by source, times a
gentle recency boost. A date phrase in the query ("yesterday", "last week",
"in March") becomes a time filter; a query that is only a date phrase lists
what happened then. With the optional embeddings extra, the BM25 ranking is
fused with a vector ranking (reciprocal rank fusion).
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mnemocode.memory.dates import DateRange, parse_date_range
from mnemocode.memory.entries import EntryStore
from mnemocode.memory.summaries import SummaryStore
from mnemocode.memory.traits import TraitStore
from mnemocode.memory.types import SearchHit

SOURCES = ("project", "summary", "history", "core")
SOURCE_WEIGHT = {"project": 1.15, "summary": 1.0, "history": 0.9, "core": 1.0}
HISTORY_TEXT_WEIGHT, HISTORY_CONTEXT_WEIGHT = 1.0, 0.3
SNIPPET_CHARS = 600

_STOPWORD_TEXT = """
a an the of to in on at for and or is are was were be been being did do does done
what when where who whom whose which why how with by from as that this these those
it its into about after before than then there their they them he she his her hers i
you we our ours your yours my me us have has had having will would could should can
may might must shall not no yes so if but also just any some all each other such
only own same too very s t don now up down out over under again further once here
more most
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """The words of a query worth matching: lower-cased, stopwords out, deduplicated."""
    seen: dict[str, None] = {}
    for raw in _WORD.findall(text.lower()):
        word = raw.replace("'", "")
        if word and word not in _STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)


def fts_query(terms: list[str]) -> str:
    """An FTS5 expression matching any of ``terms`` (quoted: no operator injection)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


@dataclass(slots=True)
class SearchOptions:
    recency_weight: float = 0.2
    recency_half_life_days: float = 30.0
    per_source: int = 50


class MemorySearch:
    """Searches one project database and, optionally, the global core database."""

    def __init__(
        self,
        project: sqlite3.Connection,
        core: sqlite3.Connection | None = None,
        *,
        options: SearchOptions | None = None,
        clock: Callable[[], float] = time.time,
        vector_search: Callable[[str, int], list[SearchHit]] | None = None,
    ) -> None:
        self.project = project
        self.core = core
        self.options = options or SearchOptions()
        self.clock = clock
        self.vector_search = vector_search  # query → hits, best first (embeddings extra)

    def search(
        self, query: str, *, limit: int = 10, sources: tuple[str, ...] | None = None
    ) -> list[SearchHit]:
        wanted = tuple(s for s in (sources or SOURCES) if s in SOURCES)
        now = self.clock()
        span, rest = parse_date_range(query, datetime.fromtimestamp(now).astimezone())
        terms = query_terms(rest)
        if not terms:
            return self._in_range(span, limit, wanted) if span else []
        match = fts_query(terms)
        hits: list[SearchHit] = []
        n = self.options.per_source if span is None else self.options.per_source * 4
        if "project" in wanted:
            hits += self._project(match, n)
        if "summary" in wanted:
            hits += self._summaries(match, n)
        if "history" in wanted:
            hits += self._history(match, n)
        if "core" in wanted and self.core is not None:
            hits += self._core(match, n)
        if span is not None:
            hits = [h for h in hits if span.start <= h.when < span.end]
        ranked = self._rank(hits, now)
        if self.vector_search is not None:
            ranked = self._fuse(ranked, rest, limit, span, wanted)
        return ranked[:limit]

    # ---- per source ----------------------------------------------------------

    def _project(self, match: str, n: int) -> list[SearchHit]:
        hits = []
        for entry, score in EntryStore(self.project).search(match, n):
            status = "" if entry.status == "active" else f" [{entry.status}]"
            why = f" — why: {entry.rationale}" if entry.rationale else ""
            text = f"{entry.kind} {entry.key}{status}: {entry.value}{why}"
            hits.append(SearchHit("project", f"entry:{entry.key}", text, -score, entry.updated))
        return hits

    def _summaries(self, match: str, n: int) -> list[SearchHit]:
        return [
            SearchHit(
                "summary",
                f"summary:{s.id}",
                f"{s.title}\n{s.body}"[: SNIPPET_CHARS * 2],
                -score,
                s.ended,
                s.session_id,
            )
            for s, score in SummaryStore(self.project).search(match, n)
        ]

    def _history(self, match: str, n: int) -> list[SearchHit]:
        rows = self.project.execute(
            f"""
            SELECT m.session_id, m.seq, m.role, m.text, m.created,
                   bm25(messages_fts, {HISTORY_TEXT_WEIGHT}, {HISTORY_CONTEXT_WEIGHT}) AS score
            FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
            WHERE messages_fts MATCH ? ORDER BY score LIMIT ?
            """,
            (match, n),
        ).fetchall()
        return [
            SearchHit(
                "history",
                f"msg:{r['session_id']}:{r['seq']}",
                f"{r['role']}: {r['text'][:SNIPPET_CHARS]}",
                -r["score"],
                r["created"],
                r["session_id"],
            )
            for r in rows
        ]

    def _core(self, match: str, n: int) -> list[SearchHit]:
        assert self.core is not None
        return [
            SearchHit("core", f"trait:{t.id}", f"{t.dimension}: {t.value}", -score, t.last_seen)
            for t, score in TraitStore(self.core).search(match, n)
        ]

    def _in_range(self, span: DateRange, limit: int, wanted: tuple[str, ...]) -> list[SearchHit]:
        """No words besides the date: what happened then, newest first."""
        hits: list[SearchHit] = []
        if "summary" in wanted:
            for s in SummaryStore(self.project).current():
                if s.ended >= span.start and s.started < span.end:
                    hits.append(
                        SearchHit(
                            "summary",
                            f"summary:{s.id}",
                            f"{s.title}\n{s.body}",
                            1.0,
                            s.ended,
                            s.session_id,
                        )
                    )
        if "history" in wanted and len(hits) < limit:
            rows = self.project.execute(
                "SELECT session_id, seq, role, text, created FROM messages WHERE created >= ? "
                "AND created < ? AND role = 'user' ORDER BY created DESC LIMIT ?",
                (span.start, span.end, limit - len(hits)),
            ).fetchall()
            hits += [
                SearchHit(
                    "history",
                    f"msg:{r['session_id']}:{r['seq']}",
                    f"{r['role']}: {r['text'][:SNIPPET_CHARS]}",
                    0.5,
                    r["created"],
                    r["session_id"],
                )
                for r in rows
            ]
        return sorted(hits, key=lambda h: -h.when)[:limit]

    # ---- ranking -------------------------------------------------------------

    def _rank(self, hits: list[SearchHit], now: float) -> list[SearchHit]:
        if not hits:
            return []
        best = max(h.score for h in hits) or 1.0
        half_life = self.options.recency_half_life_days * 86_400
        for hit in hits:
            age = max(0.0, now - hit.when)
            recency = 1.0 + self.options.recency_weight * math.exp(-age / half_life)
            hit.score = hit.score / best * SOURCE_WEIGHT[hit.source] * recency
        return sorted(hits, key=lambda h: -h.score)

    def _fuse(
        self,
        ranked: list[SearchHit],
        query: str,
        limit: int,
        span: DateRange | None,
        wanted: tuple[str, ...],
    ) -> list[SearchHit]:
        from mnemocode.memory.embeddings import reciprocal_rank_fusion

        assert self.vector_search is not None
        vector = [
            h
            for h in self.vector_search(query, max(limit * 5, 50))
            if h.source in wanted and (span is None or span.start <= h.when < span.end)
        ]
        by_ref = {h.ref: h for h in vector} | {h.ref: h for h in ranked}
        fused = reciprocal_rank_fusion([[h.ref for h in ranked], [h.ref for h in vector]])
        return [by_ref[ref] for ref, _score in fused]
