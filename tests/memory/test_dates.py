from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mnemocode.memory.dates import DateRange, parse_date_range

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")

WEDNESDAY = datetime(2026, 11, 4, 15, 30, tzinfo=BERLIN)
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=NEW_YORK)
NEW_YEARS_DAY = datetime(2026, 1, 1, 8, 0, tzinfo=TOKYO)  # a Thursday


def midnight(day: date, now: datetime) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=now.tzinfo).timestamp()


def parsed(query: str, now: datetime) -> DateRange:
    found, _ = parse_date_range(query, now)
    assert found is not None, query
    return found


def test_the_weekdays_of_the_fixed_nows() -> None:
    assert WEDNESDAY.weekday() == 2
    assert MONDAY.weekday() == 0
    assert NEW_YEARS_DAY.weekday() == 3


@pytest.mark.parametrize(
    ("query", "now", "first", "after_last"),
    [
        ("today", WEDNESDAY, date(2026, 11, 4), date(2026, 11, 5)),
        ("yesterday", WEDNESDAY, date(2026, 11, 3), date(2026, 11, 4)),
        ("the day before yesterday", WEDNESDAY, date(2026, 11, 2), date(2026, 11, 3)),
        ("this week", WEDNESDAY, date(2026, 11, 2), date(2026, 11, 9)),
        ("last week", WEDNESDAY, date(2026, 10, 26), date(2026, 11, 2)),
        ("this month", WEDNESDAY, date(2026, 11, 1), date(2026, 12, 1)),
        ("last month", WEDNESDAY, date(2026, 10, 1), date(2026, 11, 1)),
        ("this year", WEDNESDAY, date(2026, 1, 1), date(2027, 1, 1)),
        ("last year", WEDNESDAY, date(2025, 1, 1), date(2026, 1, 1)),
        ("last monday", WEDNESDAY, date(2026, 11, 2), date(2026, 11, 3)),
        ("on tuesday", WEDNESDAY, date(2026, 11, 3), date(2026, 11, 4)),
        ("last wednesday", WEDNESDAY, date(2026, 10, 28), date(2026, 10, 29)),
        ("last thursday", WEDNESDAY, date(2026, 10, 29), date(2026, 10, 30)),
        ("last sunday", WEDNESDAY, date(2026, 11, 1), date(2026, 11, 2)),
        ("3 days ago", WEDNESDAY, date(2026, 11, 1), date(2026, 11, 2)),
        ("a week ago", WEDNESDAY, date(2026, 10, 26), date(2026, 11, 2)),
        ("two weeks ago", WEDNESDAY, date(2026, 10, 19), date(2026, 10, 26)),
        ("one month ago", WEDNESDAY, date(2026, 10, 1), date(2026, 11, 1)),
        ("twelve months ago", WEDNESDAY, date(2025, 11, 1), date(2025, 12, 1)),
        ("2 years ago", WEDNESDAY, date(2024, 1, 1), date(2025, 1, 1)),
        ("in March", WEDNESDAY, date(2026, 3, 1), date(2026, 4, 1)),
        ("in December", WEDNESDAY, date(2025, 12, 1), date(2026, 1, 1)),
        ("in November", WEDNESDAY, date(2026, 11, 1), date(2026, 12, 1)),
        ("in March 2025", WEDNESDAY, date(2025, 3, 1), date(2025, 4, 1)),
        ("March 2025", WEDNESDAY, date(2025, 3, 1), date(2025, 4, 1)),
        ("in sept", WEDNESDAY, date(2026, 9, 1), date(2026, 10, 1)),
        ("2026-11-03", WEDNESDAY, date(2026, 11, 3), date(2026, 11, 4)),
        ("2024-02-29", WEDNESDAY, date(2024, 2, 29), date(2024, 3, 1)),
    ],
)
def test_calendar_phrases(query: str, now: datetime, first: date, after_last: date) -> None:
    found = parsed(query, now)
    assert (found.start, found.end) == (midnight(first, now), midnight(after_last, now))


@pytest.mark.parametrize(
    ("query", "first", "after_last"),
    [
        ("last monday", date(2026, 2, 23), date(2026, 2, 24)),  # today is Monday: a week back
        ("on monday", date(2026, 2, 23), date(2026, 2, 24)),
        ("last sunday", date(2026, 3, 1), date(2026, 3, 2)),
        ("the day before yesterday", date(2026, 2, 28), date(2026, 3, 1)),
        ("this week", date(2026, 3, 2), date(2026, 3, 9)),
        ("last week", date(2026, 2, 23), date(2026, 3, 2)),
        ("last month", date(2026, 2, 1), date(2026, 3, 1)),
        ("in March", date(2026, 3, 1), date(2026, 4, 1)),  # the current month counts
        ("in April", date(2025, 4, 1), date(2025, 5, 1)),
    ],
)
def test_calendar_phrases_on_a_monday(query: str, first: date, after_last: date) -> None:
    found = parsed(query, MONDAY)
    assert (found.start, found.end) == (midnight(first, MONDAY), midnight(after_last, MONDAY))


@pytest.mark.parametrize(
    ("query", "first", "after_last"),
    [
        ("yesterday", date(2025, 12, 31), date(2026, 1, 1)),
        ("this week", date(2025, 12, 29), date(2026, 1, 5)),
        ("last week", date(2025, 12, 22), date(2025, 12, 29)),
        ("last month", date(2025, 12, 1), date(2026, 1, 1)),
        ("two months ago", date(2025, 11, 1), date(2025, 12, 1)),
        ("last year", date(2025, 1, 1), date(2026, 1, 1)),
        ("in December", date(2025, 12, 1), date(2026, 1, 1)),
        ("in January", date(2026, 1, 1), date(2026, 2, 1)),
    ],
)
def test_calendar_phrases_across_the_new_year(query: str, first: date, after_last: date) -> None:
    found = parsed(query, NEW_YEARS_DAY)
    expected = (midnight(first, NEW_YEARS_DAY), midnight(after_last, NEW_YEARS_DAY))
    assert (found.start, found.end) == expected


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("past 3 days", date(2026, 11, 1)),
        ("last 3 days", date(2026, 11, 1)),
        ("past three days", date(2026, 11, 1)),
        ("last 2 weeks", date(2026, 10, 21)),
        ("past week", date(2026, 10, 28)),
        ("past month", date(2026, 10, 4)),
        ("recently", date(2026, 10, 28)),
        ("lately", date(2026, 10, 28)),
        ("since yesterday", date(2026, 11, 3)),
        ("since last week", date(2026, 10, 26)),
        ("since the day before yesterday", date(2026, 11, 2)),
        ("since 2026-10-01", date(2026, 10, 1)),
        ("since monday", date(2026, 11, 2)),
        ("since March", date(2026, 3, 1)),
        ("since 3 days ago", date(2026, 11, 1)),
    ],
)
def test_rolling_phrases_run_up_to_now(query: str, first: date) -> None:
    found = parsed(query, WEDNESDAY)
    assert (found.start, found.end) == (midnight(first, WEDNESDAY), WEDNESDAY.timestamp())


def test_past_months_clamp_to_the_end_of_a_shorter_month() -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=BERLIN)
    assert parsed("past month", now).start == midnight(date(2026, 2, 28), now)


@pytest.mark.parametrize(
    ("query", "label", "rest"),
    [
        ("what did we decide yesterday?", "yesterday", "what did we decide?"),
        ("auth   Yesterday   bug", "yesterday", "auth bug"),
        ("decisions from the past week about auth", "past week", "decisions about auth"),
        ("changes in the last 2 weeks", "last 2 weeks", "changes"),
        ("db schema since last week", "since last week", "db schema"),
        ("what did I do on 2026-11-03", "2026-11-03", "what did I do"),
        ("the day before yesterday auth", "day before yesterday", "auth"),
        ("LAST WEEK", "last week", ""),
        ("refactor in March 2025, why", "march 2025", "refactor, why"),
        ("notes on Tuesday", "on tuesday", "notes"),
    ],
)
def test_phrase_is_removed_and_labelled(query: str, label: str, rest: str) -> None:
    found, remaining = parse_date_range(query, WEDNESDAY)
    assert found is not None
    assert (found.label, remaining) == (label, rest)


@pytest.mark.parametrize(
    "query",
    [
        "  fix   the parser ",
        "tuesday standup notes",
        "march through the logs",
        "this may be broken",
        "update yesterdays notes",
        "since we moved to postgres",
        "the last day of the sprint",
        "mondays are for planning",
        "2026-02-30",
        "timeout of 2000 ms",
    ],
)
def test_queries_without_a_date_phrase_come_back_unchanged(query: str) -> None:
    assert parse_date_range(query, WEDNESDAY) == (None, query)


def test_the_first_rule_wins_over_a_shorter_phrase_inside_it() -> None:
    found = parsed("the day before yesterday", WEDNESDAY)
    assert found.label == "day before yesterday"


def test_ranges_follow_the_timezone_of_now() -> None:
    instant_in_tokyo = NEW_YEARS_DAY
    same_instant_in_utc = NEW_YEARS_DAY.astimezone(UTC)  # 2025-12-31 23:00
    assert instant_in_tokyo.timestamp() == same_instant_in_utc.timestamp()
    tokyo = parsed("today", instant_in_tokyo)
    utc = parsed("today", same_instant_in_utc)
    assert tokyo.start == datetime(2026, 1, 1, tzinfo=TOKYO).timestamp()
    assert utc.start == datetime(2025, 12, 31, tzinfo=UTC).timestamp()


def test_a_week_across_a_dst_change_is_a_calendar_week() -> None:
    # Berlin leaves summer time on 2026-10-25: that week is an hour longer.
    found = parsed("two weeks ago", WEDNESDAY)
    assert found.end - found.start == timedelta(days=7, hours=1).total_seconds()


def test_a_naive_now_is_local_time() -> None:
    naive = datetime(2026, 11, 4, 15, 30)
    found = parsed("yesterday", naive)
    assert (found.start, found.end) == (
        datetime(2026, 11, 3).timestamp(),
        datetime(2026, 11, 4).timestamp(),
    )


def test_date_range_is_frozen() -> None:
    found = parsed("today", WEDNESDAY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.start = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("query", "vague"),
    [
        ("what did I fix recently", True),
        ("lately", True),
        ("last week", False),
        ("past 3 days", False),
        ("in March", False),
    ],
)
def test_recently_and_lately_are_marked_vague(query: str, vague: bool) -> None:
    assert parsed(query, WEDNESDAY).vague is vague
