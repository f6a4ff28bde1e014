"""The parts of a JetStream task lease: what a process holds, the one-at-a-time
fetch from a consumer, the keep-alive for leases longer than ``ack_wait``, and the
dead-letter record."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from mnemocode.runtime.backends.nats_common import Connection, status_of
from mnemocode.runtime.protocols import Json, Task

_NEXT_ONE = b'{"batch":1,"no_wait":true}'


@dataclass(slots=True)
class Held:
    """A lease this process holds."""

    msg: Msg
    task: Task
    stream_seq: int
    delivered: int
    dedupe: bool
    deadline: float  # wall clock; the server's ack_wait started no earlier
    ack_wait: float = 0.0
    keepalive: asyncio.Task[None] | None = None


class Fetcher:
    """Fetches one message at a time from a consumer. Messages arrive under their
    own subject (not the request's inbox token), so each consumer gets its own
    inbox and requests on it take turns."""

    def __init__(self, conn: Connection, stream: str, consumer: str) -> None:
        self._conn = conn
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = conn.client.new_inbox()
        self._sub: NatsSubscription | None = None
        self._lock = asyncio.Lock()

    async def fetch_one(self) -> Msg | None:
        """A message, a status message to act on (503), or None when none is ready."""
        async with self._lock:
            if self._sub is None:
                self._sub = await self._conn.client.subscribe(self._inbox)
            await self._conn.client.publish(self._next, _NEXT_ONE, self._inbox)
            while True:
                msg = await self._sub.next_msg(timeout=5.0)
                status = status_of(msg)
                if status is None or status == "503":
                    return msg
                if status in ("404", "408", "409"):
                    return None
                # 100: a heartbeat; keep waiting for the answer

    async def close(self) -> None:
        if self._sub is not None:
            with suppress(nats.errors.Error):
                await self._sub.unsubscribe()
            self._sub = None


def lease_token(held: Held) -> str:
    return f"{held.stream_seq}.{held.delivered}"


async def keep_alive(held: Held) -> None:
    """Hold a lease longer than the consumer's ack_wait: +WPI until the deadline."""
    try:
        while True:
            remaining = held.deadline - time.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(held.ack_wait / 2, remaining))
            if held.deadline - time.time() > 0:
                await held.msg.in_progress()
    except (TimeoutError, nats.errors.Error):
        return  # the lease lapses; the server redelivers the task


def dead_record(task: Task, error: str, attempts: int) -> Json:
    return {
        "id": task.id,
        "payload": task.payload,
        "priority": task.priority,
        "enqueued": task.enqueued,
        "attempts": attempts,
        "error": error,
    }


def dead_task(queue: str, record: Json) -> Task:
    return Task(
        id=record["id"],
        queue=queue,
        payload=record["payload"],
        priority=record["priority"],
        attempts=record["attempts"],
        enqueued=record["enqueued"],
        error=record["error"],
    )
