"""What the NATS JetStream backend's parts share: the connection, names, token
encoding, error translation, and ``Puller`` — the pull-consumer loop that event
subscriptions and state watches read from.

``Puller`` keeps pull requests outstanding (``batch`` messages, refilled at half)
instead of calling nats-py's ``fetch`` per batch: a lingering ``fetch(n)`` waits
for all ``n`` messages or its timeout, which costs latency on quiet streams.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from mnemocode.runtime.protocols import BackendError, Json

STREAM_EXISTS = 10058  # JSStreamNameExistErr
CONSUMER_NOT_FOUND = 10014
WRONG_LAST_SEQUENCE = (10071, 10164)


def dumps(value: Json) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes) -> Json:
    value: Json = json.loads(data)
    return value


@dataclass(frozen=True, slots=True)
class AckInfo:
    """What JetStream puts in a delivered message's reply subject."""

    stream_seq: int
    delivered: int  # 1 on first delivery
    time: float


def ack_info(msg: Msg) -> AckInfo:
    tokens = msg.reply.split(".")
    # v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
    # v2 adds <domain>.<account hash> after ACK and a random token at the end.
    base = 4 if len(tokens) == 9 else 6
    return AckInfo(
        stream_seq=int(tokens[base + 1]),
        delivered=int(tokens[base]),
        time=int(tokens[base + 3]) / 1e9,
    )


def status_of(msg: Msg) -> str | None:
    headers = msg.headers
    return headers.get("Status") if headers else None


@asynccontextmanager
async def translated_errors(what: str) -> AsyncIterator[None]:
    """NATS failures become ``BackendError`` (``ValueError`` and ours pass through)."""
    try:
        yield
    except (TimeoutError, nats.errors.Error, OSError) as exc:
        raise BackendError(f"nats: {what} failed: {exc!r}") from exc


class Connection:
    """The client, its JetStream context, and the pullers to kick after a reconnect."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.js: JetStreamContext = client.jetstream()
        self.namespace = namespace
        self.pullers: set[Puller] = set()

    async def on_reconnect(self) -> None:
        for puller in list(self.pullers):
            puller.reset()

    async def ensure_stream(self, config: StreamConfig) -> None:
        try:
            await self.js.add_stream(config)
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != STREAM_EXISTS:
                raise
            await self.js.update_stream(config)


# Pull requests: long enough to be cheap, short enough that a request lost with a
# server restart is re-issued soon; the heartbeat tells a live idle request apart.
_EXPIRES_S = 10.0
_HEARTBEAT_S = 2.0


class Puller:
    """Streams one consumer's messages to one reader, in order.

    ``recover`` (re)creates the consumer when it is gone (e.g. an ephemeral consumer
    after a server restart) and returns its name.
    """

    def __init__(
        self,
        conn: Connection,
        stream: str,
        consumer: str,
        *,
        batch: int,
        recover: Callable[[], Awaitable[str]],
    ) -> None:
        self._conn, self._stream, self._consumer = conn, stream, consumer
        self._batch = batch
        self._recover = recover
        self._buffer: deque[Msg] = deque()
        self._outstanding = 0
        self._broken = False
        self._closed = False
        self._wake = asyncio.Event()
        self._last_activity = time.monotonic()
        self._inbox = conn.client.new_inbox()
        self._sub: NatsSubscription | None = None

    @property
    def consumer(self) -> str:
        return self._consumer

    async def start(self) -> None:
        self._sub = await self._conn.client.subscribe(self._inbox, cb=self._on_message)
        self._conn.pullers.add(self)

    def reset(self) -> None:
        """Forget outstanding requests (after a reconnect they are gone)."""
        self._outstanding = 0
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def take_buffered(self) -> list[Msg]:
        taken = list(self._buffer)
        self._buffer.clear()
        return taken

    async def close(self) -> None:
        self._closed = True
        self._conn.pullers.discard(self)
        self._wake.set()
        if self._sub is not None:
            sub, self._sub = self._sub, None
            with suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def _on_message(self, msg: Msg) -> None:
        self._last_activity = time.monotonic()
        status = status_of(msg)
        if status is None:
            self._outstanding = max(0, self._outstanding - 1)
            self._buffer.append(msg)
        elif status in ("404", "408", "409"):
            # The request ended (expired, or the server gave up on it).
            pending = msg.headers.get("Nats-Pending-Messages") if msg.headers else None
            self._outstanding = max(0, self._outstanding - int(pending)) if pending else 0
            description = msg.headers.get("Description", "") if msg.headers else ""
            if status == "409" and "deleted" in description.lower():
                self._broken = True
        elif status == "503":  # no responders: the consumer does not exist
            self._outstanding = 0
            self._broken = True
        self._wake.set()

    async def next(self) -> Msg | None:
        """The next message, or None after a wait without one (the caller loops)."""
        if self._buffer:
            return self._buffer.popleft()
        if self._closed:
            return None
        self._wake.clear()
        if self._broken:
            await self._repair()
            return None
        await self._request()
        try:
            async with asyncio.timeout(_HEARTBEAT_S * 2 + 0.5):
                await self._wake.wait()
        except TimeoutError:
            if time.monotonic() - self._last_activity > _HEARTBEAT_S * 2:
                self._outstanding = 0  # requests lost (server restarted)
        return self._buffer.popleft() if self._buffer else None

    async def _request(self) -> None:
        if self._outstanding > self._batch // 2:
            return
        wanted = self._batch - self._outstanding
        request = {
            "batch": wanted,
            "expires": int(_EXPIRES_S * 1e9),
            "idle_heartbeat": int(_HEARTBEAT_S * 1e9),
        }
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{self._consumer}"
        try:
            await self._conn.client.publish(subject, json.dumps(request).encode(), self._inbox)
        except nats.errors.Error:
            await asyncio.sleep(0.2)  # reconnecting; ask again after a pause
            return
        self._outstanding += wanted
        self._last_activity = time.monotonic()

    async def _repair(self) -> None:
        try:
            self._consumer = await self._recover()
        except (TimeoutError, nats.errors.Error, BackendError):
            await asyncio.sleep(0.2)  # JetStream not back yet
            return
        self._broken = False
        self._outstanding = 0


async def scan(
    conn: Connection,
    stream: str,
    subject: str,
    *,
    last_per_subject: bool,
    headers_only: bool = False,
) -> list[Msg]:
    """Every message of ``stream`` on ``subject`` now (or the last one per subject)."""
    policy = DeliverPolicy.LAST_PER_SUBJECT if last_per_subject else DeliverPolicy.ALL
    config = ConsumerConfig(
        deliver_policy=policy,
        ack_policy=AckPolicy.NONE,
        filter_subject=subject,
        inactive_threshold=30.0,
        mem_storage=True,
        headers_only=headers_only or None,
    )
    info = await conn.js.add_consumer(stream, config)
    consumer = info.name
    expected = info.num_pending or 0
    found: list[Msg] = []
    inbox = conn.client.new_inbox()
    sub = await conn.client.subscribe(inbox)
    try:
        next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        while len(found) < expected:
            request = {"batch": min(expected - len(found), 1000), "no_wait": True}
            await conn.client.publish(next_subject, json.dumps(request).encode(), inbox)
            before = len(found)
            while len(found) < expected:
                msg = await sub.next_msg(timeout=5.0)
                if status_of(msg) is not None:
                    break  # no more right now (404) or the request ended
                found.append(msg)
            if len(found) == before:
                break
    finally:
        await sub.unsubscribe()
        with suppress(nats.errors.Error):
            await conn.js.delete_consumer(stream, consumer)
    return found


def headers_of(msg: Msg) -> dict[str, Any]:
    return dict(msg.headers) if msg.headers else {}
