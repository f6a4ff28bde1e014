"""A member of a durable group on the Redis bus: a Redis consumer group named by
pattern and group, read with XREADGROUP.

- Entries the pattern does not match are acknowledged as soon as they are read.
- Acks are batched: ``ack()`` queues the id and one background XACK sends what
  has gathered (a crash before it lands means a redelivery, which at-least-once allows).
- ``nack(delay)`` keeps the entry pending and records when it may go out again in a
  sorted set; stale pending entries (idle past ``ack_wait``) and due nacks are
  claimed by whichever member looks next (XPENDING + XCLAIM in one script), with
  the delivery count as the attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from mnemocode.runtime.backends.redis_client import TRANSIENT, Keys, Outage, read_entries
from mnemocode.runtime.backends.redis_reader import (
    READ_COUNT,
    Position,
    Reader,
    RedisDelivery,
    to_event,
)
from mnemocode.runtime.subjects import matches

log = logging.getLogger(__name__)

_NOW_MS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# KEYS: stream, retry set. ARGV: group, consumer, ack_wait ms, count.
# Returns {id, {field, value, ...}, attempt} per claimed entry.
_RECLAIM = (
    _NOW_MS
    + """
local stream, retry, group, me = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local count = tonumber(ARGV[4])
local out = {}
local function claim(id, deliveries, min_idle)
  local claimed = redis.call('XCLAIM', stream, group, me, min_idle, id)
  if claimed[1] then
    table.insert(out, {claimed[1][1], claimed[1][2], deliveries + 1})
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', retry, '-inf', now, 'LIMIT', 0, count)) do
  redis.call('ZREM', retry, id)
  local pending = redis.call('XPENDING', stream, group, id, id, 1)
  if pending[1] then claim(id, pending[1][4], 0) end
end
local stale = redis.call('XPENDING', stream, group, 'IDLE', ARGV[3], '-', '+', count)
for _, pending in ipairs(stale) do
  if not redis.call('ZSCORE', retry, pending[1]) then claim(pending[1], pending[4], ARGV[3]) end
end
return out
"""
)

# KEYS: retry set. ARGV: delay ms, ids...
_RETRY_LATER = (
    _NOW_MS
    + """
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end
"""
)

# KEYS: stream. ARGV: group, consumer. A consumer with nothing pending is forgotten.
_LEAVE = """
if not redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])[1] then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
"""


class GroupMember(Reader):
    def __init__(  # noqa: PLR0917
        self,
        client: Redis,
        keys: Keys,
        pattern: str,
        group: str,
        position: Position,
        ack_wait: float,
    ) -> None:
        super().__init__()
        self._client, self._stream, self._pattern = client, keys.bus, pattern
        # a group is its name and its pattern; patterns have no spaces
        self._group = f"{pattern} {group}"
        self._retry = keys.bus_retry(self._group)
        self._me = uuid.uuid4().hex
        self._position = position
        self._ack_wait_ms = max(1, int(ack_wait * 1000))
        self._reclaim_every = max(0.05, min(ack_wait / 2, 1.0))
        self._next_reclaim = 0.0
        self._joined = False
        self._acks: list[str] = []
        self._flusher: asyncio.Task[None] | None = None
        self._reclaim = client.register_script(_RECLAIM)
        self._retry_later = client.register_script(_RETRY_LATER)
        self._leave = client.register_script(_LEAVE)

    async def fill(self, block_ms: int) -> None:
        try:
            await self._fill(block_ms)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._joined = False  # the stream was lost (a server without persistence)

    async def _fill(self, block_ms: int) -> None:
        if not self._joined:
            await self._join()
        now = time.monotonic()
        if now >= self._next_reclaim:
            self._next_reclaim = now + self._reclaim_every
            claimed = await self._reclaim(
                keys=(self._stream, self._retry),
                args=(self._group, self._me, self._ack_wait_ms, READ_COUNT),
            )
            for entry_id, flat, attempt in claimed:
                self._offer(entry_id, dict(zip(flat[::2], flat[1::2], strict=True)), int(attempt))
            if self.buffer:
                return
        block_ms = max(1, min(block_ms, int((self._next_reclaim - now) * 1000)))
        stream: dict[Any, Any] = {self._stream: ">"}
        entries = read_entries(
            await self.blocking(
                lambda: self._client.xreadgroup(
                    self._group, self._me, stream, count=READ_COUNT, block=block_ms
                )
            )
        )
        for entry_id, fields in entries:
            self._offer(entry_id, fields, 1)

    def _offer(self, entry_id: str, fields: dict[str, str], attempt: int) -> None:
        if matches(self._pattern, fields["s"]):
            self.buffer.append(RedisDelivery(to_event(entry_id, fields), attempt, entry_id, self))
        else:
            self._queue_ack(entry_id)

    async def _join(self) -> None:
        after = await self._position.after()
        try:
            await self._client.xgroup_create(self._stream, self._group, f"{after}-0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._joined = True

    async def acked(self, delivery: RedisDelivery) -> None:
        if self.closed:
            await self._client.xack(self._stream, self._group, delivery.entry_id)
        else:
            self._queue_ack(delivery.entry_id)

    async def nacked(self, delivery: RedisDelivery, delay: float) -> None:
        delay_ms = max(0, int(delay * 1000))
        await self._retry_later(keys=(self._retry,), args=(delay_ms, delivery.entry_id))
        self._next_reclaim = min(self._next_reclaim, time.monotonic() + delay)

    def _queue_ack(self, entry_id: str) -> None:
        self._acks.append(entry_id)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        outage = Outage("ack")
        try:
            while self._acks:
                ids, self._acks = self._acks, []
                try:
                    await self._client.xack(self._stream, self._group, *ids)
                    outage.ok()
                except TRANSIENT as exc:
                    self._acks[:0] = ids
                    await outage.failed(exc)
        except (RedisError, *TRANSIENT) as exc:
            # unacked entries are delivered again after ack_wait: at-least-once holds
            log.warning("redis bus: could not acknowledge %d entries: %s", len(self._acks), exc)
        finally:
            self._flusher = None

    async def close(self) -> None:
        if self.closed:
            return
        await super().close()
        unread = [delivery.entry_id for delivery in self.buffer]
        self.buffer.clear()
        with contextlib.suppress(RedisError, *TRANSIENT):
            if unread:  # another member may have them now, not after ack_wait
                await self._retry_later(keys=(self._retry,), args=(0, *unread))
            if self._flusher is not None:
                await self._flusher
            if self._joined:
                await self._leave(keys=(self._stream,), args=(self._group, self._me))
