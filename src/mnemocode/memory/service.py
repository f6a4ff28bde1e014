"""``Memory``: one project's memory and the user's core memory, opened together.

The front ends and the agent talk to this; the stores underneath each own one
table group. Background work (session summaries, extraction, consolidation) goes
through the durable job queue, so it survives the process that asked for it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mnemocode.config.settings import MemoryConfig
from mnemocode.core.protocols import ChatModel
from mnemocode.core.types import Message
from mnemocode.memory import injection
from mnemocode.memory.db import MemoryError_, connect, transaction
from mnemocode.memory.entries import EntryStore
from mnemocode.memory.extraction import MemoryOps
from mnemocode.memory.jobs import JobQueue
from mnemocode.memory.migrations import CORE_MIGRATIONS, PROJECT_MIGRATIONS
from mnemocode.memory.mirror_sync import MirrorReport
from mnemocode.memory.projects import Project, ProjectRegistry
from mnemocode.memory.search import MemorySearch, SearchOptions
from mnemocode.memory.sessions import SessionStore
from mnemocode.memory.summaries import SummaryStore
from mnemocode.memory.traits import TraitStore
from mnemocode.memory.types import DEFAULT_DIMENSION, Entry, SearchHit

if TYPE_CHECKING:
    from mnemocode.memory.recorder import TranscriptRecorder
    from mnemocode.memory.vectors import VectorIndex
    from mnemocode.memory.worker import JobsReport

CountTokens = Callable[[str], int]


def open_core(home: Path) -> sqlite3.Connection:
    return connect(home / "core.db", CORE_MIGRATIONS)


def open_registry(home: Path) -> ProjectRegistry:
    return ProjectRegistry(open_core(home))


@dataclass(slots=True)
class AppliedOps:
    added: int = 0
    updated: int = 0
    deleted: int = 0

    def __str__(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.deleted} deleted"


class Memory:
    def __init__(
        self,
        *,
        home: Path,
        project: Project,
        config: MemoryConfig,
        count_tokens: CountTokens,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.home = home
        self.project = project
        self.config = config
        self.count = count_tokens
        self.clock = clock
        self.core_db = open_core(home)
        self.project_db = connect(project.data_dir(home) / "memory.db", PROJECT_MIGRATIONS)
        self.entries = EntryStore(self.project_db, clock=clock)
        self._sessions = SessionStore(self.project_db, clock=clock)
        self.summaries = SummaryStore(self.project_db, clock=clock)
        self.jobs = JobQueue(self.project_db)
        self.traits = TraitStore(self.core_db, clock=clock)
        self.registry = ProjectRegistry(self.core_db)
        self.searcher = MemorySearch(
            self.project_db,
            self.core_db,
            options=SearchOptions(config.recency_weight, config.recency_half_life_days),
            clock=clock,
        )
        self.recorder: TranscriptRecorder | None = None
        self.vectors: VectorIndex | None = None
        if config.embeddings:
            self._enable_vectors()

    def _enable_vectors(self) -> None:
        """BM25 fused with embeddings (the optional extra; a clear error without it)."""
        from mnemocode.memory.embeddings import load_embedder
        from mnemocode.memory.vectors import VectorIndex

        self.vectors = VectorIndex(self.project_db, load_embedder())
        self.searcher.vector_search = self.vectors.search

    @property
    def sessions(self) -> SessionStore:
        """The transcript store; what ``record_later`` handed over is written first,
        so every reader sees its own writes."""
        self.flush()
        return self._sessions

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        self.project_db.close()
        self.core_db.close()

    # ---- what the model sees -------------------------------------------------

    def prefix_sections(self) -> tuple[injection.Section, injection.Section]:
        cap = self.config.prefix_tokens
        core = injection.core_section(self.traits.all(), self.clock(), cap // 3, self.count)
        project = injection.project_section(
            self.entries.all(), self.project.name, cap - core.tokens, self.count
        )
        return core, project

    def prefix_text(self) -> str:
        return injection.prefix_text(*self.prefix_sections())

    def recent_section(self, *, exclude_session: str | None = None) -> injection.Section:
        summaries = [s for s in self.summaries.current() if s.session_id != exclude_session]
        return injection.recent_section(
            summaries, self.clock(), self.config.recent_tokens, self.count
        )

    def pinned_items(self) -> list[str]:
        """What must survive every compaction verbatim."""
        items = [injection.entry_line(e).removeprefix("- ") for e in self.entries.all() if e.pinned]
        items += [f"[{t.dimension}] {t.value}" for t in self.traits.all() if t.pinned]
        return items

    def search(
        self, query: str, *, limit: int = 10, sources: tuple[str, ...] | None = None
    ) -> list[SearchHit]:
        return self.searcher.search(query, limit=limit, sources=sources)

    # ---- writing -------------------------------------------------------------

    def remember(self, text: str, *, key: str | None = None, pinned: bool = False) -> Entry:
        from mnemocode.memory.mirror import derive_key

        return self.entries.upsert(
            Entry(key or derive_key(text, {e.key for e in self.entries.all()}), "note", text,
                  pinned=pinned)
        )  # fmt: skip

    def apply(self, ops: MemoryOps, *, session_id: str | None = None) -> AppliedOps:
        """Apply the judge's operations: each scope's in one transaction."""
        done = AppliedOps()
        project_ops = [op for op in ops.ops if op.layer == "project"]
        core_ops = [op for op in ops.ops if op.layer == "core"]
        with transaction(self.project_db):
            for op in project_ops:
                existing = self.entries.get(op.key)
                if existing is not None and existing.pinned:
                    continue  # a pin really pins: the judge neither rewrites nor deletes it
                if op.op == "delete":
                    done.deleted += self.entries.delete(op.key)
                    continue
                self.entries.upsert(
                    Entry(
                        op.key,
                        op.kind or (existing.kind if existing else "fact"),
                        op.value or (existing.value if existing else ""),
                        op.rationale or (existing.rationale if existing else ""),
                        op.status,
                        source="judge",
                        session_id=session_id,
                    )
                )
                if existing is None:
                    done.added += 1
                else:
                    done.updated += 1
        with transaction(self.core_db):
            for op in core_ops:
                dimension = op.dimension or DEFAULT_DIMENSION
                found = [t for t in self.traits.find(op.key) if t.dimension == dimension]
                if found and found[0].pinned:
                    continue
                if op.op == "delete":
                    for trait in found:
                        if trait.id is not None:
                            done.deleted += self.traits.delete(trait.id)
                    continue
                self.traits.observe(dimension, op.key, op.value, at=self.clock())
                if found:
                    done.updated += 1
                else:
                    done.added += 1
        return done

    def sync_mirror(self, workdir: Path) -> MirrorReport:
        """Two-way sync with ``<workdir>/.mnemo/MEMORY.md``: the user's edits since
        mnemo last wrote the file are applied (they win conflicts), then the file
        is rewritten from the database. All under the project's write lock, so two
        terminals starting together do not apply the same edit twice."""
        from mnemocode.memory.mirror_sync import sync

        return sync(self, workdir / ".mnemo" / "MEMORY.md")

    def record(self, session_id: str, turn: int, messages: list[Message]) -> list[int]:
        """Store ``messages`` now (and wait for the disk)."""
        return self._sessions.append(session_id, turn, messages, at=self.clock())

    def record_later(self, session_id: str, turn: int, message: Message) -> None:
        """Store ``message`` from a background thread: the agent's path does not wait.
        ``flush`` before reading the transcript back."""
        if self.recorder is None:
            from mnemocode.memory.recorder import TranscriptRecorder

            self.recorder = TranscriptRecorder(
                self.project.data_dir(self.home) / "memory.db", self.clock
            )
        self.recorder.add(session_id, turn, message)

    def flush(self) -> None:
        if self.recorder is None:
            return
        self.recorder.flush()
        if self.recorder.error is not None:
            error, self.recorder.error = self.recorder.error, None
            raise MemoryError_(f"could not store the transcript: {error}") from error

    # ---- sessions ending -----------------------------------------------------

    def end_session(self, session_id: str) -> bool:
        """Mark the session ended and queue its summary and extraction. Returns
        False when there was nothing to save.

        A trivial session (no tool call, at most ``[memory] trivial_turns`` turns: a
        quick question) gets no summary of its own — it would cost a model call for
        a line the transcript search finds anyway; its extraction is kept, which
        is what catches "remember that I…"."""
        self.flush()
        info = self.sessions.get(session_id)
        if info is None or info.messages == 0:
            return False
        if info.ended is not None and info.updated <= info.ended:
            return False  # saved already, nothing new since
        self.sessions.end(session_id, at=self.clock())
        if not self.is_trivial(session_id, info.turns):
            self.jobs.enqueue("summarize", session_id)
        if self.config.extract:
            self.jobs.enqueue("extract", session_id)
        if self.vectors is not None:
            self.jobs.enqueue("embed", "*")  # after the summary, which it embeds too
        return True

    def is_trivial(self, session_id: str, turns: int) -> bool:
        if turns > self.config.trivial_turns:
            return False
        return not any(m.tool_calls for m in self._sessions.messages(session_id))

    def queue_extraction(self, session_id: str, from_seq: int) -> None:
        """Extract from a long session while it runs (messages from ``from_seq``)."""
        if self.config.extract:
            self.jobs.enqueue("extract", session_id, {"from_seq": from_seq})

    def pending_jobs(self) -> int:
        counts = self.jobs.counts()
        return counts.get("pending", 0) + counts.get("running", 0)

    def layer_tokens(self, session_history: list[Message] | None = None) -> dict[str, int]:
        core, project = self.prefix_sections()
        tokens = {
            "core": core.tokens,
            "project": project.tokens,
            "recent": self.recent_section().tokens,
        }
        if session_history is not None:
            tokens["history"] = sum(self.count(m.text) for m in session_history)
        return tokens

    async def run_jobs(
        self, model: ChatModel, progress: Callable[[str], None] = lambda _m: None
    ) -> JobsReport:
        from mnemocode.memory.worker import run_jobs

        return await run_jobs(self, model, progress)
