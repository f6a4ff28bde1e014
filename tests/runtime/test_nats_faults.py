"""The NATS backend across a nats-server restart (JetStream data on disk): nothing
whose write was acknowledged is lost. Each test gets its own server, so restarting
it does not disturb the session one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest

from mnemocode.config.settings import RuntimeConfig
from mnemocode.runtime.protocols import Backend, BackendError
from tests.runtime.helpers import opened, within
from tests.runtime.nats_server import NatsServer
from tests.runtime.server_process import running

T = TypeVar("T")
GIVE_UP_S = 30.0


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[NatsServer]:
    with running(NatsServer(tmp_path / "nats")) as server:
        yield server


@pytest.fixture
async def nats_backend(own_server: NatsServer, tmp_path: Path) -> AsyncIterator[Backend]:
    config = RuntimeConfig(
        backend="nats", url=own_server.url, namespace=f"f{uuid.uuid4().hex[:12]}", max_attempts=5
    )
    async with opened(config, tmp_path) as backend:
        yield backend


async def retrying(call: Callable[[], Awaitable[T]]) -> T:
    """``call()`` until the server is back (errors while it restarts are expected)."""
    deadline = asyncio.get_running_loop().time() + GIVE_UP_S
    while True:
        try:
            return await call()
        except BackendError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def restart(server: NatsServer) -> None:
    await asyncio.to_thread(server.restart)


async def test_group_delivers_every_acknowledged_event_across_a_restart(
    nats_backend: Backend, own_server: NatsServer
) -> None:
    bus = nats_backend.bus
    subscription = bus.subscribe("work.>", group="workers", ack_wait=1.0)
    received: set[int] = set()
    published: list[int] = []
    all_in = asyncio.Event()

    async def consume() -> None:
        async for delivery in subscription:
            received.add(delivery.event.seq)
            with suppress(BackendError):  # an ack lost with the connection: redelivered
                await delivery.ack()
            if len(published) == 60 and set(published) <= received:
                all_in.set()

    consumer = asyncio.create_task(consume())
    for n in range(60):
        if n == 30:
            await restart(own_server)
        published.append(await retrying(partial(bus.publish, f"work.{n % 3}", {"n": n})))
    if set(published) <= received:
        all_in.set()
    try:
        async with asyncio.timeout(GIVE_UP_S):
            await all_in.wait()
    finally:
        consumer.cancel()
        await subscription.close()
    assert len(set(published)) == 60
    assert set(published) <= received


async def test_state_and_tasks_survive_a_restart(
    nats_backend: Backend, own_server: NatsServer
) -> None:
    state, tasks = nats_backend.state, nats_backend.tasks
    revisions = {f"k:{n}": await state.put(f"k:{n}", {"n": n}) for n in range(5)}
    ids = [await tasks.enqueue("jobs", {"n": n}) for n in range(3)]
    held = await tasks.lease("jobs", visibility=1.0)
    assert held is not None

    await restart(own_server)

    for key, revision in revisions.items():
        entry = await retrying(partial(state.get, key))
        assert entry is not None and entry.revision == revision
    leased_ids = []
    for _ in range(3):  # the two never leased, then the one whose lease expired
        lease = await retrying(partial(tasks.lease, "jobs", visibility=5.0, wait=10.0))
        assert lease is not None
        leased_ids.append(lease.task.id)
        assert await retrying(partial(tasks.ack, lease)) is True
    assert sorted(leased_ids) == sorted(ids)
    assert held.task.id in leased_ids
    assert await tasks.lease("jobs") is None


async def test_plain_subscriber_continues_after_a_restart(
    nats_backend: Backend, own_server: NatsServer
) -> None:
    bus = nats_backend.bus
    subscription = bus.subscribe("news.>")
    iterator = subscription.__aiter__()
    before = await bus.publish("news.a", {"n": 1})
    assert (await within(iterator.__anext__(), 10)).event.seq == before

    await restart(own_server)

    after = await retrying(partial(bus.publish, "news.a", {"n": 2}))
    delivery = await within(iterator.__anext__(), GIVE_UP_S)
    assert delivery.event.seq == after
    await subscription.close()
