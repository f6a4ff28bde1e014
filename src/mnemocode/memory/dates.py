"""Date phrases in search queries: "yesterday", "last week", "in March", ...

``parse_date_range`` finds one such phrase in a free-text query and returns the
time range it means plus the query without it, so the rest can go to text search.
Calendar phrases cover whole days, weeks (Monday first), months or years in
``now``'s timezone; rolling ones ("past 3 days", "recently", "since ...") run
from the start of their first day up to ``now``. "N units ago" is the calendar
unit N back: "1 week ago" is "last week", "2 months ago" the whole month.
"recently" and "lately" name no extent of their own: their range (the past week)
is marked ``vague``, for a caller that would rather not filter by it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta


@dataclass(frozen=True, slots=True)
class DateRange:
    start: float  # unix time, inclusive
    end: float  # unix time, exclusive
    label: str
    vague: bool = False  # "recently": the range is a guess, not what was said


# First day, and the day after the last one (None: up to now).
_Span = tuple[date, date | None]
_Resolver = Callable[[re.Match[str], date], _Span | None]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_MONTHS |= {name[:3]: number for name, number in _MONTHS.items()} | {"sept": 9}
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUMBER_WORDS |= {"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_NUMBER_WORDS |= {"eleven": 11, "twelve": 12}
_DAYS_BACK = {"today": 0, "yesterday": 1, "day before yesterday": 2}
_RECENT_DAYS = 7
_VAGUE = frozenset({"recently", "lately"})


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))  # longest first: "sept" before "sep"


_N = rf"(?P<n>\d{{1,3}}|{_alternatives(_NUMBER_WORDS)})"
_WEEKDAY = rf"(?P<weekday>{_alternatives(_WEEKDAYS)})"
_MONTH = rf"(?P<month>{_alternatives(_MONTHS)})"
_YEAR = r"(?P<year>(?:19|20)\d{2})(?!-)"
# Words that only glue the phrase to the query ("decisions from the past week").
_LEAD_IN = r"\b(?:(?:from|during|over|within|in|on)\s+)?(?:the\s+)?"
_SINCE = re.compile(r"\bsince\s+", re.IGNORECASE)
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([?!.,;:])")


def parse_date_range(query: str, now: datetime) -> tuple[DateRange | None, str]:
    """The range a date phrase in ``query`` means, and ``query`` without it.

    Only one phrase is taken: a "since ..." one, else the first rule in ``_RULES``
    that matches. ``now`` should be timezone-aware; a naive one is local time.
    Returns ``(None, query)`` when the query has no date phrase.
    """
    found = _find(query, now.date())
    if found is None:
        return None, query
    begin, finish, label, (first, after_last) = found
    end = now.timestamp() if after_last is None else _midnight(after_last, now)
    rest = " ".join(f"{query[:begin]} {query[finish:]}".split())
    rest = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", rest)
    return DateRange(_midnight(first, now), end, label, vague=label in _VAGUE), rest


def _midnight(day: date, now: datetime) -> float:
    # With a naive `now` this stays naive, and .timestamp() reads it as local time.
    return datetime.combine(day, time(), tzinfo=now.tzinfo).timestamp()


def _find(query: str, today: date) -> tuple[int, int, str, _Span] | None:
    for since in _SINCE.finditer(query):
        for pattern, resolve in (*_SINCE_ONLY, *_RULES):
            match = pattern.match(query, since.end())
            span = None if match is None else _resolve(resolve, match, today)
            if match is not None and span is not None:
                return since.start(), match.end(), f"since {_phrase(match)}", (span[0], None)
    for pattern, resolve in _RULES:
        for match in pattern.finditer(query):
            span = _resolve(resolve, match, today)
            if span is not None:
                return match.start(), match.end(), _phrase(match), span
    return None


def _resolve(resolve: _Resolver, match: re.Match[str], today: date) -> _Span | None:
    try:
        return resolve(match, today)
    except (ValueError, OverflowError):  # "2026-02-30", or a year before 1
        return None


def _phrase(match: re.Match[str]) -> str:
    return " ".join(match["phrase"].lower().split())


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _NUMBER_WORDS[text.lower()]


def _shift_month(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s (negative: before)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _calendar(unit: str, today: date, back: int) -> _Span:
    """The whole day/week/month/year ``back`` units before the one holding today."""
    unit = unit.lower()
    if unit == "day":
        day = today - timedelta(days=back)
        return day, day + timedelta(days=1)
    if unit == "week":
        monday = today - timedelta(days=today.weekday() + 7 * back)
        return monday, monday + timedelta(days=7)
    if unit == "month":
        first = _shift_month(today, -back)
        return first, _shift_month(first, 1)
    return date(today.year - back, 1, 1), date(today.year - back + 1, 1, 1)


def _named_day(match: re.Match[str], today: date) -> _Span:
    return _calendar("day", today, _DAYS_BACK[_phrase(match)])


def _this_or_last(match: re.Match[str], today: date) -> _Span:
    return _calendar(match["unit"], today, 0 if match["which"].lower() == "this" else 1)


def _ago(match: re.Match[str], today: date) -> _Span:
    return _calendar(match["unit"], today, _number(match["n"]))


def _weekday(match: re.Match[str], today: date) -> _Span:
    # The most recent such day strictly before today: 1..7 days back.
    days_back = (today.weekday() - _WEEKDAYS.index(match["weekday"].lower()) - 1) % 7 + 1
    return _calendar("day", today, days_back)


def _named_month(match: re.Match[str], today: date) -> _Span:
    month = _MONTHS[match["month"].lower()]
    year_text = match.groupdict().get("year")
    # Without a year: the most recent such month that is not in the future.
    latest = today.year if month <= today.month else today.year - 1
    first = date(int(year_text) if year_text else latest, month, 1)
    return first, _shift_month(first, 1)


def _iso_date(match: re.Match[str], today: date) -> _Span:
    day = date.fromisoformat(match["phrase"])
    return day, day + timedelta(days=1)


def _rolling(match: re.Match[str], today: date) -> _Span | None:
    if match["n"] is None and match["which"].lower() == "last":
        return None  # "last week" is the calendar week, another rule
    count = 1 if match["n"] is None else _number(match["n"])
    unit = match["unit"].lower()
    if unit == "month":
        first = _shift_month(today, -count)
        days_in_month = (_shift_month(first, 1) - first).days
        return first.replace(day=min(today.day, days_in_month)), None
    return today - timedelta(days=count * (7 if unit == "week" else 1)), None


def _recently(match: re.Match[str], today: date) -> _Span:
    return today - timedelta(days=_RECENT_DAYS), None


def _rule(body: str, resolve: _Resolver) -> tuple[re.Pattern[str], _Resolver]:
    return re.compile(rf"{_LEAD_IN}(?P<phrase>{body})\b", re.IGNORECASE), resolve


# Most specific first: the first rule with a match wins.
_RULES = (
    _rule(r"\d{4}-\d{2}-\d{2}", _iso_date),
    _rule(r"day\s+before\s+yesterday|yesterday|today", _named_day),
    _rule(rf"(?P<which>past|last)\s+(?:{_N}\s+)?(?P<unit>day|week|month)s?", _rolling),
    _rule(rf"{_N}\s+(?P<unit>day|week|month|year)s?\s+ago", _ago),
    _rule(r"(?P<which>this|last)\s+(?P<unit>week|month|year)", _this_or_last),
    _rule(rf"(?:on|last)\s+{_WEEKDAY}", _weekday),
    _rule(rf"(?:in\s+)?{_MONTH}\s+{_YEAR}", _named_month),
    _rule(rf"in\s+{_MONTH}", _named_month),
    _rule(r"recently|lately", _recently),
)
# After "since", bare weekdays and months are dates, not ordinary words.
_SINCE_ONLY = (
    _rule(_WEEKDAY, _weekday),
    _rule(rf"{_MONTH}(?:\s+{_YEAR})?", _named_month),
)
