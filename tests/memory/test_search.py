"""``memory_search`` over real project and core databases: every source, BM25 with
recency, date phrases against an injected clock, stemming, hostile queries,
deleted entries, and the tool the model calls."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mnemocode.config.settings import MemoryConfig
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import Message, ToolCall, ToolResult
from mnemocode.llm.tokens import count_tokens
from mnemocode.memory.query import day_range
from mnemocode.memory.search import SearchOptions
from mnemocode.memory.service import Memory, open_registry
from mnemocode.memory.types import Entry, SearchHit, Summary
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.tools.base import FunctionToolset
from mnemocode.tools.memory import memory_search

# Wednesday 12 March 2025, 15:00 local time.
NOW = datetime(2025, 3, 12, 15, 0).astimezone()


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now

    def at(self, day: datetime, hour: int = 10) -> float:
        self.now = day.replace(hour=hour, minute=0).timestamp()
        return self.now


def day(days_ago: int) -> datetime:
    return NOW - timedelta(days=days_ago)


YESTERDAY = day(1)  # Tuesday 11 March
LAST_WEEK = day(8)  # Tuesday 4 March (last week: Monday 3 - Sunday 9)
LONG_AGO = day(40)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def memory(tmp_path: Path, isolated_home: Path, clock: Clock) -> Iterator[Memory]:
    work = tmp_path / "shop"
    work.mkdir()
    registry = open_registry(isolated_home)
    project = registry.create(work)
    registry.conn.close()
    mem = Memory(
        home=isolated_home,
        project=project,
        config=MemoryConfig(),
        count_tokens=count_tokens,
        clock=clock,
    )
    yield mem
    mem.close()


def session(
    memory: Memory, clock: Clock, sid: str, when: datetime, turns: list[list[Message]]
) -> None:
    clock.at(when)
    memory.sessions.create(sid)
    for n, messages in enumerate(turns, 1):
        memory.record(sid, n, messages)
        clock.now += 120
    clock.now = NOW.timestamp()


def summarise(memory: Memory, sid: str, title: str, body: str) -> None:
    info = memory.sessions.get(sid)
    assert info is not None
    memory.summaries.add(Summary(sid, info.started, info.updated, title, body))


def shell(command: str, output: str, call_id: str) -> list[Message]:
    call = ToolCall(call_id, "shell_exec", {"command": command})
    return [Message.assistant("", [call]), Message.tool(ToolResult.of_text(call, output))]


def realistic(memory: Memory, clock: Clock) -> None:
    """Three sessions over six weeks, their summaries, project memory and traits."""
    session(
        memory,
        clock,
        "deploy-old",
        LONG_AGO,
        [
            [
                Message.user("Should we deploy with Docker Compose or plain systemd units?"),
                Message.assistant("Docker Compose: the team already runs it locally."),
            ],
            [
                Message.user("ok, write the compose file for the api and the worker"),
                *shell("docker compose config", "services: api, worker", "c1"),
                Message.assistant("compose.yaml defines api and worker; config validates."),
            ],
        ],
    )
    summarise(
        memory,
        "deploy-old",
        "Deployment with Docker Compose",
        "## Decisions\n- Deploy with Docker Compose — the team runs it locally",
    )
    session(
        memory,
        clock,
        "importer",
        LAST_WEEK,
        [
            [
                Message.user("the importer test is flaky, can you look"),
                *shell("pytest tests/test_importer.py -x", "1 failed: timeout in fetch()", "c2"),
                Message.assistant("fetch() has no timeout; the test hits a slow mirror."),
            ],
        ],
    )
    summarise(
        memory,
        "importer",
        "Flaky importer test",
        "## Progress\n- added a timeout to fetch() in importer.py",
    )
    session(
        memory,
        clock,
        "jobs",
        YESTERDAY,
        [
            [
                Message.user("switch the job store to Redis, SQLite locks under load"),
                Message.assistant("Done: the job store now uses Redis (redis-py, 5.0)."),
            ],
        ],
    )
    summarise(
        memory,
        "jobs",
        "Job store moved to Redis",
        "## Decisions\n- Job store: Redis — SQLite locked under load (reversed SQLite)",
    )
    clock.at(LAST_WEEK)
    memory.entries.upsert(
        Entry("deploy-target", "decision", "Deploy with Docker Compose", rationale="team knows it")
    )
    clock.at(YESTERDAY)
    memory.entries.upsert(
        Entry(
            "job-store",
            "decision",
            "Use SQLite for the job store",
            rationale="replaced by Redis: SQLite locks under load",
            status="reversed",
        )
    )
    memory.entries.upsert(
        Entry("job-store-redis", "decision", "Use Redis for the job store", rationale="no locks")
    )
    memory.traits.observe("tools", "docker", "Runs services locally with Docker")
    clock.now = NOW.timestamp()


# ---- sources and ranking ------------------------------------------------------------


def test_one_query_searches_every_source(memory: Memory, clock: Clock) -> None:
    realistic(memory, clock)
    hits = memory.search("docker", limit=20)
    assert {h.source for h in hits} == {"project", "summary", "history", "core"}
    by_ref = {h.ref: h for h in hits}
    assert "entry:deploy-target" in by_ref
    assert by_ref["entry:deploy-target"].text == (
        "decision deploy-target: Deploy with Docker Compose — why: team knows it"
    )
    assert any(h.source == "summary" and h.session_id == "deploy-old" for h in hits)
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))

    only = memory.search("docker", sources=("core",))
    assert [h.source for h in only] == ["core"]
    assert only[0].text == "tools: Runs services locally with Docker"


def test_a_reversed_decision_is_found_marked(memory: Memory, clock: Clock) -> None:
    realistic(memory, clock)
    hits = memory.search("job store", limit=10)
    texts = {h.ref: h.text for h in hits}
    assert texts["entry:job-store"] == (
        "decision job-store [reversed]: Use SQLite for the job store"
        " — why: replaced by Redis: SQLite locks under load"
    )
    assert texts["entry:job-store-redis"] == (
        "decision job-store-redis: Use Redis for the job store — why: no locks"
    )
    # Project memory weighs most: both decisions come first.
    assert {h.ref for h in hits[:2]} == {"entry:job-store", "entry:job-store-redis"}


def test_bm25_ranks_the_better_match_first(memory: Memory, clock: Clock) -> None:
    session(
        memory,
        clock,
        "s",
        YESTERDAY,
        [
            [Message.user("the quokka parser breaks on quokka files, quokka everywhere")],
            [Message.user("unrelated: bump the version number in the changelog for release")],
            [Message.user("one passing mention of a quokka in a long message " + "filler " * 40)],
        ],
    )
    hits = memory.search("quokka", sources=("history",))
    assert hits[0].text.startswith("user: the quokka parser breaks")


def test_a_newer_identical_hit_ranks_above_an_older_one(memory: Memory, clock: Clock) -> None:
    turns = [
        [Message.user("why is the wombat cache cold after restart")],
        [Message.assistant("the wombat cache lives in memory only")],
    ]
    session(memory, clock, "older", day(60), turns)
    session(memory, clock, "newer", day(2), turns)
    hits = memory.search("wombat cache", sources=("history",))
    newer = [h for h in hits if h.session_id == "newer"]
    older = [h for h in hits if h.session_id == "older"]
    assert len(newer) == len(older) == 2
    for new, old in zip(newer, older, strict=True):
        assert new.text == old.text
        assert new.score > old.score
        assert hits.index(new) < hits.index(old)

    # Without recency the two are tied: the boost is what orders them.
    memory.searcher.options = SearchOptions(recency_weight=0.0)
    flat = memory.search("wombat cache", sources=("history",))
    scores = {(h.session_id, h.text): h.score for h in flat}
    for text in {h.text for h in flat}:
        assert scores[("newer", text)] == pytest.approx(scores[("older", text)])


# ---- dates ---------------------------------------------------------------------------


def span_of(hits: list[SearchHit]) -> set[str]:
    return {datetime.fromtimestamp(h.when).astimezone().date().isoformat() for h in hits}


def test_a_date_phrase_puts_that_time_first(memory: Memory, clock: Clock) -> None:
    realistic(memory, clock)
    everything = memory.search("job store redis sqlite timeout docker", limit=50)
    assert len(span_of(everything)) >= 3  # hits from several days

    yesterday = memory.search("job store yesterday", limit=50)
    assert yesterday
    assert span_of(yesterday) == {"2025-03-11"}
    assert {h.ref for h in yesterday} >= {"entry:job-store", "entry:job-store-redis"}

    last_week = memory.search("what did we do about the timeout last week", limit=50)
    assert last_week
    assert span_of(last_week) <= {f"2025-03-0{d}" for d in range(3, 10)}
    assert any(h.session_id == "importer" for h in last_week)

    # Nothing about docker yesterday: the older hits follow, dated, as a fallback.
    fallback = memory.search("docker yesterday", sources=("history",))
    assert fallback and "2025-03-11" not in span_of(fallback)
    old = memory.search("docker in January 2025", limit=50)
    january = LONG_AGO.date().isoformat()
    assert span_of(old[:1]) == {january}
    firsts = [span_of([h]) == {january} for h in old]
    assert firsts == sorted(firsts, reverse=True)  # January's hits all come first


def test_the_time_span_is_searched_on_its_own(memory: Memory, clock: Clock) -> None:
    # Months of short messages about deploys, and yesterday one long message that
    # mentions a deploy once: it ranks below all of them, but it is the one asked for.
    clock.at(LONG_AGO)
    memory.sessions.create("busy")
    for i in range(300):
        memory.record("busy", i + 1, [Message.user(f"deploy {i} ok")])
    session(
        memory,
        clock,
        "yesterday",
        YESTERDAY,
        [[Message.user("long notes about many things; " + "lorem ipsum " * 60 + "and a deploy")]],
    )
    hits = memory.search("deploy yesterday", sources=("history",))
    assert hits[0].session_id == "yesterday"
    assert all(h.session_id == "busy" for h in hits[1:])


def test_a_query_that_is_only_a_date_lists_that_days_sessions(memory: Memory, clock: Clock) -> None:
    realistic(memory, clock)
    # Today's session has no summary yet, and three requests: listed once.
    session(
        memory,
        clock,
        "today",
        NOW,
        [
            [Message.user("first request of today: rename the cli flag")],
            [Message.user("second request of today")],
            [Message.user("third request of today")],
        ],
    )
    clock.now = NOW.timestamp() + 7_200

    yesterday = memory.search("yesterday")
    assert [(h.source, h.session_id) for h in yesterday] == [("summary", "jobs")]
    assert yesterday[0].text.startswith("Job store moved to Redis\n")

    last_week = memory.search("last week")
    assert [(h.source, h.session_id) for h in last_week] == [("summary", "importer")]

    today = memory.search("what happened today?")
    assert [(h.source, h.session_id, h.text) for h in today] == [
        ("history", "today", "user: first request of today: rename the cli flag")
    ]

    recent = memory.search("past two weeks")
    assert [h.session_id for h in recent] == ["today", "jobs", "importer"]
    assert memory.search("2025-02-20") == []
    worked_on = memory.search("what did we work on yesterday?")
    assert [h.session_id for h in worked_on] == ["jobs"]
    # Words besides the date that are not filler: a text search in that time.
    redis = memory.search("what happened to redis yesterday")
    assert redis and span_of(redis) == {"2025-03-11"}
    assert redis[0].ref == "entry:job-store-redis"


def test_the_words_of_a_date_phrase_are_searched_too(memory: Memory, clock: Clock) -> None:
    # "three weeks ago" names a week with nothing in it; the message that says
    # "three weeks ago" is still the better answer than the one about servers.
    session(
        memory,
        clock,
        "s",
        YESTERDAY,
        [
            [Message.user("the server config: server.toml, the server restarts, server logs")],
            [Message.user("we moved the server to Oslo three weeks ago")],
        ],
    )
    hits = memory.search("what happened to the server three weeks ago?", sources=("history",))
    assert hits[0].text == "user: we moved the server to Oslo three weeks ago"


def test_recently_does_not_put_a_weak_recent_hit_first(memory: Memory, clock: Clock) -> None:
    session(
        memory,
        clock,
        "rewrite",
        day(20),
        [[Message.user("we rewrote the parser: the parser rewrite streams tokens now")]],
    )
    session(
        memory,
        clock,
        "notes",
        YESTERDAY,
        [[Message.user("long notes on many things; " + "lorem ipsum " * 40 + "and the parser")]],
    )
    hits = memory.search("the parser rewrite recently", sources=("history",))
    assert [h.session_id for h in hits] == ["rewrite", "notes"]
    # Alone, "recently" still lists the sessions of the past week.
    assert [h.session_id for h in memory.search("what happened recently?")] == ["notes"]


def test_a_hit_with_more_of_the_querys_words_ranks_first(memory: Memory, clock: Clock) -> None:
    # BM25 over an OR-query: the rare word alone in a short message outscores a
    # message that has all three words; coverage puts the latter first.
    turns = [[Message.user(f"deploy {i}: the script ran")] for i in range(30)]
    turns += [
        [Message.user("zebra zebra")],
        [Message.user("the zebra deploy script times out on the staging host every night")],
    ]
    session(memory, clock, "s", YESTERDAY, turns)
    hits = memory.search("zebra deploy script", sources=("history",))
    assert hits[0].text.startswith("user: the zebra deploy script times out")
    memory.searcher.options = SearchOptions(coverage_weight=0.0)
    plain = memory.search("zebra deploy script", sources=("history",))
    assert plain[0].text == "user: zebra zebra"


# ---- matching ------------------------------------------------------------------------


def test_stemming_matches_word_forms(memory: Memory, clock: Clock) -> None:
    session(
        memory,
        clock,
        "s",
        YESTERDAY,
        [
            [Message.user("we run the migrations before every release")],
            [Message.assistant("the indexes were rebuilt")],
        ],
    )
    memory.entries.upsert(Entry("migrating", "convention", "Migrations run in CI first"))
    assert any("we run the migrations" in h.text for h in memory.search("running"))
    assert any("we run the migrations" in h.text for h in memory.search("runs migration"))
    assert any("indexes were rebuilt" in h.text for h in memory.search("index rebuilding"))
    assert any(h.ref == "entry:migrating" for h in memory.search("migrate"))


HOSTILE = [
    'the "job store',
    'job" OR "store',
    "job AND store",
    "job OR store NOT redis",
    "job*",
    "store^",
    "NEAR(job store, 2)",
    "-job -store",
    "text:job context:store",
    "key:job-store",
    "{job store}",
    "job + store ( )",
    "job's store's",
    "job\\store",
    "'; DROP TABLE entries; --",
    "job\x00store",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_fts_operators_in_a_query_are_plain_words(memory: Memory, clock: Clock, query: str) -> None:
    realistic(memory, clock)
    hits = memory.search(query, limit=30)  # no FTS5 syntax error, no injection
    refs = {h.ref for h in hits}
    assert "entry:job-store-redis" in refs or "store" not in query.lower()
    assert memory.entries.get("job-store") is not None  # the table survived


def test_column_filters_and_prefixes_are_not_obeyed(memory: Memory, clock: Clock) -> None:
    realistic(memory, clock)
    # As FTS5 syntax, "key:deploy" would search the key column only and
    # "job*" would match "jobs"; as words they mean "key", "deploy" and "job".
    assert {h.ref for h in memory.search("key:deploy")} == {
        h.ref for h in memory.search("key deploy")
    }
    assert {h.ref for h in memory.search("sqli*")} == set()
    assert "entry:job-store" in {h.ref for h in memory.search("sqlite")}


def test_deleted_entries_are_not_found(memory: Memory, clock: Clock) -> None:
    realistic(memory, clock)
    assert any(h.ref == "entry:deploy-target" for h in memory.search("compose"))
    memory.entries.delete("deploy-target")
    assert not any(h.ref == "entry:deploy-target" for h in memory.search("compose"))
    assert not any(h.ref == "entry:deploy-target" for h in memory.search("compose last week"))
    # Deleted traits neither.
    (trait,) = memory.traits.find("docker")
    assert trait.id is not None
    memory.traits.delete(trait.id)
    assert memory.search("docker", sources=("core",)) == []


def test_queries_without_searchable_words(memory: Memory, clock: Clock) -> None:
    realistic(memory, clock)
    assert memory.search("") == []
    assert memory.search("   ") == []
    assert memory.search("the of and what") == []
    assert memory.search("***") == []


# ---- replies, sessions, named days ---------------------------------------------------


def test_the_reply_to_a_matching_question_comes_first(memory: Memory, clock: Clock) -> None:
    # The question shares the query's words; the answer ("Boston") shares none.
    session(
        memory,
        clock,
        "trip",
        YESTERDAY,
        [
            [Message.user("that photo of the harbour is great, which city did you take it in?")],
            [Message.assistant("Boston, on the last day of the conference.")],
            [Message.user("nice. now bump the version number for the release")],
        ],
    )
    hits = memory.search("which city was the harbour photo taken in", sources=("history",))
    assert hits[0].text == "assistant: Boston, on the last day of the conference."
    assert hits[1].text.startswith("user: that photo of the harbour")
    memory.searcher.options = SearchOptions(reply_weight=0.0, reply_to_question_weight=0.0)
    plain = memory.search("which city was the harbour photo taken in", sources=("history",))
    assert plain[0].text.startswith("user: that photo of the harbour")


def test_a_reply_with_none_of_the_words_is_found(memory: Memory, clock: Clock) -> None:
    # The reply has none of the query's words: it is the answer, and once it has
    # its share the question keeps less of its own.
    turns = [[Message.user("did the nightly kangaroo backup finish?")]]
    turns += [[Message.assistant("Yes: 41 GB, checksum verified.")]]
    session(memory, clock, "ops", YESTERDAY, turns)
    refs = [h.ref for h in memory.search("kangaroo backup", sources=("history",))]
    assert refs[:2] == ["msg:ops:1", "msg:ops:0"]


def test_a_session_about_the_question_lifts_its_turns(memory: Memory, clock: Clock) -> None:
    # Two sessions open with the same message; one of them says the query's third
    # word turns later (too far for the neighbour context): its turn ranks first.
    filler = [[Message.user(f"unrelated step {i}: edited the readme")] for i in range(4)]
    for sid, last in (("about", "the rollback worked"), ("lone", "the tests worked")):
        opening = [Message.user("quagga migration failed on staging")]
        session(memory, clock, sid, YESTERDAY, [opening, *filler, [Message.user(last)]])
    other = [[Message.user(f"release {i}: changelog updated, tag pushed")] for i in range(30)]
    session(memory, clock, "other", LAST_WEEK, other)
    query = "quagga migration rollback"
    scores = {h.ref: h.score for h in memory.search(query, sources=("history",), limit=20)}
    assert scores["msg:about:0"] > scores["msg:lone:0"]
    memory.searcher.options = SearchOptions(session_weight=0.0)
    flat = {h.ref: h.score for h in memory.search(query, sources=("history",), limit=20)}
    assert flat["msg:about:0"] == pytest.approx(flat["msg:lone:0"])


@pytest.mark.parametrize("named", ["on 4 March, 2025", "on March 4, 2025", "on 2025-03-04"])
def test_a_named_day_puts_that_days_hits_first(memory: Memory, clock: Clock, named: str) -> None:
    session(
        memory,
        clock,
        "old",
        LONG_AGO,
        [[Message.user("deploy deploy: the deploy to production, deploy logs attached")]],
    )
    session(
        memory,
        clock,
        "that-day",
        LAST_WEEK,  # Tuesday 4 March
        [[Message.user("long notes on many things; " + "lorem ipsum " * 40 + "and a deploy")]],
    )
    hits = memory.search(f"what went wrong with the deploy {named}?", sources=("history",))
    assert [h.session_id for h in hits] == ["that-day", "old"]
    # Only the day: that day's sessions.
    assert [h.session_id for h in memory.search(f"what happened {named}?")] == ["that-day"]


def test_a_day_that_does_not_exist_is_no_date() -> None:
    assert day_range("the deploy on 31 February, 2025", NOW) == (
        None,
        "the deploy on 31 February, 2025",
    )
    span, rest = day_range("what broke on 4 March, 2025 in the api?", NOW)
    assert span is not None and rest == "what broke in the api?"
    assert span.end - span.start == 86_400
    assert datetime.fromtimestamp(span.start).astimezone().date().isoformat() == "2025-03-04"


# ---- the tool ------------------------------------------------------------------------


async def call_tool(ctx: ToolContext, **arguments: object) -> ToolResult:
    toolset = FunctionToolset([memory_search])
    (spec,) = toolset.specs()
    assert spec.name == "memory_search" and spec.read_only
    return await toolset.call(ToolCall("call_1", "memory_search", dict(arguments)), ctx)


async def test_the_memory_search_tool(memory: Memory, clock: Clock, tmp_path: Path) -> None:
    realistic(memory, clock)
    ctx = ToolContext(cwd=tmp_path, sandbox=LocalSandbox(), memory=memory)

    result = await call_tool(ctx, query="job store")
    assert not result.is_error
    assert "project memory (entry:job-store)\ndecision job-store [reversed]: Use SQLite" in (
        result.text
    )
    assert "project memory (entry:job-store-redis)\ndecision job-store-redis: Use Redis" in (
        result.text
    )
    assert "[2025-03-11 Tue 10:" in result.text  # when, with the day of the week

    dated = await call_tool(ctx, query="timeout last week", sources=["history"], limit=2)
    assert not dated.is_error
    assert dated.text.count("transcript of session importer") == 2
    assert "2025-03-04 Tue" in dated.text

    core = await call_tool(ctx, query="docker", sources=["core"])
    assert core.text.startswith("[") and "about the user" in core.text
    assert "transcript" not in core.text and "project memory" not in core.text

    nothing = await call_tool(ctx, query="kubernetes helm")
    assert not nothing.is_error
    assert nothing.text == "Nothing in memory matches 'kubernetes helm'."

    bad = await call_tool(ctx, query="x", sources=["files"])
    assert bad.is_error and "unknown source" in bad.text

    off = await call_tool(
        ToolContext(cwd=tmp_path, sandbox=LocalSandbox(), memory=None), query="job store"
    )
    assert off.is_error and "memory is turned off" in off.text
