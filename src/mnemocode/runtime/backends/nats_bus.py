"""EventBus on JetStream.

One stream per namespace, ``<ns>_events`` on subjects ``<ns>.ev.>``, keeping
``max_events`` messages (discard old); an event's ``seq`` is its stream sequence,
so it grows across all subjects as the contract asks.

- Plain subscribers read an ephemeral pull consumer without acks (in-memory
  consumer state). The subscription remembers the next stream sequence, so when
  the consumer is gone (server restart, inactivity) it is recreated from there.
  ``nack(delay)`` redelivers locally, to this subscriber only, as the contract says.
- Groups are durable pull consumers named after group + pattern (filter = pattern),
  with explicit acks, ``ack_wait`` from the subscription (the latest subscriber's
  value wins), ``nak(delay)`` for nack and ``num_delivered`` as the attempt.
- ``subscribe`` is synchronous, so the consumer is created by a task started right
  away, delivering from the subscription's creation time (``start=None``): events
  stored after it, by the server's clock. ``publish`` on the same bus also waits
  for pending set-ups, so within a process the boundary is exact whatever the clocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections import deque
from datetime import UTC, datetime
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    StorageType,
    StreamConfig,
)

from mnemocode.runtime.backends.nats_common import (
    Connection,
    Puller,
    ack_info,
    dumps,
    loads,
    translated_errors,
)
from mnemocode.runtime.protocols import Delivery, Event, Json, Subscription
from mnemocode.runtime.subjects import validate_pattern, validate_subject

# A group member holds at most this many unacked deliveries it has not handed out
# yet (their ack_wait runs meanwhile); plain subscribers have no acks to lose.
_GROUP_BATCH = 64
_PLAIN_BATCH = 256
_EPHEMERAL_IDLE_S = 300.0
_HAND_BACK_DELAY_S = 0.05
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def group_consumer_name(group: str, pattern: str) -> str:
    digest = hashlib.sha256(f"{group}\0{pattern}".encode()).hexdigest()[:16]
    readable = _UNSAFE_NAME_CHARS.sub("_", group)[:40]
    return f"g_{readable}_{digest}"


class NatsEventBus:
    def __init__(self, conn: Connection, *, max_events: int) -> None:
        self._conn = conn
        self._max_events = max_events
        self.stream = f"{conn.namespace}_events"
        self.prefix = f"{conn.namespace}.ev."
        self.setting_up: set[asyncio.Task[None]] = set()

    async def setup(self) -> None:
        await self._conn.ensure_stream(
            StreamConfig(
                name=self.stream,
                subjects=[f"{self.prefix}>"],
                max_msgs=self._max_events,
                discard=DiscardPolicy.OLD,
                storage=StorageType.FILE,
            )
        )

    async def publish(self, subject: str, data: Json) -> int:
        validate_subject(subject)
        if self.setting_up:
            await asyncio.wait(self.setting_up)
        async with translated_errors(f"publish to {subject!r}"):
            ack = await self._conn.js.publish(self.prefix + subject, dumps(data))
        return ack.seq

    def subscribe(
        self,
        pattern: str,
        *,
        group: str | None = None,
        start: int | None = None,
        ack_wait: float = 30.0,
    ) -> Subscription:
        validate_pattern(pattern)
        return NatsSubscription(self, self._conn, pattern, group, start, ack_wait)

    async def last_seq(self) -> int:
        async with translated_errors("read the event stream"):
            info = await self._conn.js.stream_info(self.stream)
        return info.state.last_seq


class NatsDelivery:
    __slots__ = ("_attempt", "_event", "_msg", "_owner")

    def __init__(
        self, event: Event, attempt: int, msg: Msg | None, owner: NatsSubscription
    ) -> None:
        self._event, self._attempt, self._msg, self._owner = event, attempt, msg, owner

    @property
    def event(self) -> Event:
        return self._event

    @property
    def attempt(self) -> int:
        return self._attempt

    async def ack(self) -> None:
        msg = self._msg
        if msg is not None and not msg.is_acked:
            async with translated_errors("ack"):
                await msg.ack()

    async def nack(self, delay: float = 0.0) -> None:
        msg = self._msg
        if msg is None:  # a plain subscription: redeliver locally
            self._owner.redeliver_later(self, delay)
        elif not msg.is_acked:
            async with translated_errors("nack"):
                await msg.nak(delay=delay if delay > 0 else None)


class NatsSubscription:
    def __init__(  # noqa: PLR0917 - built in one place, by NatsEventBus.subscribe
        self,
        bus: NatsEventBus,
        conn: Connection,
        pattern: str,
        group: str | None,
        start: int | None,
        ack_wait: float,
    ) -> None:
        self._bus, self._conn = bus, conn
        self._filter = bus.prefix + pattern
        self._group, self._start, self._ack_wait = group, start, ack_wait
        self._next_seq = 0  # plain subscriptions: where a recreated consumer starts
        # Events stored after this moment are "after the subscription exists", from
        # any process (server and clients share a clock, to within NTP's skew).
        self._created = datetime.now(UTC)
        self._puller: Puller | None = None
        self._redelivered: deque[NatsDelivery] = deque()
        self._timers: set[asyncio.TimerHandle] = set()
        self._closed = False
        self._ready = asyncio.get_running_loop().create_task(self._setup())
        bus.setting_up.add(self._ready)
        self._ready.add_done_callback(bus.setting_up.discard)

    async def _setup(self) -> None:
        async with translated_errors(f"subscribe to {self._filter!r}"):
            if self._group is not None:
                name = await self._ensure_group()
                batch = _GROUP_BATCH
            else:
                name = await self._create_ephemeral()
                batch = _PLAIN_BATCH
            recover = self._ensure_group if self._group is not None else self._create_ephemeral
            puller = Puller(self._conn, self._bus.stream, name, batch=batch, recover=recover)
            await puller.start()
        self._puller = puller

    async def _ensure_group(self) -> str:
        assert self._group is not None
        js, stream = self._conn.js, self._bus.stream
        name = group_consumer_name(self._group, self._filter)
        try:
            info = await js.consumer_info(stream, name)
        except nats.js.errors.NotFoundError:
            config = ConsumerConfig(
                name=name,
                durable_name=name,
                description=f"group {self._group!r} on {self._filter!r}",
                **self._deliver_from(self._start),
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self._ack_wait,
                filter_subject=self._filter,
                max_ack_pending=10_000,
            )
            await js.add_consumer(stream, config)
            return name
        if info.config.ack_wait is None or abs(info.config.ack_wait - self._ack_wait) > 1e-3:
            await js.add_consumer(stream, info.config.evolve(ack_wait=self._ack_wait))
        return name

    async def _create_ephemeral(self) -> str:
        start = self._next_seq if self._next_seq else self._start
        config = ConsumerConfig(
            **self._deliver_from(start),
            ack_policy=AckPolicy.NONE,
            filter_subject=self._filter,
            inactive_threshold=_EPHEMERAL_IDLE_S,
            mem_storage=True,
        )
        info = await self._conn.js.add_consumer(self._bus.stream, config)
        assert info.name is not None
        return info.name

    def _deliver_from(self, start: int | None) -> dict[str, Any]:
        if start is None:
            return {"deliver_policy": DeliverPolicy.BY_START_TIME, "opt_start_time": self._created}
        if start <= 1:
            return {"deliver_policy": DeliverPolicy.ALL}
        return {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": start}

    def __aiter__(self) -> NatsSubscription:
        return self

    async def __anext__(self) -> Delivery:
        puller = self._puller
        if puller is None:
            await self._ready
            puller = self._puller
            assert puller is not None
        while not self._closed:
            if self._redelivered:
                return self._redelivered.popleft()
            msg = await puller.next()
            if msg is None:
                continue
            info = ack_info(msg)
            if self._group is None:
                if info.stream_seq < self._next_seq:
                    continue  # already seen, from a consumer replaced since
                self._next_seq = info.stream_seq + 1
            event = Event(
                subject=msg.subject[len(self._bus.prefix) :],
                data=loads(msg.data),
                seq=info.stream_seq,
                time=info.time,
            )
            return NatsDelivery(event, info.delivered, msg if self._group else None, self)
        raise StopAsyncIteration

    def redeliver_later(self, delivery: NatsDelivery, delay: float) -> None:
        again = NatsDelivery(delivery.event, delivery.attempt + 1, None, self)
        if delay <= 0:
            self._push(again)
            return
        timer = asyncio.get_running_loop().call_later(delay, self._push, again)
        self._timers.add(timer)

    def _push(self, delivery: NatsDelivery) -> None:
        now = asyncio.get_running_loop().time()
        self._timers = {timer for timer in self._timers if timer.when() > now}
        if not self._closed:
            self._redelivered.append(delivery)
            if self._puller is not None:
                self._puller.wake()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        if not self._ready.done():
            self._ready.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._ready
        puller = self._puller
        if puller is None:
            return
        await puller.close()
        try:
            if self._group is not None:
                # Once the server has dropped our inbox, it stops handing it redeliveries.
                await self._conn.client.flush(timeout=5)
                # Handed back now rather than after ack_wait; the small, growing delays
                # keep their order (immediate naks can overtake each other).
                for position, msg in enumerate(puller.take_buffered()):
                    await msg.nak(delay=_HAND_BACK_DELAY_S + position * 1e-3)
            else:
                await self._conn.js.delete_consumer(self._bus.stream, puller.consumer)
        except (TimeoutError, nats.errors.Error):
            pass  # the server cleans up (ack_wait / inactivity) on its own
