"""EventBus semantics every backend shares (see protocols.EventBus)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from mnemocode.runtime.protocols import Backend
from tests.runtime.conftest import OpenBackend
from tests.runtime.helpers import Reader, within


async def test_publish_returns_growing_seqs_across_subjects(backend: Backend) -> None:
    assert await backend.bus.last_seq() == 0
    first = await backend.bus.publish("a.one", {"n": 1})
    second = await backend.bus.publish("b.two", {"n": 2})
    third = await backend.bus.publish("a.one", {"n": 3})
    assert 0 < first < second < third
    assert await backend.bus.last_seq() == third


async def _subjects_until_sentinel(reader: Reader) -> list[str]:
    seen = []
    while True:
        delivery = await reader.next()
        await delivery.ack()
        seen.append(delivery.event.subject)
        if delivery.event.data.get("sentinel"):
            return seen


async def test_star_matches_exactly_one_token(backend: Backend) -> None:
    reader = Reader(backend.bus.subscribe("orders.*"))
    for subject in ("orders", "orders.new.deep", "other.new", "orders.new"):
        await backend.bus.publish(subject, {})
    await backend.bus.publish("orders.done", {"sentinel": True})
    assert await _subjects_until_sentinel(reader) == ["orders.new", "orders.done"]
    await reader.close()


async def test_gt_matches_one_or_more_trailing_tokens(backend: Backend) -> None:
    reader = Reader(backend.bus.subscribe("orders.>"))
    for subject in ("orders", "orders.new", "other.new", "orders.new.deep", "xorders.a"):
        await backend.bus.publish(subject, {})
    await backend.bus.publish("orders.last", {"sentinel": True})
    assert await _subjects_until_sentinel(reader) == [
        "orders.new",
        "orders.new.deep",
        "orders.last",
    ]
    await reader.close()


async def test_middle_star_and_exact_patterns(backend: Backend) -> None:
    star = Reader(backend.bus.subscribe("session.*.events"))
    exact = Reader(backend.bus.subscribe("session.7.events"))
    for subject in ("session.7.events", "session.8.events", "session.8.other", "session.7"):
        await backend.bus.publish(subject, {})
    await backend.bus.publish("session.9.events", {"sentinel": True})
    await backend.bus.publish("session.7.events", {"sentinel": True})
    assert await _subjects_until_sentinel(star) == [
        "session.7.events",
        "session.8.events",
        "session.9.events",
    ]
    assert await _subjects_until_sentinel(exact) == ["session.7.events", "session.7.events"]
    await star.close()
    await exact.close()


async def test_order_per_subject_for_one_consumer(backend: Backend) -> None:
    reader = Reader(backend.bus.subscribe("s.>"))
    for n in range(30):
        await backend.bus.publish(f"s.{n % 3}", {"n": n})
    got = await reader.take(30)
    for subject in ("s.0", "s.1", "s.2"):
        numbers = [d.event.data["n"] for d in got if d.event.subject == subject]
        assert numbers == sorted(numbers) and len(numbers) == 10
    assert all(d.attempt == 1 for d in got)
    await reader.close()


async def test_replay_from_a_seq_and_from_zero(backend: Backend) -> None:
    seqs = [await backend.bus.publish("log.x", {"n": n}) for n in range(5)]
    from_third = Reader(backend.bus.subscribe("log.>", start=seqs[2]))
    assert [d.event.seq for d in await from_third.take(3)] == seqs[2:]
    from_zero = Reader(backend.bus.subscribe("log.>", start=0))
    replay = await from_zero.take(5)
    assert [d.event.data["n"] for d in replay] == [0, 1, 2, 3, 4]
    assert replay[0].event.subject == "log.x" and replay[0].event.time > 0
    await from_third.close()
    await from_zero.close()


async def test_start_none_sees_only_new_events(backend: Backend) -> None:
    await backend.bus.publish("news.a", {"old": True})
    reader = Reader(backend.bus.subscribe("news.>"))
    await backend.bus.publish("news.a", {"old": False})
    delivery = await reader.next()
    assert delivery.event.data == {"old": False}
    await reader.close()


async def test_plain_subscribers_each_get_everything(backend: Backend) -> None:
    readers = [Reader(backend.bus.subscribe("fan.>")) for _ in range(3)]
    for n in range(10):
        await backend.bus.publish("fan.out", {"n": n})
    for reader in readers:
        assert [d.event.data["n"] for d in await reader.take(10)] == list(range(10))
        await reader.close()


async def test_plain_nack_redelivers_to_the_same_subscriber(backend: Backend) -> None:
    reader = Reader(backend.bus.subscribe("retry.>"))
    await backend.bus.publish("retry.x", {"n": 1})
    first = await reader.next()
    assert first.attempt == 1
    await first.nack(0.1)
    again = await reader.next()
    assert (again.event.seq, again.attempt) == (first.event.seq, 2)
    await again.ack()
    await reader.close()


async def _drain_members(members: list[Reader], count: int) -> list[tuple[int, int]]:
    """(member index, seq) for ``count`` deliveries read from the members concurrently."""
    got: list[tuple[int, int]] = []
    done = asyncio.Event()

    async def read(index: int, reader: Reader) -> None:
        while not done.is_set():
            delivery = await reader.next(seconds=30)
            await delivery.ack()
            got.append((index, delivery.event.seq))
            if len(got) >= count:
                done.set()

    tasks = [asyncio.create_task(read(i, r)) for i, r in enumerate(members)]
    try:
        await within(done.wait())
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return got


async def test_group_gives_each_event_to_one_member(
    backend: Backend, open_another: Callable[[], Awaitable[Backend]]
) -> None:
    other = await open_another()
    members = [
        Reader(backend.bus.subscribe("work.>", group="g")),
        Reader(other.bus.subscribe("work.>", group="g")),
    ]
    seqs = [await backend.bus.publish("work.item", {"n": n}) for n in range(40)]
    got = await _drain_members(members, 40)
    assert sorted(seq for _, seq in got) == seqs
    for member in members:
        await member.close()


async def test_every_group_gets_every_event(backend: Backend) -> None:
    first = Reader(backend.bus.subscribe("work.>", group="one"))
    second = Reader(backend.bus.subscribe("work.>", group="two"))
    seqs = [await backend.bus.publish("work.item", {"n": n}) for n in range(10)]
    assert [d.event.seq for d in await first.take(10)] == seqs
    assert [d.event.seq for d in await second.take(10)] == seqs
    await first.close()
    await second.close()


async def test_group_created_later_with_start_none_skips_old_events(backend: Backend) -> None:
    await backend.bus.publish("jobs.a", {"old": True})
    member = Reader(backend.bus.subscribe("jobs.>", group="late"))
    await backend.bus.publish("jobs.a", {"old": False})
    assert (await member.next()).event.data == {"old": False}
    await member.close()


async def test_group_start_zero_replays_retained_events(backend: Backend) -> None:
    seqs = [await backend.bus.publish("jobs.a", {"n": n}) for n in range(3)]
    member = Reader(backend.bus.subscribe("jobs.>", group="replayer", start=0))
    assert [d.event.seq for d in await member.take(3)] == seqs
    await member.close()


async def test_group_position_survives_close_and_reopen(
    backend: Backend, open_another: Callable[[], Awaitable[Backend]]
) -> None:
    member = Reader(backend.bus.subscribe("jobs.>", group="durable"))
    seqs = [await backend.bus.publish("jobs.a", {"n": n}) for n in range(5)]
    assert [d.event.seq for d in await member.take(2)] == seqs[:2]
    await member.close()
    other = await open_another()
    back = Reader(other.bus.subscribe("jobs.>", group="durable", start=0))
    assert [d.event.seq for d in await back.take(3)] == seqs[2:]
    await back.close()


async def test_group_nack_redelivers_with_attempt_two(backend: Backend) -> None:
    member = Reader(backend.bus.subscribe("jobs.>", group="nackers"))
    seq = await backend.bus.publish("jobs.a", {})
    first = await member.next()
    await first.nack(0.1)
    again = await member.next()
    assert (again.event.seq, again.attempt) == (seq, 2)
    await again.ack()
    await member.close()


async def test_unacked_delivery_goes_to_another_member_after_ack_wait(
    backend: Backend, open_another: Callable[[], Awaitable[Backend]]
) -> None:
    crashed = Reader(backend.bus.subscribe("jobs.>", group="crashy", ack_wait=0.5))
    seq = await backend.bus.publish("jobs.a", {"n": 1})
    taken = await crashed.next()
    assert (taken.event.seq, taken.attempt) == (seq, 1)
    await crashed.close()  # gone without acking, like a dead process
    other = await open_another()
    survivor = Reader(other.bus.subscribe("jobs.>", group="crashy", ack_wait=0.5))
    again = await survivor.next()
    assert (again.event.seq, again.attempt) == (seq, 2)
    await again.ack()
    await survivor.close()


async def test_acked_delivery_is_not_redelivered(backend: Backend) -> None:
    member = Reader(backend.bus.subscribe("jobs.>", group="ackers", ack_wait=0.3))
    first_seq = await backend.bus.publish("jobs.a", {"n": 1})
    await (await member.next()).ack()
    await asyncio.sleep(0.6)  # past ack_wait: an unacked delivery would come back now
    second_seq = await backend.bus.publish("jobs.a", {"n": 2})
    after = await member.next()
    assert (after.event.seq, after.attempt) == (second_seq, 1)
    assert first_seq < second_seq
    await member.close()


async def test_retention_keeps_only_the_newest_max_events(make_backend: OpenBackend) -> None:
    small = await make_backend(max_events=5)
    seqs = [await small.bus.publish("keep.x", {"n": n}) for n in range(12)]
    assert await small.bus.last_seq() == seqs[-1]
    replay = Reader(small.bus.subscribe("keep.>", start=0))
    assert [d.event.seq for d in await replay.take(5)] == seqs[-5:]
    old = Reader(small.bus.subscribe("keep.>", start=seqs[1]))
    assert (await old.next()).event.seq == seqs[-5]
    await replay.close()
    await old.close()
