"""The Redis backend across a server restart (a real ``redis-server`` with AOF,
fsync always): what was acknowledged survives, and clients carry on by themselves.
Each test gets its own server so the session one is never disturbed."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mnemocode.config.settings import RuntimeConfig
from mnemocode.runtime.protocols import (
    Backend,
    BackendError,
    Delivery,
    Lease,
    QueueStats,
    Subscription,
)
from tests.runtime.helpers import eventually, opened, within
from tests.runtime.redis_server import RedisServer
from tests.runtime.server_process import running


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with running(RedisServer(tmp_path / "redis")) as own:
        yield own


@pytest.fixture
async def backend(server: RedisServer, tmp_path: Path) -> AsyncIterator[Backend]:
    config = RuntimeConfig(
        backend="redis", url=server.url, namespace=f"t{uuid.uuid4().hex[:16]}", max_attempts=5
    )
    async with opened(config, tmp_path) as backend:
        yield backend


async def take(subscription: Subscription, count: int) -> AsyncIterator[Delivery]:
    iterator = aiter(subscription)
    try:
        for _ in range(count):
            yield await within(anext(iterator))
    finally:
        await subscription.close()


async def restart(server: RedisServer) -> None:
    """Restart the server (in a thread, so the clients keep running meanwhile)."""
    before = server.pid
    await asyncio.to_thread(server.restart)
    assert server.pid != before


async def test_group_gets_every_published_event_across_a_restart(
    server: RedisServer, backend: Backend
) -> None:
    received: dict[int, int] = {}  # n -> deliveries
    subscription = backend.bus.subscribe("orders.>", group="billing", start=0, ack_wait=1.0)
    restarted = asyncio.Event()  # the consumer lags until then: a backlog must survive

    async def consume() -> None:
        async for delivery in subscription:
            n = int(delivery.event.data["n"])
            received[n] = received.get(n, 0) + 1
            await delivery.ack()
            if len(received) == 50:
                await restarted.wait()

    consumer = asyncio.create_task(consume())
    published: set[int] = set()
    restarting: asyncio.Task[None] | None = None
    for n in range(400):
        if n == 200:
            restarting = asyncio.create_task(restart(server))
        try:
            await backend.bus.publish(f"orders.{n % 7}", {"n": n})
            published.add(n)
        except BackendError:
            pass  # not acknowledged: it may or may not be delivered
        await asyncio.sleep(0.001)
    assert restarting is not None
    await within(restarting)
    restarted.set()

    async def all_delivered() -> bool:
        return published <= received.keys()

    with contextlib.suppress(AssertionError):
        await eventually(all_delivered, 20)
    assert sorted(published - received.keys()) == []  # duplicates allowed, losses not
    await subscription.close()
    await within(consumer)
    assert max(published) == 399  # publishing went on after the restart
    assert len(published) >= 390


async def test_acks_and_the_group_position_survive_a_restart(
    server: RedisServer, backend: Backend
) -> None:
    first = backend.bus.subscribe("jobs.*", group="workers", start=0, ack_wait=1.0)
    for n in range(20):
        await backend.bus.publish("jobs.new", {"n": n})
    seen = []
    async for delivery in first:
        seen.append(delivery.event.data["n"])
        await delivery.ack()
        if len(seen) == 20:
            break
    await first.close()

    await restart(server)

    await backend.bus.publish("jobs.new", {"n": "after"})
    replay = backend.bus.subscribe("jobs.*", start=0)
    retained = [d.event.data["n"] async for d in take(replay, 21)]
    assert retained == [*range(20), "after"]  # the stream itself survived
    again = backend.bus.subscribe("jobs.*", group="workers", start=0, ack_wait=1.0)
    try:
        delivery = await within(anext(aiter(again)))
        assert delivery.event.data == {"n": "after"}  # nothing acked came back
        assert delivery.attempt == 1
    finally:
        await again.close()


async def test_a_plain_subscriber_resumes_where_it_was(
    server: RedisServer, backend: Backend
) -> None:
    subscription = backend.bus.subscribe("log.>")
    iterator = aiter(subscription)
    try:
        await backend.bus.publish("log.a", {"n": 0})
        assert (await within(anext(iterator))).event.data == {"n": 0}
        reading = asyncio.ensure_future(anext(iterator))  # blocked in a read during the restart
        await restart(server)
        for n in (1, 2):
            await backend.bus.publish("log.a", {"n": n})
        assert (await within(reading)).event.data == {"n": 1}
        assert (await within(anext(iterator))).event.data == {"n": 2}
    finally:
        await subscription.close()


async def test_state_survives_a_restart_and_revisions_keep_growing(
    server: RedisServer, backend: Backend
) -> None:
    written = await backend.state.put("cfg:model", {"name": "small"})
    created = await backend.state.cas("lock/α", {"owner": "w1"}, 0)
    watch = aiter(backend.state.watch("cfg:", prefix=True))
    watching = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0.1)  # let the watch start before the restart

    await restart(server)

    entry = await backend.state.get("cfg:model")
    assert entry is not None and (entry.value, entry.revision) == ({"name": "small"}, written)
    lock = await backend.state.get("lock/α")
    assert lock is not None and lock.revision == created
    assert await backend.state.keys() == ["cfg:model", "lock/α"]
    later = await backend.state.put("cfg:model", {"name": "large"})
    assert later > max(written, created)
    change = await within(watching)
    assert (change.key, change.op, change.value, change.revision) == (
        "cfg:model",
        "put",
        {"name": "large"},
        later,
    )
    await watch.aclose()  # type: ignore[attr-defined]


async def test_tasks_survive_a_restart_and_a_lost_lease_comes_back(
    server: RedisServer, backend: Backend
) -> None:
    for name in ("a", "b", "c"):
        await backend.tasks.enqueue("build", {"name": name}, task_id=name)
    lease = await backend.tasks.lease("build", visibility=1.0)
    assert lease is not None and lease.task.id == "a"

    await restart(server)  # the worker holding "a" is never heard from again

    stats = await backend.tasks.stats("build")
    assert (stats.ready, stats.leased) == (2, 1)
    leased: list[Lease] = []
    while len(leased) < 3:
        got = await within(backend.tasks.lease("build", visibility=5.0, wait=5.0))
        assert got is not None
        leased.append(got)
    assert sorted(t.task.id for t in leased) == ["a", "b", "c"]
    again = next(t for t in leased if t.task.id == "a")
    assert again.task.attempts == 1 and again.task.error == "lease expired"
    assert not await backend.tasks.ack(lease)  # the lost lease no longer holds
    for held in leased:
        assert await backend.tasks.ack(held)
    assert await backend.tasks.stats("build") == QueueStats(0, 0, 0, 0)
