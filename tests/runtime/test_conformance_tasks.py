"""TaskQueue semantics every backend shares (see protocols.TaskQueue)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from mnemocode.runtime.protocols import Backend, Lease, QueueStats
from tests.runtime.conftest import TEST_MAX_ATTEMPTS
from tests.runtime.helpers import eventually, within


async def _lease(backend: Backend, queue: str = "q", visibility: float = 30.0) -> Lease:
    lease = await backend.tasks.lease(queue, visibility=visibility, wait=10)
    assert lease is not None
    return lease


async def test_higher_priority_first_then_fifo(backend: Backend) -> None:
    tasks = backend.tasks
    for name, priority in [("low1", 0), ("high1", 5), ("low2", 0), ("high2", 5), ("mid", 2)]:
        await tasks.enqueue("q", {"name": name}, priority=priority)
    order = []
    for _ in range(5):
        lease = await _lease(backend)
        order.append(lease.task.payload["name"])
        assert await tasks.ack(lease) is True
    assert order == ["high1", "high2", "mid", "low1", "low2"]
    assert await tasks.lease("q") is None


async def test_task_fields_and_queues_are_separate(backend: Backend) -> None:
    task_id = await backend.tasks.enqueue("a", {"x": [1, "two"]}, priority=3)
    assert await backend.tasks.lease("b") is None
    lease = await _lease(backend, "a")
    task = lease.task
    assert (task.id, task.queue, task.payload, task.priority, task.attempts) == (
        task_id,
        "a",
        {"x": [1, "two"]},
        3,
        0,
    )
    assert task.enqueued > 0 and lease.token


async def test_expired_lease_is_redelivered_and_old_ack_fails(backend: Backend) -> None:
    tasks = backend.tasks
    task_id = await tasks.enqueue("q", {"n": 1})
    first = await _lease(backend, visibility=0.3)
    second = await _lease(backend)  # waits until the first lease expires
    assert second.task.id == task_id and second.task.attempts == 1
    assert second.token != first.token
    assert await tasks.ack(first) is False
    assert await tasks.nack(first, error="late") is False
    assert await tasks.extend(first, 30) is None
    assert await tasks.ack(second) is True
    assert await tasks.stats("q") == QueueStats(0, 0, 0, 0)


async def test_nack_keeps_the_error_and_delays(backend: Backend) -> None:
    tasks = backend.tasks
    await tasks.enqueue("q", {"n": 1})
    lease = await _lease(backend)
    assert await tasks.nack(lease, error="flaky", delay=60) is True
    assert await tasks.lease("q") is None
    assert await tasks.stats("q") == QueueStats(ready=0, leased=0, delayed=1, dead=0)

    await tasks.enqueue("r", {"n": 2})
    lease = await _lease(backend, "r")
    assert await tasks.nack(lease, error="again", delay=0.2) is True
    retried = await _lease(backend, "r")
    assert (retried.task.attempts, retried.task.error) == (1, "again")


async def test_a_retried_task_keeps_its_priority(backend: Backend) -> None:
    tasks = backend.tasks
    await tasks.enqueue("q", {"name": "urgent"}, priority=9)
    lease = await _lease(backend)
    assert await tasks.nack(lease, error="flaky", delay=0.3) is True
    for n in range(3):
        await tasks.enqueue("q", {"name": f"routine{n}"})
    routine = await _lease(backend)  # the urgent one is still delayed
    assert routine.task.payload["name"] == "routine0"
    await asyncio.sleep(0.4)
    again = await _lease(backend)  # due again: ahead of the routine ones left
    assert (again.task.payload["name"], again.task.attempts) == ("urgent", 1)


async def test_nack_without_delay_backs_off_briefly(backend: Backend) -> None:
    await backend.tasks.enqueue("q", {"n": 1})
    lease = await _lease(backend)
    await backend.tasks.nack(lease, error="first failure")
    retried = await _lease(backend)
    assert retried.task.attempts == 1


async def test_dead_letter_after_max_attempts(backend: Backend) -> None:
    tasks = backend.tasks
    task_id = await tasks.enqueue("q", {"doomed": True})
    for attempt in range(1, TEST_MAX_ATTEMPTS + 1):
        lease = await _lease(backend)
        assert lease.task.attempts == attempt - 1
        await tasks.nack(lease, error=f"boom {attempt}", delay=0)
    assert await tasks.lease("q") is None
    (dead,) = await tasks.dead_letters("q")
    assert (dead.id, dead.error, dead.attempts, dead.payload) == (
        task_id,
        f"boom {TEST_MAX_ATTEMPTS}",
        TEST_MAX_ATTEMPTS,
        {"doomed": True},
    )
    assert await tasks.stats("q") == QueueStats(ready=0, leased=0, delayed=0, dead=1)


async def test_expired_leases_count_as_failed_attempts(backend: Backend) -> None:
    tasks = backend.tasks
    await tasks.enqueue("q", {"n": 1})
    for _ in range(TEST_MAX_ATTEMPTS - 1):
        await tasks.nack(await _lease(backend), error="nacked", delay=0)
    await _lease(backend, visibility=0.2)  # the worker dies holding it

    async def dead_lettered() -> bool:
        return bool(await tasks.dead_letters("q"))

    await eventually(dead_lettered)
    assert await tasks.lease("q") is None


async def test_extend_keeps_the_lease(backend: Backend) -> None:
    tasks = backend.tasks
    await tasks.enqueue("q", {"n": 1})
    lease = await _lease(backend, visibility=0.4)
    extended = await tasks.extend(lease, 30)
    assert extended is not None and extended.token == lease.token
    assert extended.deadline > lease.deadline
    await asyncio.sleep(0.6)  # past the original visibility
    assert await tasks.lease("q") is None
    assert await tasks.ack(extended) is True


async def test_stats_counts_each_state(backend: Backend) -> None:
    tasks = backend.tasks
    for n in range(4):
        await tasks.enqueue("q", {"n": n})
    leased = await _lease(backend)
    delayed = await _lease(backend)
    await tasks.nack(delayed, error="later", delay=60)
    assert await tasks.stats("q") == QueueStats(ready=2, leased=1, delayed=1, dead=0)
    await tasks.ack(leased)
    assert await tasks.stats("q") == QueueStats(ready=2, leased=0, delayed=1, dead=0)
    assert await tasks.stats("empty") == QueueStats(0, 0, 0, 0)


async def test_task_id_deduplicates_while_the_task_exists(backend: Backend) -> None:
    tasks = backend.tasks
    assert await tasks.enqueue("q", {"v": 1}, task_id="build:42") == "build:42"
    assert await tasks.enqueue("q", {"v": 2}, task_id="build:42") == "build:42"
    assert await tasks.stats("q") == QueueStats(ready=1, leased=0, delayed=0, dead=0)
    lease = await _lease(backend)
    assert lease.task.payload == {"v": 1}
    assert await tasks.enqueue("q", {"v": 3}, task_id="build:42") == "build:42"
    assert await tasks.stats("q") == QueueStats(ready=0, leased=1, delayed=0, dead=0)
    await tasks.ack(lease)
    await tasks.enqueue("q", {"v": 4}, task_id="build:42")
    assert (await _lease(backend)).task.payload == {"v": 4}


async def test_wait_returns_a_task_enqueued_meanwhile(
    backend: Backend, open_another: Callable[[], Awaitable[Backend]]
) -> None:
    other = await open_another()
    waiting = asyncio.create_task(backend.tasks.lease("q", visibility=30, wait=10))
    await asyncio.sleep(0.1)
    task_id = await other.tasks.enqueue("q", {"late": True})
    lease = await within(waiting)
    assert lease is not None and lease.task.id == task_id


async def test_one_task_one_worker(
    backend: Backend, open_another: Callable[[], Awaitable[Backend]]
) -> None:
    other = await open_another()
    ids = {await backend.tasks.enqueue("q", {"n": n}) for n in range(20)}
    leases = await asyncio.gather(
        *(b.tasks.lease("q", visibility=30, wait=1) for b in [backend, other] * 10)
    )
    assert {lease.task.id for lease in leases if lease is not None} == ids
    assert all(lease is not None for lease in leases)
