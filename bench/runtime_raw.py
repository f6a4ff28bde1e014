"""The runtime benchmark's drivers, servers and reference: the same workloads
written directly against redis-py (asyncio) and nats-py, which ``bench/runtime.py``
runs beside our backends and reports ours as a ratio of.

Every workload is driven through the same three functions (``drive_events``,
``drive_ops``, ``drive_tasks``), so ours and the raw client do the same work and
are timed the same way; only the few lines that talk to the server differ.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import percentile

SERVERS = ("redis", "nats")
WINDOW = 256  # events in flight at full rate: bounds the backlog the latency includes
PAD = "x" * 160  # payloads of ~200 bytes of JSON
FETCH_BATCH = 100  # events the raw consumers read per call (XREADGROUP COUNT, fetch(batch))
ENQUEUE_SCRIPT = """
redis.call('HSET', KEYS[2] .. ARGV[1], 'payload', ARGV[2])
return redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
"""
LEASE_SCRIPT = """
local popped = redis.call('ZPOPMIN', KEYS[1])
if #popped == 0 then return nil end
local id = popped[1]
redis.call('ZADD', KEYS[2], ARGV[1], id)
local token = ARGV[2]
redis.call('HSET', KEYS[3] .. id, 'token', token)
return {id, redis.call('HGET', KEYS[3] .. id, 'payload'), token}
"""
ACK_SCRIPT = """
if redis.call('HGET', KEYS[2] .. ARGV[1], 'token') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2] .. ARGV[1])
"""


@dataclass(slots=True)
class Rate:
    """``ops`` operations in ``seconds``; ``latencies`` (s) of each where it applies."""

    ops: int
    seconds: float
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else float("inf")

    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000


@dataclass(slots=True)
class EventResult:
    loaded: Rate  # WINDOW events in flight: throughput, and latency under load
    unloaded: Rate  # one event in flight: the latency of the path itself


@dataclass(slots=True)
class TaskResult:
    enqueue: Rate
    lease_ack: Rate

    @property
    def end_to_end(self) -> Rate:
        return Rate(self.enqueue.ops, self.enqueue.seconds + self.lease_ack.seconds)


Publish = Callable[[dict[str, Any]], Awaitable[object]]
# Called with each event's data on receipt; True: that was the last one (ack it, return).
Received = Callable[[dict[str, Any]], bool]
Consume = Callable[[Received], Coroutine[Any, Any, None]]


def payload(n: int) -> dict[str, Any]:
    return {"n": n, "t": time.perf_counter(), "pad": PAD}


async def drive_events(count: int, window: int, publish: Publish, consume: Consume) -> Rate:
    """One publisher (at most ``window`` events ahead of the consumer) and one
    consumer; latency from before the publish call to the consumer's receipt;
    throughput from the first publish to the last ack."""
    latencies: list[float] = []
    room = asyncio.Semaphore(window)

    def received(data: dict[str, Any]) -> bool:
        latencies.append(time.perf_counter() - data["t"])
        room.release()
        return len(latencies) >= count

    async def produce() -> None:
        for n in range(count):
            await room.acquire()
            await publish(payload(n))

    consumer = asyncio.create_task(consume(received))
    await asyncio.sleep(0.05)  # let the consumer reach its first read
    started = time.perf_counter()
    producer = asyncio.create_task(produce())
    try:
        finished, _ = await asyncio.wait({consumer, producer}, return_when=asyncio.FIRST_EXCEPTION)
        for task in finished:
            task.result()  # raises what stopped it
        await consumer
        return Rate(count, time.perf_counter() - started, latencies)
    finally:
        for task in (consumer, producer):
            task.cancel()
        await asyncio.gather(consumer, producer, return_exceptions=True)


def unloaded_count(count: int) -> int:
    return max(count // 10, 200)


async def events(count: int, publish: Publish, consume: Consume) -> EventResult:
    loaded = await drive_events(count, WINDOW, publish, consume)
    unloaded = await drive_events(unloaded_count(count), 1, publish, consume)
    return EventResult(loaded, unloaded)


async def drive_ops(count: int, operation: Callable[[int], Awaitable[object]]) -> Rate:
    """``operation(0..count-1)`` one after another, each timed."""
    latencies = []
    started = time.perf_counter()
    for n in range(count):
        before = time.perf_counter()
        await operation(n)
        latencies.append(time.perf_counter() - before)
    return Rate(count, time.perf_counter() - started, latencies)


async def drive_tasks(
    count: int,
    enqueue: Callable[[int], Awaitable[object]],
    lease_and_ack: Callable[[], Awaitable[bool]],
) -> TaskResult:
    """``count`` tasks enqueued, then each leased and acked (lease_and_ack → False:
    the queue was empty, which must not happen)."""
    enqueued = await drive_ops(count, enqueue)

    async def take(_: int) -> None:
        if not await lease_and_ack():
            raise RuntimeError("the queue ran dry before every task was leased")

    return TaskResult(enqueued, await drive_ops(count, take))


def key_of(n: int, keys: int) -> str:
    return f"bench:k{n % keys}"


def state_value(n: int) -> dict[str, Any]:
    return {"n": n, "pad": PAD}


def dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


# ---- Redis ---------------------------------------------------------------------------


async def redis_events(url: str, count: int, prefix: str) -> EventResult:
    """XADD (trimmed like our stream) + XREADGROUP COUNT n BLOCK + one XACK per batch read
    (our group member batches its acks the same way)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    stream, group = f"{prefix}:events", "bench"
    try:
        await client.xgroup_create(stream, group, id="$", mkstream=True)

        async def publish(data: dict[str, Any]) -> object:
            return await client.xadd(stream, {"d": dumps(data)}, maxlen=100_000, approximate=True)

        async def consume(received: Received) -> None:
            while True:
                reply: Any = await client.xreadgroup(
                    group, "c1", {stream: ">"}, count=FETCH_BATCH, block=1000
                )
                for _, entries in reply:
                    last = any([received(json.loads(fields[b"d"])) for _, fields in entries])
                    await client.xack(stream, group, *[entry_id for entry_id, _ in entries])
                    if last:
                        return

        return await events(count, publish, consume)
    finally:
        await client.aclose()


async def redis_state(url: str, count: int, keys: int, prefix: str) -> tuple[Rate, Rate]:
    """SET then GET of the JSON value."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:

        async def put(n: int) -> object:
            return await client.set(f"{prefix}:{key_of(n, keys)}", dumps(state_value(n)))

        async def get(n: int) -> object:
            value = await client.get(f"{prefix}:{key_of(n, keys)}")
            if value is None:
                raise RuntimeError("a key just set reads as missing")
            return json.loads(value)

        return await drive_ops(count, put), await drive_ops(count, get)
    finally:
        await client.aclose()


async def redis_tasks(url: str, count: int, prefix: str) -> TaskResult:
    """A sorted set ordered by (priority, arrival) plus a hash per task: enqueue is
    one script (HSET, ZADD); lease is one script (ZPOPMIN, ZADD to the leased set
    with the deadline, token into the hash); ack is one script (token check, ZREM, DEL)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    ready, leased, task_prefix = f"{prefix}:ready", f"{prefix}:leased", f"{prefix}:task:"
    enqueue_script = client.register_script(ENQUEUE_SCRIPT)
    lease_script = client.register_script(LEASE_SCRIPT)
    ack_script = client.register_script(ACK_SCRIPT)
    try:

        async def enqueue(n: int) -> object:
            task_id = uuid.uuid4().hex
            return await enqueue_script([ready, task_prefix], [task_id, dumps(state_value(n)), n])

        async def lease_and_ack() -> bool:
            deadline = time.time() + 60
            got = await lease_script([ready, leased, task_prefix], [deadline, uuid.uuid4().hex])
            if got is None:
                return False
            task_id, raw, token = got
            json.loads(raw)
            return bool(await ack_script([leased, task_prefix], [task_id, token]))

        return await drive_tasks(count, enqueue, lease_and_ack)
    finally:
        await client.aclose()


# ---- NATS ----------------------------------------------------------------------------


async def nats_events(url: str, count: int, prefix: str) -> EventResult:
    """JetStream publish (awaiting the PubAck) + a durable pull consumer,
    fetch(batch) + ack per message."""
    import nats
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import StreamConfig

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        subject = f"{prefix}.events"
        await js.add_stream(
            StreamConfig(name=f"{prefix}_EVENTS", subjects=[subject], max_msgs=100_000)
        )
        puller = await js.pull_subscribe(subject, durable="bench", stream=f"{prefix}_EVENTS")

        async def publish(data: dict[str, Any]) -> object:
            return await js.publish(subject, dumps(data).encode())

        async def consume(received: Received) -> None:
            while True:
                try:
                    messages = await puller.fetch(FETCH_BATCH, timeout=1)
                except NatsTimeout:
                    continue
                for message in messages:
                    last = received(json.loads(message.data))
                    await message.ack()
                    if last:
                        return

        return await events(count, publish, consume)
    finally:
        await client.drain()


async def nats_state(url: str, count: int, keys: int, prefix: str) -> tuple[Rate, Rate]:
    """Key-value bucket put then get."""
    import nats

    client = await nats.connect(url)
    try:
        kv = await client.jetstream().create_key_value(bucket=f"{prefix}_KV")

        async def put(n: int) -> object:
            return await kv.put(key_of(n, keys).replace(":", "."), dumps(state_value(n)).encode())

        async def get(n: int) -> object:
            entry = await kv.get(key_of(n, keys).replace(":", "."))
            return json.loads(entry.value or b"{}")

        return await drive_ops(count, put), await drive_ops(count, get)
    finally:
        await client.drain()


async def nats_tasks(url: str, count: int, prefix: str) -> TaskResult:
    """A work-queue stream: publish to enqueue; a durable pull consumer's fetch(1)
    leases (ack_wait is the visibility); ack_sync acks (confirmed, as our ack's
    bool needs)."""
    import nats
    from nats.js.api import ConsumerConfig, RetentionPolicy, StreamConfig

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        stream, subject = f"{prefix}_TASKS", f"{prefix}.tasks"
        await js.add_stream(
            StreamConfig(name=stream, subjects=[subject], retention=RetentionPolicy.WORK_QUEUE)
        )
        puller = await js.pull_subscribe(
            subject, durable="workers", stream=stream, config=ConsumerConfig(ack_wait=60)
        )

        async def enqueue(n: int) -> object:
            return await js.publish(subject, dumps(state_value(n)).encode())

        async def lease_and_ack() -> bool:
            messages = await puller.fetch(1, timeout=5)
            if not messages:
                return False
            json.loads(messages[0].data)
            await messages[0].ack_sync()
            return True

        return await drive_tasks(count, enqueue, lease_and_ack)
    finally:
        await client.drain()


def describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("|", "/").replace("\n", " ")
    return text if len(text) <= 120 else text[:117] + "..."


# ---- servers -------------------------------------------------------------------------


@contextmanager
def servers(directory: Path) -> Iterator[dict[str, str]]:
    """name → url of each server that started (a failed start is reported by the
    workloads: the backend is opened without a url)."""
    urls: dict[str, str] = {}
    with ExitStack() as stack:
        for name in SERVERS:
            try:
                urls[name] = stack.enter_context(_server(name, directory / name))
            except BaseException as exc:  # pytest.fail raises outside Exception
                if isinstance(exc, KeyboardInterrupt):
                    raise
                print(f"{name} server did not start: {describe(exc)}")
        yield urls


@contextmanager
def _server(name: str, directory: Path) -> Iterator[str]:
    from tests.runtime.nats_server import NatsServer
    from tests.runtime.redis_server import RedisServer

    server = RedisServer(directory) if name == "redis" else NatsServer(directory)
    server.start()
    try:
        if name == "redis":
            _fsync_every_second(server.url)
        yield server.url
    finally:
        server.stop()


def _fsync_every_second(url: str) -> None:
    """The fixture fsyncs the AOF on every write (for its restart tests); a
    deployment runs Redis's recommended ``everysec``, and with ``always`` every
    workload here measures the disk's fsync instead of the code."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.config_set("appendfsync", "everysec")
    finally:
        client.close()


def server_versions() -> list[str]:
    import subprocess

    from tests.runtime.nats_server import nats_server_binary
    from tests.runtime.redis_server import redis_binary

    found = []
    for binary in (redis_binary, nats_server_binary):
        try:
            command = [binary(), "--version"]
            done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=10)
            found.append(done.stdout.strip().split(" sha=")[0])
        except BaseException as exc:  # pytest.fail when a binary is missing
            if isinstance(exc, KeyboardInterrupt):
                raise
    return found
