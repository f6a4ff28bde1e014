"""The Redis event bus: one stream per namespace whose entry ids are ``<seq>-0``, so a
seq is a stream position and replay is a plain XREAD. Plain subscribers read with
XREAD BLOCK; groups are Redis consumer groups (``redis_groups``)."""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from mnemocode.runtime.backends.redis_client import (
    Keys,
    read_entries,
    stream_seq,
    translate_errors,
)
from mnemocode.runtime.backends.redis_groups import GroupMember
from mnemocode.runtime.backends.redis_reader import (
    READ_COUNT,
    Position,
    Reader,
    RedisDelivery,
    to_event,
)
from mnemocode.runtime.backends.shared import dump_json
from mnemocode.runtime.protocols import Json
from mnemocode.runtime.subjects import matches, validate_pattern, validate_subject

# INCR and XADD in one step, so seqs and stream order agree; the id is the seq.
_PUBLISH = """
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[4], string.format('%d-0', seq),
           's', ARGV[1], 'd', ARGV[2], 't', ARGV[3])
return seq
"""


class RedisBus:
    def __init__(self, client: Redis, keys: Keys, max_events: int) -> None:
        self._client, self._keys, self._max_events = client, keys, max_events
        self._publish = client.register_script(_PUBLISH)
        self._subscriptions: set[Reader] = set()

    @translate_errors
    async def publish(self, subject: str, data: Json) -> int:
        validate_subject(subject)
        args = (subject, dump_json(data), repr(time.time()), self._max_events)
        return int(await self._publish(keys=(self._keys.bus, self._keys.bus_seq), args=args))

    @translate_errors
    async def last_seq(self) -> int:
        return int(await self._client.get(self._keys.bus_seq) or 0)

    def subscribe(
        self,
        pattern: str,
        *,
        group: str | None = None,
        start: int | None = None,
        ack_wait: float = 30.0,
    ) -> Reader:
        validate_pattern(pattern)
        position = Position(self._client, self._keys.bus, start, time.time())
        reader: Reader
        if group is None:
            reader = PlainSubscription(self._client, self._keys, pattern, position)
        else:
            reader = GroupMember(self._client, self._keys, pattern, group, position, ack_wait)
        self._subscriptions.add(reader)
        reader.on_close = self._subscriptions.discard
        return reader

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.close()


class PlainSubscription(Reader):
    def __init__(self, client: Redis, keys: Keys, pattern: str, position: Position) -> None:
        super().__init__()
        self._client, self._stream, self._pattern = client, keys.bus, pattern
        self._position = position
        self._after: int | None = None

    async def fill(self, block_ms: int) -> None:
        if self._after is None:
            self._after = await self._position.after()
        stream: dict[Any, Any] = {self._stream: f"{self._after}-0"}
        entries = read_entries(
            await self.blocking(
                lambda: self._client.xread(stream, count=READ_COUNT, block=block_ms)
            )
        )
        for entry_id, fields in entries:
            event = to_event(entry_id, fields)
            if matches(self._pattern, event.subject):
                self.buffer.append(RedisDelivery(event, 1, entry_id, self))
        if entries:
            self._after = stream_seq(entries[-1][0])

    async def acked(self, delivery: RedisDelivery) -> None:
        return None

    async def nacked(self, delivery: RedisDelivery, delay: float) -> None:
        again = RedisDelivery(delivery.event, delivery.attempt + 1, delivery.entry_id, self)
        self.later(again, delay)
