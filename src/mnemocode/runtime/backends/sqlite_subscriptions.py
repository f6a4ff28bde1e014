"""A plain (group-less) SQLite subscriber: its cursor lives in memory, it reads the
log in batches, and a nack queues the event for itself again."""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque

from mnemocode.runtime.backends.sqlite_log import Log, SqliteDelivery, event_from

BATCH = 256


class PlainSubscription:
    def __init__(self, log: Log, pattern: str, cursor: int) -> None:
        self._log, self._pattern, self._cursor = log, pattern, cursor
        self._ready: deque[SqliteDelivery] = deque()
        self._again: list[tuple[float, int, SqliteDelivery]] = []
        self._order = itertools.count()
        self._closed = False

    def __aiter__(self) -> PlainSubscription:
        return self

    async def __anext__(self) -> SqliteDelivery:
        while not self._closed:
            now = time.monotonic()
            if self._again and self._again[0][0] <= now:
                return heapq.heappop(self._again)[2]
            if self._ready:
                return self._ready.popleft()
            upto = self._log.last_seq()
            if upto >= self._cursor:
                await self._fill(upto)
                continue
            await self._log.db.changed.wait(self._again[0][0] - now if self._again else None)
        raise StopAsyncIteration

    async def _fill(self, upto: int) -> None:
        cursor, pattern = self._cursor, self._pattern
        rows, self._cursor = await self._log.db.read(
            lambda conn: self._log.read(conn, pattern, cursor, upto, BATCH)
        )
        self._ready.extend(SqliteDelivery(event_from(row), 1, self) for row in rows)

    async def close(self) -> None:
        self._closed = True
        self._log.db.changed.notify()

    async def acked(self, delivery: SqliteDelivery) -> None:
        return None

    async def nacked(self, delivery: SqliteDelivery, delay: float) -> None:
        again = SqliteDelivery(delivery.event, delivery.attempt + 1, self)
        heapq.heappush(self._again, (time.monotonic() + delay, next(self._order), again))
        self._log.db.changed.notify()
