"""The words of a search query: which count (``query_terms``), whether a text
has them (``Coverage``), the FTS5 expression that matches them (``fts_query``),
and a calendar day the query names (``day_range``)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from mnemocode.memory.dates import DateRange

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
_MONTH_TEXT = (
    "january february march april may june july august september october november december"
)
_MONTHS = {name: number for number, name in enumerate(_MONTH_TEXT.split(), 1)}
_MONTH = "|".join(_MONTHS)
# A calendar day with its year: "11 December, 2023", "December 11, 2023", "on 2023-12-11".
_DAY = re.compile(
    rf"\b(?:on\s+)?(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MONTH}),?\s+(?P<y1>\d{{4}})"
    rf"|(?P<m2>{_MONTH})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{{4}})"
    rf"|(?P<y3>\d{{4}})-(?P<m3>\d{{2}})-(?P<d3>\d{{2}}))\b",
    re.IGNORECASE,
)


def day_range(query: str, now: datetime) -> tuple[DateRange | None, str]:
    """The day a query names with its year ("on 11 December, 2023"), and the
    query without it; ``(None, query)`` when it names none."""
    match = _DAY.search(query)
    if match is None:
        return None, query
    g = match.groupdict()
    year, day = g["y1"] or g["y2"] or g["y3"], g["d1"] or g["d2"] or g["d3"]
    month = g["m1"] or g["m2"]
    try:
        first = datetime(
            int(year),
            _MONTHS[month.lower()] if month else int(g["m3"]),
            int(day),
            tzinfo=now.tzinfo,
        )
    except ValueError:  # "31 February, 2023"
        return None, query
    start, end = first.timestamp(), (first + timedelta(days=1)).timestamp()
    rest = " ".join(f"{query[: match.start()]} {query[match.end() :]}".split())
    return DateRange(start, end, match.group(0).strip()), rest


def query_terms(text: str) -> list[str]:
    """The words of a query worth matching: lower-cased, stopwords out, deduplicated."""
    seen: dict[str, None] = {}
    for raw in _WORD.findall(text.lower()):
        word = raw.replace("'", "")
        if word and word not in _STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)


_SUFFIXES = ("ing", "ed", "es", "s", "ly")


def stem(word: str) -> str:
    """A light suffix strip, enough to tell whether a text has a query's word
    (the index's Porter stemmer does the matching itself)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


class Coverage:
    """The share of a query's ``terms`` (from ``query_terms``) that a text has: a
    term counts when a word of the text starts with its stem. One regex scan a
    text, so ranking a few hundred hits stays cheap (a match is the longest stem
    at its place: of "art" and "artist", "artists" counts only the latter)."""

    def __init__(self, terms: list[str]) -> None:
        self.stems = [stem(t) for t in terms]
        alternatives = sorted({re.escape(s) for s in self.stems}, key=len, reverse=True)
        self.pattern = re.compile(rf"\b(?:{'|'.join(alternatives)})", re.IGNORECASE)

    def __call__(self, text: str) -> float:
        return self.share(self.found(text))

    def found(self, text: str) -> frozenset[str]:
        """The stems of the query that ``text`` has."""
        if not self.stems:
            return frozenset()
        matched = {m.lower() for m in self.pattern.findall(text)}
        return frozenset(s for s in self.stems if s in matched)

    def share(self, found: frozenset[str] | set[str]) -> float:
        return len(found) / len(self.stems) if self.stems else 0.0


def fts_query(terms: list[str]) -> str:
    """An FTS5 expression matching any of ``terms`` (quoted: no operator injection)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
