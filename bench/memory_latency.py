"""Memory latency: search with 10k and 100k stored memories, building the
injection, recording a message.

The stored text is LoCoMo's (turns, session summaries, observations), cycled
with variations — each pass over the data gives the speakers other names — so
it reads like real conversation rather than random words. Per 1,000 memories:
950 transcript messages (sessions of a LoCoMo session's length, at random times
over the past year), 30 session summaries and 20 project-memory entries; 30
user traits in the core database. The 100k database is the 10k one grown.
"""

from __future__ import annotations

import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import data_file, machine, percentile, take_data_option
from bench.memory_recall import DATA, load_locomo
from mnemocode.config.settings import MemoryConfig
from mnemocode.core.types import Message
from mnemocode.llm.tokens import count_tokens, encoding_name
from mnemocode.memory.service import Memory, open_registry
from mnemocode.memory.types import (
    DEFAULT_DIMENSION,
    DIMENSION_STABILITY_DAYS,
    ENTRY_KINDS,
    Entry,
    Summary,
)

SIZES = (10_000, 100_000)
MESSAGES_PER_1000, SUMMARIES_PER_1000, ENTRIES_PER_1000 = 950, 30, 20
QUERIES = 200
RECORDS = 200
INJECTION_SUMMARIES, INJECTION_ENTRIES = 50, 200
TRAITS = 30
YEAR = 365 * 86_400.0
NAMES = [
    "Alex",
    "Bea",
    "Carlos",
    "Dana",
    "Elif",
    "Femi",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Amir",
    "Bianca",
    "Chen",
    "Dmitri",
    "Esme",
    "Farah",
    "Gabe",
    "Hana",
    "Ivo",
    "Jade",
    "Kai",
    "Leila",
    "Milo",
    "Nadia",
    "Otto",
    "Pia",
    "Rami",
    "Sofia",
    "Theo",
    "Uma",
    "Viktor",
    "Willa",
    "Yara",
]
_DIMENSIONS = list(DIMENSION_STABILITY_DAYS) or [DEFAULT_DIMENSION]


# ---- realistic text ------------------------------------------------------------------


@dataclass(slots=True)
class Corpus:
    """LoCoMo's text, and a way to give each pass over it other names."""

    sessions: list[list[tuple[str, str]]]  # per session: (speaker, message text)
    summaries: list[str]
    observations: list[str]
    questions: list[str]
    speakers: list[str]

    def renamer(self, cycle: int) -> Callable[[str], str]:
        if cycle == 0:
            return lambda text: text
        mapping = {
            s: NAMES[(i + 7 * cycle) % len(NAMES)] + ("" if cycle < 3 else f" {cycle}")
            for i, s in enumerate(self.speakers)
        }
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, mapping)) + r")\b")
        return lambda text: pattern.sub(lambda m: mapping[m[1]], text)


def load_corpus() -> Corpus:
    import json

    path = data_file(DATA)
    raw = json.loads(path.read_text(encoding="utf-8"))
    sessions = [
        [(t.speaker, t.message) for t in s.turns] for c in load_locomo(path) for s in c.sessions
    ]
    summaries = [text for sample in raw for text in sample["session_summary"].values()]
    observations = [
        item[0]
        for sample in raw
        for per_session in sample["observation"].values()
        for items in per_session.values()
        for item in items
        if item and isinstance(item[0], str)
    ]
    speakers = sorted(
        {sample["conversation"][k] for sample in raw for k in ("speaker_a", "speaker_b")}
    )
    questions = [qa["question"] for sample in raw for qa in sample["qa"]]
    return Corpus(sessions, summaries, observations, questions, speakers)


def transcripts(corpus: Corpus) -> Iterator[list[Message]]:
    """LoCoMo sessions, forever, renamed on every pass; the first speaker of a
    session is the user, the other one answers."""
    cycle = 0
    while True:
        rename = corpus.renamer(cycle)
        for session in corpus.sessions:
            first = session[0][0]
            yield [
                Message.user(rename(text)) if speaker == first else Message.assistant(rename(text))
                for speaker, text in session
            ]
        cycle += 1


# ---- filling a project ---------------------------------------------------------------


class Filler:
    """Grows one project's memory to a number of stored memories."""

    def __init__(self, memory: Memory, corpus: Corpus, rng: random.Random) -> None:
        self.memory, self.corpus, self.rng = memory, corpus, rng
        self.stream = transcripts(corpus)
        self.messages = self.summaries = self.entries = self.sessions = 0
        self.seconds = 0.0

    @property
    def total(self) -> int:
        return self.messages + self.summaries + self.entries

    def grow(self, size: int) -> None:
        start = time.perf_counter()
        now = time.time()
        want_messages = size * MESSAGES_PER_1000 // 1000
        while self.messages < want_messages:
            batch = next(self.stream)[: want_messages - self.messages]
            sid = f"bench{self.sessions:06d}"
            at = now - self.rng.random() * YEAR
            self.memory.sessions.create(sid, title=f"session {self.sessions}", started=at)
            self.memory.sessions.append(sid, 1, batch, at=at + 60 * len(batch))
            self.messages += len(batch)
            self.sessions += 1
        while self.summaries < size * SUMMARIES_PER_1000 // 1000:
            self.add_summary(now - self.rng.random() * YEAR)
        while self.entries < size * ENTRIES_PER_1000 // 1000:
            self.add_entry()
        self.seconds += time.perf_counter() - start

    def add_summary(self, ended: float) -> None:
        n = self.summaries
        rename = self.corpus.renamer(n // len(self.corpus.summaries))
        body = rename(self.corpus.summaries[n % len(self.corpus.summaries)])
        title = " ".join(body.split()[:8])
        self.memory.summaries.add(Summary(f"sum{n:06d}", ended - 3_600, ended, title, body))
        self.summaries += 1

    def add_entry(self) -> None:
        n = self.entries
        rename = self.corpus.renamer(n // len(self.corpus.observations))
        value = rename(self.corpus.observations[(n * 37) % len(self.corpus.observations)])
        kind = ENTRY_KINDS[n % len(ENTRY_KINDS)]
        why = rename(self.corpus.observations[(n * 53 + 11) % len(self.corpus.observations)])
        self.memory.entries.upsert(
            Entry(f"{kind}-{n:05d}", kind, value, rationale=why if n % 3 == 0 else "")
        )
        self.entries += 1


def open_memory(home: Path, name: str) -> Memory:
    workdir = home / "work" / name
    workdir.mkdir(parents=True)
    registry = open_registry(home)
    project = registry.create(workdir, name=name)
    registry.conn.close()
    return Memory(home=home, project=project, config=MemoryConfig(), count_tokens=count_tokens)


def add_traits(memory: Memory, corpus: Corpus, rng: random.Random) -> None:
    for i in range(TRAITS):
        value = corpus.observations[(i * 101) % len(corpus.observations)]
        memory.traits.observe(
            _DIMENSIONS[i % len(_DIMENSIONS)],
            f"trait-{i:02d}",
            value,
            pinned=i % 10 == 0,
            at=time.time() - rng.random() * 30 * 86_400,
        )


# ---- timing --------------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    label: str
    ms: list[float]
    note: str = ""

    def row(self) -> str:
        p50, p95 = percentile(self.ms, 50), percentile(self.ms, 95)
        return f"| {self.label} | {p50:.2f} | {p95:.2f} | {max(self.ms):.2f} | {self.note} |"


def timed(fn: Callable[[], object], times: int) -> list[float]:
    out = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def search_timings(memory: Memory, queries: list[str], size_label: str) -> list[Timing]:
    for q in queries[:10]:  # warm the page cache and the statement cache
        memory.search(q)
    hits = []
    all_ms, history_ms = [], []
    for q in queries:
        start = time.perf_counter()
        hits.append(len(memory.search(q)))
        all_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        memory.search(q, sources=("history",))
        history_ms.append((time.perf_counter() - start) * 1000)
    found = sum(hits) / len(hits)
    return [
        Timing(
            f"`Memory.search`, all sources, {size_label}",
            all_ms,
            f"{len(queries)} queries, {found:.1f} hits each",
        ),
        Timing(f"`Memory.search`, history only, {size_label}", history_ms, ""),
    ]


def record_timing(memory: Memory, corpus: Corpus, size_label: str) -> Timing:
    sid = f"live-{size_label}"
    memory.sessions.create(sid)
    texts = [t for s in corpus.sessions[:20] for _, t in s][:RECORDS]
    turn = iter(range(1, RECORDS + 1))
    messages = iter(texts)
    ms = timed(lambda: memory.record(sid, next(turn), [Message.user(next(messages))]), RECORDS)
    return Timing(
        f"`Memory.record` (one message, its own transaction), {size_label}",
        ms,
        f"{RECORDS} messages into one session",
    )


def measure() -> tuple[list[Timing], list[str]]:
    rng = random.Random(20260101)
    corpus = load_corpus()
    queries = rng.sample(corpus.questions, QUERIES)
    timings: list[Timing] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mnemo-latency-") as tmp:
        home = Path(tmp)
        # -- the injection, in a project of its own: ~50 summaries, ~200 entries
        small = open_memory(home, "injection")
        add_traits(small, corpus, rng)
        filler = Filler(small, corpus, rng)
        now = time.time()
        for i in range(INJECTION_SUMMARIES):
            filler.add_summary(now - (INJECTION_SUMMARIES - i) * 86_400)
        for _ in range(INJECTION_ENTRIES):
            filler.add_entry()
        start = time.perf_counter()
        count_tokens("load the encoding")
        load_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        first_prefix = small.prefix_text()
        first_recent = small.recent_section()
        cold = (time.perf_counter() - start) * 1000
        prefix_tokens = count_tokens(first_prefix)
        core, project = small.prefix_sections()
        timings.append(
            Timing(
                "`prefix_text()` (once per session)",
                timed(small.prefix_text, 100),
                f"{prefix_tokens:,} tokens: {core.items} traits, {project.items} of "
                f"{INJECTION_ENTRIES} entries ({project.left_out} left out, cap "
                f"{small.config.prefix_tokens:,})",
            )
        )
        timings.append(
            Timing(
                "`recent_section()` (every turn)",
                timed(small.recent_section, 200),
                f"{first_recent.tokens:,} tokens: "
                f"{INJECTION_SUMMARIES - first_recent.left_out} of "
                f"{INJECTION_SUMMARIES} summaries ({first_recent.left_out} left out, "
                f"cap {small.config.recent_tokens:,})",
            )
        )
        notes.append(
            f"First `prefix_text()` + `recent_section()` of the process (token counts not "
            f"yet memoised): {cold:.1f} ms, after {load_ms:.0f} ms loading the "
            "tokenizer."
        )
        small.close()

        # -- search and record at 10k, then the same project grown to 100k
        big = open_memory(home, "big")
        filler = Filler(big, corpus, rng)
        try:
            for size in SIZES:
                filler.grow(size)
                label = f"{size // 1000}k"
                big.project_db.execute("PRAGMA optimize")
                timings += search_timings(big, queries, label)
                timings.append(record_timing(big, corpus, label))
                notes.append(
                    f"{label}: {filler.messages:,} messages in {filler.sessions:,} sessions, "
                    f"{filler.summaries:,} summaries, {filler.entries:,} entries "
                    f"(filled in {filler.seconds:.1f} s so far, sessions appended whole "
                    f"with `SessionStore.append`); database "
                    f"{db_size(big) / 2**20:.0f} MiB."
                )
        finally:
            big.close()
    return timings, notes


def db_size(memory: Memory) -> int:
    path = memory.project.data_dir(memory.home)
    return sum(p.stat().st_size for p in path.glob("memory.db*"))


def run() -> str:
    load_before = os.getloadavg()[0]
    timings, notes = measure()
    load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    lines = [
        "## Memory latency",
        "",
        f"Machine: {machine()}. Wall clock (`time.perf_counter`), in-process, warm "
        "page cache; the databases on local disk (WAL, `synchronous = NORMAL`); load "
        f"average {load} (other processes share the cores). "
        f"Tokens: `{encoding_name()}`.",
        "",
        "Stored text: LoCoMo turns, session summaries and observations cycled with "
        "variations (each pass renames the speakers). Per 1,000 memories: 950 "
        "transcript messages (whole LoCoMo sessions at random times over the past "
        "year), 30 session summaries, 20 project-memory entries; 30 core traits. "
        f"Queries: {QUERIES} LoCoMo questions, `limit=10`.",
        "",
        "| what | p50 ms | p95 ms | max ms | notes |",
        "|---|---|---|---|---|",
        *(t.row() for t in timings),
        "",
        f"Injection measured in a project with {INJECTION_SUMMARIES} session summaries "
        f"and {INJECTION_ENTRIES} entries (plus the {TRAITS} traits). " + " ".join(notes),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m bench.memory_latency [--data <folder>]
    take_data_option(sys.argv[1:])
    print(run())
