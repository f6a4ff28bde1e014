"""Doing the queued memory work: session summaries, extraction, consolidation.

Each job is leased, done, and marked done; a failure is recorded and retried
later (up to the queue's attempt limit), and reported in a short line of our own
— never the model's raw reply — and never silently dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from mnemocode.core.errors import MnemoError
from mnemocode.core.protocols import ChatModel
from mnemocode.core.types import Message
from mnemocode.memory.compaction import render_summary, summarize_session
from mnemocode.memory.extraction import propose_ops
from mnemocode.memory.jobs import MAX_ATTEMPTS, Job
from mnemocode.memory.stores import MemoryStores
from mnemocode.memory.structured import StructuredOutputError
from mnemocode.memory.types import Summary

Progress = Callable[[str], None]

JOB_NAMES = {
    "summarize": "summary",
    "extract": "extraction",
    "consolidate": "consolidation",
    "embed": "embeddings",
}
REASON_CHARS = 160


def failure_reason(exc: BaseException) -> str:
    """Why a job failed, in a few words: the model's reply is never quoted."""
    if isinstance(exc, StructuredOutputError):
        if exc.problem.startswith("validation error"):
            return "the model's reply did not have the expected fields"
        return "the model's reply was not valid JSON"
    why = exc.one_line() if isinstance(exc, MnemoError) else f"{type(exc).__name__}: {exc}"
    why = " ".join(why.split())
    return why if len(why) <= REASON_CHARS else why[: REASON_CHARS - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


@dataclass(slots=True)
class JobsReport:
    """What one run of the worker did."""

    done: int = 0
    failures: list[str] = field(default_factory=list)  # "summary failed: … (attempt 2 of 3)"
    gave_up: int = 0  # failed for good (the last attempt)
    problem: str = ""  # the run itself stopped (the database, not a job)

    def line(self) -> str:
        """One line for the user."""
        parts = [f"{_plural(self.done, 'job')} done"] if self.done or not self.failures else []
        parts += self.failures
        if self.problem:
            parts.append(f"stopped: {self.problem}")
        return "memory: " + "; ".join(parts)


async def run_jobs(memory: MemoryStores, model: ChatModel, progress: Progress) -> JobsReport:
    """Run every available job; ``progress`` gets a line per job."""
    report = JobsReport()
    while (job := memory.jobs.lease()) is not None:
        name = JOB_NAMES.get(job.kind, job.kind)
        label = f"{name} of session {job.session_id}" if job.session_id != "*" else name
        progress(f"memory: {label}…")
        try:
            result = await _run(memory, model, job)
        except Exception as exc:  # a failed job is kept for later, never fatal
            why = failure_reason(exc)
            again = memory.jobs.failed(job, why)
            failure = f"{name} failed: {why} (attempt {job.attempts} of {MAX_ATTEMPTS})"
            failure += "; retried later" if again else "; given up"
            report.failures.append(failure)
            progress(f"memory: {failure}")
            if again:
                break  # the model is probably unreachable: do not hammer it now
            report.gave_up += 1
            continue
        except BaseException:
            # Interrupted (Ctrl-C, the app closing), not failed: given back so the
            # next worker does it, instead of waiting for the lease to run out.
            memory.jobs.release(job)
            raise
        memory.jobs.done(job)
        report.done += 1
        progress(f"memory: {label}: {result}")
    return report


async def _run(memory: MemoryStores, model: ChatModel, job: Job) -> str:
    if job.kind == "summarize":
        return await _summarize(memory, model, job.session_id)
    if job.kind == "embed":
        if memory.vectors is None:
            return "embeddings are off"
        vectors = memory.vectors
        done = await asyncio.to_thread(vectors.index_pending)
        return f"embedded {done} new or changed memories"
    if job.kind == "extract":
        messages = memory.sessions.messages(
            job.session_id, from_seq=int(job.payload.get("from_seq", 0))
        )
        if not messages:
            return "nothing to extract"
        ops = await propose_ops(
            model,
            messages,
            current_project=memory.entries.all(),
            current_core=memory.traits.all(),
        )
        return str(memory.apply(ops, session_id=job.session_id))
    if job.kind == "consolidate":
        return await _consolidate(memory, model)
    return f"unknown job kind {job.kind!r} skipped"


async def _summarize(memory: MemoryStores, model: ChatModel, session_id: str) -> str:
    info = memory.sessions.get(session_id)
    messages = memory.sessions.messages(session_id)
    if info is None or not messages:
        return "nothing to summarise"
    summary = await summarize_session(model, messages)
    title = summary.title.strip() or info.title or "session"
    memory.summaries.add(
        Summary(
            session_id,
            info.started,
            info.ended or info.updated,
            title,
            render_summary(summary, title=title).split("\n", 1)[-1].strip(),
        )
    )
    if not info.title:
        memory.sessions.set_title(session_id, title)
    if len(memory.summaries.current()) > memory.config.consolidate_after:
        memory.jobs.enqueue("consolidate", "*")
    return f"saved summary {title!r}"


async def _consolidate(memory: MemoryStores, model: ChatModel) -> str:
    """Fold the oldest half of the current summaries into one coarser summary."""
    current = memory.summaries.current()
    keep = memory.config.consolidate_after // 2
    old = sorted(current[keep:], key=lambda s: s.started)
    if len(old) < 2:
        return "nothing to consolidate"
    messages = [Message.user(f"Session {s.session_id} ({s.title}):\n{s.body}") for s in old]
    merged = await summarize_session(model, messages)
    title = merged.title.strip() or f"{len(old)} earlier sessions"
    memory.summaries.consolidate(
        old,
        Summary(
            "*",
            old[0].started,
            old[-1].ended,
            title,
            render_summary(merged, title=title).split("\n", 1)[-1].strip(),
            level=1 + max(s.level for s in old),
            covers=[s.session_id for s in old],
        ),
    )
    return f"consolidated {len(old)} summaries into {title!r}"
