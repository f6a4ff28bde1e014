"""The in-process task queue: priority, leases with tokens, back-off, dead letters.

Three heaps per queue (ready by priority then arrival, delayed by when, leased by
deadline) make a lease O(log n). Entries leave the heaps lazily: a heap item
whose entry has moved on (acked, leased, re-delayed, extended) is dropped when it
surfaces."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import time
import uuid
from dataclasses import dataclass, field

from mnemocode.runtime.backends.shared import Signal, copy_json, default_backoff
from mnemocode.runtime.protocols import Json, Lease, QueueStats, Task


@dataclass(slots=True)
class _Entry:
    task: Task
    order: int  # FIFO within a priority
    available: float = 0.0  # monotonic; later than now = delayed
    token: str = ""  # set while leased
    deadline: float = 0.0  # monotonic end of the lease


@dataclass(slots=True)
class _Queue:
    entries: dict[str, _Entry] = field(default_factory=dict)
    dead: dict[str, Task] = field(default_factory=dict)
    ready: list[tuple[int, int, str]] = field(default_factory=list)  # (-priority, order, id)
    delayed: list[tuple[float, int, str]] = field(default_factory=list)  # (available, order, id)
    leased: list[tuple[float, str, str]] = field(default_factory=list)  # (deadline, token, id)

    def make_ready(self, entry: _Entry) -> None:
        heapq.heappush(self.ready, (-entry.task.priority, entry.order, entry.task.id))

    def current(self, task_id: str, order: int) -> _Entry | None:
        entry = self.entries.get(task_id)
        return entry if entry is not None and entry.order == order else None


class MemoryTasks:
    def __init__(self, max_attempts: int) -> None:
        self._max_attempts = max_attempts
        self._queues: dict[str, _Queue] = {}
        self._order = itertools.count()
        self._signal = Signal()

    async def enqueue(
        self, queue: str, payload: Json, *, priority: int = 0, task_id: str | None = None
    ) -> str:
        state = self._queue(queue)
        if task_id is not None and (task_id in state.entries or task_id in state.dead):
            return task_id
        task = Task(
            task_id or uuid.uuid4().hex, queue, copy_json(payload), priority, 0, time.time()
        )
        entry = state.entries[task.id] = _Entry(task, next(self._order))
        state.make_ready(entry)
        self._signal.notify()
        return task.id

    async def lease(
        self, queue: str, *, visibility: float = 60.0, wait: float = 0.0
    ) -> Lease | None:
        give_up = time.monotonic() + wait
        while True:
            now = time.monotonic()
            entry, next_change = self._take(self._queue(queue), now)
            if entry is not None:
                entry.token, entry.deadline = uuid.uuid4().hex, now + visibility
                _push_lease(self._queue(queue), entry)
                return _lease(entry)
            if now >= give_up:
                return None
            await self._signal.wait(min(give_up, next_change) - now)

    async def ack(self, lease: Lease) -> bool:
        state = self._queue(lease.task.queue)
        entry = self._held(state, lease)
        if entry is None:
            return False
        del state.entries[entry.task.id]
        return True

    async def nack(self, lease: Lease, *, error: str = "", delay: float | None = None) -> bool:
        state = self._queue(lease.task.queue)
        entry = self._held(state, lease)
        if entry is None:
            return False
        self._fail(state, entry, error, delay, time.monotonic())
        return True

    async def extend(self, lease: Lease, visibility: float) -> Lease | None:
        state = self._queue(lease.task.queue)
        entry = self._held(state, lease)
        if entry is None:
            return None
        entry.deadline = time.monotonic() + visibility
        _push_lease(state, entry)
        return _lease(entry)

    async def dead_letters(self, queue: str) -> list[Task]:
        state = self._queue(queue)
        self._expire(state, time.monotonic())
        return list(state.dead.values())

    async def stats(self, queue: str) -> QueueStats:
        state = self._queue(queue)
        now = time.monotonic()
        self._expire(state, now)
        leased = sum(1 for e in state.entries.values() if e.token)
        delayed = sum(1 for e in state.entries.values() if not e.token and e.available > now)
        ready = len(state.entries) - leased - delayed
        return QueueStats(ready, leased, delayed, len(state.dead))

    def _queue(self, name: str) -> _Queue:
        return self._queues.setdefault(name, _Queue())

    def _held(self, state: _Queue, lease: Lease) -> _Entry | None:
        entry = state.entries.get(lease.task.id)
        if entry is None or entry.token != lease.token:
            return None
        return entry

    def _take(self, state: _Queue, now: float) -> tuple[_Entry | None, float]:
        """The entry to lease next, or None and when something may become available."""
        self._expire(state, now)
        while state.delayed and state.delayed[0][0] <= now:
            available, order, task_id = heapq.heappop(state.delayed)
            entry = state.current(task_id, order)
            if entry is not None and not entry.token and entry.available == available:
                state.make_ready(entry)
        best: _Entry | None = None
        while state.ready and best is None:
            _, order, task_id = heapq.heappop(state.ready)
            entry = state.current(task_id, order)
            if entry is not None and not entry.token and entry.available <= now:
                best = entry
        next_change = min(
            state.delayed[0][0] if state.delayed else float("inf"),
            state.leased[0][0] if state.leased else float("inf"),
        )
        return best, next_change

    def _expire(self, state: _Queue, now: float) -> None:
        while state.leased and state.leased[0][0] <= now:
            deadline, token, task_id = heapq.heappop(state.leased)
            entry = state.entries.get(task_id)
            if entry is not None and entry.token == token and entry.deadline == deadline:
                self._fail(state, entry, "lease expired", 0.0, now)

    def _fail(
        self, state: _Queue, entry: _Entry, error: str, delay: float | None, now: float
    ) -> None:
        attempts = entry.task.attempts + 1
        entry.task = dataclasses.replace(entry.task, attempts=attempts, error=error)
        entry.token = ""
        if attempts >= self._max_attempts:
            del state.entries[entry.task.id]
            state.dead[entry.task.id] = entry.task
            return
        entry.available = now + (default_backoff(attempts) if delay is None else delay)
        heapq.heappush(state.delayed, (entry.available, entry.order, entry.task.id))
        self._signal.notify()


def _lease(entry: _Entry) -> Lease:
    remaining = entry.deadline - time.monotonic()
    return Lease(entry.task, entry.token, time.time() + remaining)


def _push_lease(state: _Queue, entry: _Entry) -> None:
    heapq.heappush(state.leased, (entry.deadline, entry.token, entry.task.id))
