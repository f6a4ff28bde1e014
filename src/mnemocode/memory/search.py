"""``memory_search``: one query over session summaries, project memory, past
transcripts and the user's traits.

Ranking: FTS5 BM25 per source (the Porter-stemmed index does the matching, in
SQLite), normalised to the best hit of that source, scaled by the share of the
query's words that best hit has, weighted by source, times a gentle recency
boost; then reordered by the ideas below. With the optional embeddings extra,
the BM25 ranking is fused with a vector ranking (reciprocal rank fusion).

Retrieval ideas, each measured on LoCoMo (bench/RESULTS.md) and held to the
hand-made cases in tests/memory/test_search.py:

- Neighbour context: a transcript message is indexed with the messages around
  it (a second column, weighted 0.4), so an answer is also found by the words
  of the question that led to it.
- Coverage: a hit whose own text has more of the query's distinct words gains
  up to 150 %. BM25 over an OR-query lets one rare word outweigh several others;
  a message that says all of what was asked about is the likelier answer.
- Replies: a message that follows a hit (in a transcript, usually the reply
  to it) takes a share of the hit's score — most of it when the hit asks a
  question. The question is what shares the asker's words; the answer ("That's
  Boston!") often shares none.
- Sessions: a hit gains up to 50 % for the share of the query's words that its
  session's hits have between them, so a session that is about the question
  lifts its turns above a lone match elsewhere.
- Date phrases: a phrase that names a time ("yesterday", "last week", "in
  March", "on 11 December, 2023") puts the hits from that time first and the others after them; a
  query that is only a date phrase ("what happened yesterday?") lists the
  sessions of that time. The phrase's words stay in the text query too: people
  write them ("we moved here 4 years ago", "I started last week"), and a
  message that says them is a better match for the question.
- Vague phrases ("recently", "lately") name no extent: they do not reorder the
  hits (the past week is only a guess at what was meant), they stay words.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mnemocode.memory.dates import DateRange, parse_date_range
from mnemocode.memory.entries import EntryStore
from mnemocode.memory.query import Coverage, day_range, fts_query, query_terms
from mnemocode.memory.summaries import SummaryStore
from mnemocode.memory.traits import TraitStore
from mnemocode.memory.types import SearchHit

# fts_query and query_terms live in memory/query.py; they are re-exported here.
__all__ = ["SNIPPET_CHARS", "SOURCES", "MemorySearch", "SearchOptions", "fts_query", "query_terms"]

SOURCES = ("project", "summary", "history", "core")
SOURCE_WEIGHT = {"project": 1.15, "summary": 1.0, "history": 0.9, "core": 1.0}
HISTORY_TEXT_WEIGHT, HISTORY_CONTEXT_WEIGHT = 1.0, 0.4
COVERAGE_WEIGHT = 1.5
COVERAGE_POOL = 50  # hits per source that coverage reorders
SESSION_WEIGHT = 0.5
REPLY_WEIGHT, REPLY_TO_QUESTION_WEIGHT = 0.3, 0.9
ASKED_WEIGHT = 0.8  # what a question hit keeps once its reply is in
REPLY_POOL = 20  # the best history hits whose replies are looked up
SNIPPET_CHARS = 600

Bound = float | None  # a time filter's start or end (unix time), None: open
Found = tuple[SearchHit, int]  # a hit and its row in the source's FTS index
_FTS_TABLE = {
    "project": "entries_fts",
    "summary": "summaries_fts",
    "history": "messages_fts",
    "core": "traits_fts",
}

# Words that only ask "what went on" when a query has a date phrase: "what
# happened yesterday", "what did we work on last week" list those sessions.
_DATE_QUESTION_TEXT = """
happen happened happening discuss discussed talk talked work worked working go going
went on session sessions anything something
"""
_DATE_QUESTION = frozenset(_DATE_QUESTION_TEXT.split())


@dataclass(slots=True)
class SearchOptions:
    recency_weight: float = 0.2
    recency_half_life_days: float = 30.0
    per_source: int = 50
    # Date phrases ("last week") order the results; off: they are ordinary words.
    use_dates: bool = True
    # Up to this much more for a hit whose own text has all of the query's words.
    coverage_weight: float = COVERAGE_WEIGHT
    # Up to this much more for a transcript hit whose session's hits have all the words.
    session_weight: float = SESSION_WEIGHT
    # The share of a hit's score that the message after it takes (0: off).
    reply_weight: float = REPLY_WEIGHT
    reply_to_question_weight: float = REPLY_TO_QUESTION_WEIGHT
    # What a question hit keeps of its score once its reply has taken a share.
    asked_weight: float = ASKED_WEIGHT
    # Weight of the embeddings ranking against BM25's 1.0 in the fusion.
    vector_weight: float = 0.25


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
        span, rest = self._date_phrase(query, now)
        if span is not None and all(t in _DATE_QUESTION for t in query_terms(rest)):
            return self._in_range(span, limit, wanted)
        terms = query_terms(query)
        if not terms:
            return []
        if span is not None and span.vague:
            span = None
        match = fts_query(terms)
        # With words besides the date phrase, the date orders rather than filters:
        # "what did we decide last week about X" lists last week's hits first and
        # then the older ones (questions often say when something happened, not
        # when it was talked about). The span's candidates are fetched on their
        # own too, so older hits cannot crowd them out of the candidates.
        n = self.options.per_source
        windows: list[tuple[Bound, Bound]] = [(None, None)]
        if span is not None:
            windows.append((span.start, span.end))
        groups: list[tuple[str, list[tuple[SearchHit, int]]]] = []
        for source in wanted:
            if source == "core" and self.core is None:
                continue
            if source == "history":  # both windows in one pass over the index
                pairs = self._history(match, n, span)
            else:
                pairs = [p for s, e in windows for p in self._source(source, match, n, s, e)]
            found: dict[str, Found] = {}
            for hit, row in pairs:
                found.setdefault(hit.ref, (hit, row))
            groups.append((source, list(found.values())))
        ranked = self._replies(self._rank(groups, terms, now))
        if span is not None:
            # What the user asked for comes first; the rest follows as a fallback.
            ranked.sort(key=lambda h: not span.start <= h.when < span.end)
        if self.vector_search is not None:
            ranked = self._fuse(ranked, rest, limit, wanted)
        return ranked[:limit]

    def _date_phrase(self, query: str, now: float) -> tuple[DateRange | None, str]:
        """The time a query names ("on 11 December, 2023", "last week") and the
        query without it."""
        if not self.options.use_dates:
            return None, query
        moment = datetime.fromtimestamp(now).astimezone()
        span, rest = day_range(query, moment)
        return (span, rest) if span is not None else parse_date_range(query, moment)

    # ---- per source ----------------------------------------------------------

    def _source(self, source: str, match: str, n: int, start: Bound, end: Bound) -> list[Found]:
        if source == "project":
            return self._project(match, n, start, end)
        if source == "summary":
            return self._summaries(match, n, start, end)
        return self._core(match, n, start, end)

    # Each gives (hit, rowid in the source's FTS index), best first.

    def _project(self, match: str, n: int, start: Bound, end: Bound) -> list[Found]:
        hits = []
        for entry, score in EntryStore(self.project).search(match, n, start=start, end=end):
            status = "" if entry.status == "active" else f" [{entry.status}]"
            why = f" — why: {entry.rationale}" if entry.rationale else ""
            text = f"{entry.kind} {entry.key}{status}: {entry.value}{why}"
            hit = SearchHit("project", f"entry:{entry.key}", text, -score, entry.updated)
            hits.append((hit, entry.id or 0))
        return hits

    def _summaries(self, match: str, n: int, start: Bound, end: Bound) -> list[Found]:
        return [
            (
                SearchHit(
                    "summary",
                    f"summary:{s.id}",
                    f"{s.title}\n{s.body}"[: SNIPPET_CHARS * 2],
                    -score,
                    s.ended,
                    s.session_id,
                ),
                s.id or 0,
            )
            for s, score in SummaryStore(self.project).search(match, n, start=start, end=end)
        ]

    def _history(self, match: str, n: int, span: DateRange | None) -> list[Found]:
        """The best n rows of the index, and with ``span`` the best n of that time
        too. The rows are scored once for both (scoring is most of the cost), and
        the messages are joined to the best ones only: joining every matching row
        before the sort costs 2x at 100k messages."""
        score = f"bm25(messages_fts, {HISTORY_TEXT_WEIGHT}, {HISTORY_CONTEXT_WEIGHT})"
        columns = "m.id, m.session_id, m.seq, m.role, m.text, m.created, t.score"
        if span is None:
            sql = f"""
                WITH t AS (
                    SELECT rowid, {score} AS score
                    FROM messages_fts WHERE messages_fts MATCH ? ORDER BY score LIMIT ?
                )
                SELECT {columns} FROM t JOIN messages m ON m.id = t.rowid ORDER BY t.score
            """
            rows = self.project.execute(sql, (match, n)).fetchall()
        else:
            sql = f"""
                WITH scored AS MATERIALIZED (
                    SELECT rowid, {score} AS score FROM messages_fts WHERE messages_fts MATCH ?
                ),
                best AS (SELECT rowid, score FROM scored ORDER BY score LIMIT ?),
                within AS (
                    SELECT rowid, score FROM scored
                    WHERE rowid IN (SELECT id FROM messages WHERE created >= ? AND created < ?)
                    ORDER BY score LIMIT ?
                ),
                t AS (SELECT * FROM best UNION SELECT * FROM within)
                SELECT {columns} FROM t JOIN messages m ON m.id = t.rowid ORDER BY t.score
            """
            rows = self.project.execute(sql, (match, n, span.start, span.end, n)).fetchall()
        return [
            (
                SearchHit(
                    "history",
                    f"msg:{r['session_id']}:{r['seq']}",
                    f"{r['role']}: {r['text'][:SNIPPET_CHARS]}",
                    -r["score"],
                    r["created"],
                    r["session_id"],
                ),
                r["id"],
            )
            for r in rows
        ]

    def _core(self, match: str, n: int, start: Bound, end: Bound) -> list[Found]:
        assert self.core is not None
        return [
            (
                SearchHit(
                    "core", f"trait:{t.id}", f"{t.dimension}: {t.value}", -score, t.last_seen
                ),
                t.id or 0,
            )
            for t, score in TraitStore(self.core).search(match, n, start=start, end=end)
        ]

    def _in_range(self, span: DateRange, limit: int, wanted: tuple[str, ...]) -> list[SearchHit]:
        """No words besides the date: the sessions of that time, newest first —
        each by its summary, or (not summarised yet) by its first request then."""
        hits: list[SearchHit] = []
        summarised: set[str] = set()
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
                    summarised.update([s.session_id, *s.covers])
        if "history" in wanted:
            rows = self.project.execute(
                """
                SELECT m.session_id, m.seq, m.role, m.text, t.last
                FROM (SELECT session_id, MIN(seq) AS first, MAX(created) AS last
                      FROM messages WHERE created >= ? AND created < ? AND role = 'user'
                      GROUP BY session_id) t
                JOIN messages m ON m.session_id = t.session_id AND m.seq = t.first
                ORDER BY t.last DESC
                """,
                (span.start, span.end),
            ).fetchall()
            hits += [
                SearchHit(
                    "history",
                    f"msg:{r['session_id']}:{r['seq']}",
                    f"{r['role']}: {r['text'][:SNIPPET_CHARS]}",
                    0.5,
                    r["last"],
                    r["session_id"],
                )
                for r in rows
                if r["session_id"] not in summarised
            ]
        return sorted(hits, key=lambda h: -h.when)[:limit]

    # ---- ranking -------------------------------------------------------------

    def _rank(
        self, groups: list[tuple[str, list[Found]]], terms: list[str], now: float
    ) -> list[SearchHit]:
        """BM25 scores are only comparable within one index (each has its own
        statistics; in a small table a word in most rows scores next to nothing),
        so each source is normalised to its own best hit, which is then weighed by
        how many of the query's words it has: a source whose best hit matches one
        word of five does not outrank one that matches them all."""
        half_life = self.options.recency_half_life_days * 86_400
        coverage = Coverage(terms)
        ranked: list[SearchHit] = []
        for source, found in groups:
            if not found:
                continue
            best_hit, best_row = max(found, key=lambda pair: pair[0].score)
            best = best_hit.score if best_hit.score > 0 else 1.0
            confidence = self._coverage(source, best_row, terms)
            # Coverage only reorders the head of each source: what BM25 put lower
            # does not reach the results anyway, and scanning it costs.
            head = sorted(found, key=lambda p: -p[0].score)[:COVERAGE_POOL]
            has = {id(h): coverage.found(h.text) for h, _ in head}
            lift = self._session_lift(source, [h for h, _ in head], has, coverage)
            top_lift = max(lift.values(), default=1.0)
            for hit, _row in found:
                age = max(0.0, now - hit.when)
                recency = 1.0 + self.options.recency_weight * math.exp(-age / half_life)
                hit.score = hit.score / best * confidence * SOURCE_WEIGHT[source] * recency
                if id(hit) in has:
                    hit.score *= 1.0 + self.options.coverage_weight * coverage.share(has[id(hit)])
                # Relative to the best session's: the lift reorders the source's hits,
                # it does not raise the source above the others.
                hit.score *= lift.get(hit.session_id or "", 1.0) / top_lift
                ranked.append(hit)
        return sorted(ranked, key=lambda h: -h.score)

    def _session_lift(
        self, source: str, head: list[SearchHit], has: dict[int, frozenset[str]], coverage: Coverage
    ) -> dict[str, float]:
        """Per session of the transcript hits, 1 + up to ``session_weight`` for the
        share of the query's words its hits have between them."""
        if source != "history" or not self.options.session_weight:
            return {}
        words: dict[str, set[str]] = {}
        for hit in head:
            if hit.session_id is not None:
                words.setdefault(hit.session_id, set()).update(has[id(hit)])
        weight = self.options.session_weight
        return {sid: 1.0 + weight * coverage.share(found) for sid, found in words.items()}

    def _replies(self, ranked: list[SearchHit]) -> list[SearchHit]:
        """The message after each of the best history hits takes a share of that
        hit's score, most of it after a question, whose reply often shares none of
        the query's words ("What city is it?" — "That's Boston!"). A question that
        passed its score on keeps less of its own: its reply is the likelier answer."""
        options = self.options
        parents: dict[tuple[str, int], SearchHit] = {}
        for hit in [h for h in ranked if h.source == "history"][:REPLY_POOL]:
            session, seq = hit.ref.removeprefix("msg:").rsplit(":", 1)
            parents.setdefault((session, int(seq) + 1), hit)
        if not parents or not (options.reply_weight or options.reply_to_question_weight):
            return ranked
        rows = self.project.execute(
            "SELECT session_id, seq, role, text, created FROM messages WHERE "
            + " OR ".join(["(session_id = ? AND seq = ?)"] * len(parents)),
            [value for key in parents for value in key],
        ).fetchall()
        before = {h.ref: h.score for h in ranked}
        by_ref = {h.ref: h for h in ranked}
        for r in rows:
            parent = parents[(r["session_id"], r["seq"])]
            asks = "?" in parent.text
            weight = options.reply_to_question_weight if asks else options.reply_weight
            share = before[parent.ref] * weight
            ref = f"msg:{r['session_id']}:{r['seq']}"
            reply = by_ref.get(ref)
            if reply is None:
                text = f"{r['role']}: {r['text'][:SNIPPET_CHARS]}"
                by_ref[ref] = SearchHit("history", ref, text, share, r["created"], r["session_id"])
            elif reply.score < share:
                reply.score = share
            if asks:
                parent.score = min(parent.score, before[parent.ref] * options.asked_weight)
        return sorted(by_ref.values(), key=lambda h: -h.score)

    def _coverage(self, source: str, rowid: int, terms: list[str]) -> float:
        """The share of ``terms`` that row ``rowid`` of ``source``'s index matches."""
        if len(terms) < 2:
            return 1.0
        table = _FTS_TABLE[source]
        conn = self.core if source == "core" else self.project
        assert conn is not None
        matched = sum(
            conn.execute(
                f"SELECT 1 FROM {table} WHERE {table} MATCH ? AND rowid = ?",
                (fts_query([term]), rowid),
            ).fetchone()
            is not None
            for term in terms
        )
        return max(matched, 1) / len(terms)

    def _fuse(
        self, ranked: list[SearchHit], query: str, limit: int, wanted: tuple[str, ...]
    ) -> list[SearchHit]:
        from mnemocode.memory.embeddings import reciprocal_rank_fusion

        assert self.vector_search is not None
        vector = [h for h in self.vector_search(query, max(limit * 5, 50)) if h.source in wanted]
        by_ref = {h.ref: h for h in vector} | {h.ref: h for h in ranked}
        # The vectors are the weaker ranker here (bench/RESULTS.md): weighed lower.
        fused = reciprocal_rank_fusion(
            [[h.ref for h in ranked], [h.ref for h in vector]],
            weights=[1.0, self.options.vector_weight],
        )
        return [by_ref[ref] for ref, _score in fused]
