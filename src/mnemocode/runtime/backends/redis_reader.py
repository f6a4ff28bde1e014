"""What every Redis bus subscription shares, plain or in a group: the delivery
handed out, where reading starts, and the read loop that survives restarts."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mnemocode.runtime.backends.redis_client import (
    READ_BLOCK_MS,
    TRANSIENT,
    Outage,
    cancel_requests,
    check_cancel,
    last_before,
    stream_seq,
)
from mnemocode.runtime.backends.shared import load_json
from mnemocode.runtime.protocols import BackendError, Event

T = TypeVar("T")
READ_COUNT = 100


@dataclass(slots=True)
class RedisDelivery:
    event: Event
    attempt: int
    entry_id: str
    _owner: Owner

    async def ack(self) -> None:
        await self._owner.acked(self)

    async def nack(self, delay: float = 0.0) -> None:
        await self._owner.nacked(self, delay)


class Owner(Protocol):
    async def acked(self, delivery: RedisDelivery) -> None: ...

    async def nacked(self, delivery: RedisDelivery, delay: float) -> None: ...


def to_event(entry_id: str, fields: dict[str, str]) -> Event:
    return Event(fields["s"], load_json(fields["d"]), stream_seq(entry_id), float(fields["t"]))


class Position:
    """Where a reader starts: after ``start - 1``, or after what existed at ``since``."""

    def __init__(self, client: Redis, stream: str, start: int | None, since: float) -> None:
        self._client, self._stream, self._since = client, stream, since
        self._after = None if start is None else max(start - 1, 0)

    async def after(self) -> int:
        if self._after is None:
            self._after = await last_before(self._client, self._stream, self._since)
        return self._after


class Reader:
    """The loop every subscription shares: hand out what is buffered or due again,
    otherwise read more; survive server restarts; ``close`` cancels a blocked read."""

    def __init__(self) -> None:
        self.buffer: deque[RedisDelivery] = deque()
        self.again: list[tuple[float, int, RedisDelivery]] = []  # (monotonic due, n, delivery)
        self.closed = False
        self.on_close: Callable[[Reader], None] | None = None
        self._order = itertools.count()
        self._read: asyncio.Future[Any] | None = None

    def __aiter__(self) -> Reader:
        return self

    async def __anext__(self) -> RedisDelivery:
        outage = Outage("subscription")
        while not self.closed:
            if self.again and self.again[0][0] <= time.monotonic():
                return heapq.heappop(self.again)[2]
            if self.buffer:
                return self.buffer.popleft()
            cancels = cancel_requests()
            try:
                await self.fill(self.block_ms())
                outage.ok()
            except TRANSIENT as exc:
                await outage.failed(exc)
            except RedisError as exc:
                raise BackendError(f"redis: {exc}") from exc
            except asyncio.CancelledError:
                if not self.closed or cancel_requests() > cancels:
                    raise  # cancelled from outside, not by our own close()
            check_cancel(cancels)
        raise StopAsyncIteration

    def block_ms(self) -> int:
        if not self.again:
            return READ_BLOCK_MS
        return max(1, min(READ_BLOCK_MS, int((self.again[0][0] - time.monotonic()) * 1000)))

    def later(self, delivery: RedisDelivery, delay: float) -> None:
        heapq.heappush(self.again, (time.monotonic() + delay, next(self._order), delivery))

    async def blocking(self, read: Callable[[], Awaitable[T]]) -> T:
        """Run ``read()`` in a task that ``close`` can cancel.

        The command is created inside the task: redis-py 8 wraps XREAD(GROUP) in a
        coroutine that awaits the command's, so a task cancelled before its first step
        would leave the inner one never awaited."""
        future = asyncio.ensure_future(_run(read))
        self._read = future
        try:
            return await future
        finally:
            self._read = None
            if not future.done():
                # Cancelled from outside: let the read run its cancellation now
                # rather than leave a pending task to a loop that may close first.
                future.cancel()
                await asyncio.gather(future, return_exceptions=True)

    async def fill(self, block_ms: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        self.closed = True
        read = self._read
        if read is not None:
            read.cancel()
            # Let the cancelled read finish its cancellation before we report closed.
            await asyncio.gather(read, return_exceptions=True)
        if self.on_close is not None:
            self.on_close(self)


async def _run(read: Callable[[], Awaitable[T]]) -> T:
    return await read()
