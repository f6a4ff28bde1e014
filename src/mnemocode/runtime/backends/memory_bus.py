"""The in-process event bus: a bounded log, cursors, and groups with pending deliveries."""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Protocol

from mnemocode.runtime.backends.shared import Signal, copy_json
from mnemocode.runtime.protocols import Event, Json
from mnemocode.runtime.subjects import matches, validate_pattern, validate_subject


@dataclass(slots=True)
class MemoryDelivery:
    event: Event
    attempt: int
    _owner: _Consumer
    _token: int

    async def ack(self) -> None:
        self._owner.acked(self._token, self.event.seq)

    async def nack(self, delay: float = 0.0) -> None:
        self._owner.nacked(self._token, self, delay)


class _Consumer(Protocol):
    def acked(self, token: int, seq: int) -> None: ...

    def nacked(self, token: int, delivery: MemoryDelivery, delay: float) -> None: ...


@dataclass(slots=True)
class _Pending:
    event: Event
    attempt: int
    deadline: float
    token: int


@dataclass(slots=True)
class _Group:
    cursor: int
    pending: dict[int, _Pending] = field(default_factory=dict)
    due: list[tuple[float, int, int]] = field(default_factory=list)  # (deadline, seq, token)


class MemoryBus:
    def __init__(self, max_events: int) -> None:
        self._max_events = max_events
        self._events: dict[int, Event] = {}
        self._first = 1
        self._last = 0
        self._groups: dict[tuple[str, str], _Group] = {}
        self.tokens = itertools.count(1)
        self.signal = Signal()

    async def publish(self, subject: str, data: Json) -> int:
        validate_subject(subject)
        self._last += 1
        self._events[self._last] = Event(subject, copy_json(data), self._last, time.time())
        while len(self._events) > self._max_events:
            del self._events[self._first]
            self._first += 1
        self.signal.notify()
        return self._last

    async def last_seq(self) -> int:
        return self._last

    def subscribe(
        self,
        pattern: str,
        *,
        group: str | None = None,
        start: int | None = None,
        ack_wait: float = 30.0,
    ) -> PlainSubscription | GroupMember:
        validate_pattern(pattern)
        cursor = self._last + 1 if start is None else start
        if group is None:
            return PlainSubscription(self, pattern, cursor)
        state = self._groups.setdefault((group, pattern), _Group(cursor))
        return GroupMember(self, pattern, state, ack_wait)

    def next_matching(self, pattern: str, cursor: int) -> tuple[Event | None, int]:
        """The first event at or after ``cursor`` that ``pattern`` matches, and the
        cursor after it (past everything scanned)."""
        seq = max(cursor, self._first)
        while seq <= self._last:
            event = self._events[seq]
            seq += 1
            if matches(pattern, event.subject):
                return event, seq
        return None, seq


class PlainSubscription:
    def __init__(self, bus: MemoryBus, pattern: str, cursor: int) -> None:
        self._bus, self._pattern, self._cursor = bus, pattern, cursor
        self._again: list[tuple[float, int, MemoryDelivery]] = []
        self._closed = False

    def __aiter__(self) -> PlainSubscription:
        return self

    async def __anext__(self) -> MemoryDelivery:
        while not self._closed:
            now = time.monotonic()
            if self._again and self._again[0][0] <= now:
                return heapq.heappop(self._again)[2]
            event, self._cursor = self._bus.next_matching(self._pattern, self._cursor)
            if event is not None:
                return MemoryDelivery(event, 1, self, 0)
            await self._bus.signal.wait(self._again[0][0] - now if self._again else None)
        raise StopAsyncIteration

    async def close(self) -> None:
        self._closed = True
        self._bus.signal.notify()

    def acked(self, token: int, seq: int) -> None:
        return None

    def nacked(self, token: int, delivery: MemoryDelivery, delay: float) -> None:
        again = MemoryDelivery(delivery.event, delivery.attempt + 1, self, 0)
        heapq.heappush(self._again, (time.monotonic() + delay, next(self._bus.tokens), again))
        self._bus.signal.notify()


class GroupMember:
    def __init__(self, bus: MemoryBus, pattern: str, group: _Group, ack_wait: float) -> None:
        self._bus, self._pattern, self._group, self._ack_wait = bus, pattern, group, ack_wait
        self._closed = False

    def __aiter__(self) -> GroupMember:
        return self

    async def __anext__(self) -> MemoryDelivery:
        group = self._group
        while not self._closed:
            now = time.monotonic()
            redelivery = self._take_due(now)
            if redelivery is not None:
                return redelivery
            event, group.cursor = self._bus.next_matching(self._pattern, group.cursor)
            if event is not None:
                return self._hand_out(_Pending(event, 1, 0.0, 0), now)
            await self._bus.signal.wait(group.due[0][0] - now if group.due else None)
        raise StopAsyncIteration

    def _take_due(self, now: float) -> MemoryDelivery | None:
        due = self._group.due
        while due and due[0][0] <= now:
            _, seq, token = heapq.heappop(due)
            pending = self._group.pending.get(seq)
            if pending is not None and pending.token == token:
                pending.attempt += 1
                return self._hand_out(pending, now)
        return None

    def _hand_out(self, pending: _Pending, now: float) -> MemoryDelivery:
        pending.token = next(self._bus.tokens)
        pending.deadline = now + self._ack_wait
        seq = pending.event.seq
        self._group.pending[seq] = pending
        heapq.heappush(self._group.due, (pending.deadline, seq, pending.token))
        return MemoryDelivery(pending.event, pending.attempt, self, pending.token)

    async def close(self) -> None:
        self._closed = True
        self._bus.signal.notify()

    def acked(self, token: int, seq: int) -> None:
        pending = self._group.pending.get(seq)
        if pending is not None and pending.token == token:
            del self._group.pending[seq]

    def nacked(self, token: int, delivery: MemoryDelivery, delay: float) -> None:
        pending = self._group.pending.get(delivery.event.seq)
        if pending is None or pending.token != token:
            return
        pending.token = next(self._bus.tokens)
        pending.deadline = time.monotonic() + delay
        heapq.heappush(self._group.due, (pending.deadline, delivery.event.seq, pending.token))
        self._bus.signal.notify()
