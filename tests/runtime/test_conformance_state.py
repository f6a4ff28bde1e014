"""StateStore semantics every backend shares (see protocols.StateStore)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mnemocode.runtime.protocols import Backend, ConflictError, StateChange
from tests.runtime.helpers import eventually, within

AWKWARD_KEYS = [
    "plain",
    "agent:42:status",
    "path/to/file.py",
    "with spaces  here",
    "ünïcødé/キー/🔑",
    "a..b",
    ".leading",
    "trailing.",
    "star*and>gt",
    "*",
    ">",
    "under_score=eq-dash",
    "_2E",
    "tab\tand\nnewline",
]


async def test_awkward_keys_round_trip(backend: Backend) -> None:
    state = backend.state
    for index, key in enumerate(AWKWARD_KEYS):
        revision = await state.put(key, {"i": index, "key": key})
        entry = await state.get(key)
        assert entry is not None
        assert (entry.key, entry.value, entry.revision) == (key, {"i": index, "key": key}, revision)
    assert await state.keys() == sorted(AWKWARD_KEYS)
    assert await state.keys("a") == sorted(k for k in AWKWARD_KEYS if k.startswith("a"))
    assert await state.keys("path/") == ["path/to/file.py"]
    for key in AWKWARD_KEYS:
        assert await state.delete(key) is True
        assert await state.get(key) is None
    assert await state.keys() == []


async def test_missing_key_reads_as_none_and_delete_says_so(backend: Backend) -> None:
    assert await backend.state.get("nothing:here") is None
    assert await backend.state.delete("nothing:here") is False


async def test_revisions_only_grow(backend: Backend) -> None:
    state = backend.state
    revisions = [await state.put("k", {"n": n}) for n in range(3)]
    assert 0 < revisions[0] < revisions[1] < revisions[2]
    await state.delete("k")
    assert await state.put("k", {"n": 9}) > revisions[2]
    entry = await state.get("k")
    assert entry is not None and entry.value == {"n": 9}


async def test_cas_creates_only_when_missing(backend: Backend) -> None:
    state = backend.state
    created = await state.cas("lock:a", {"owner": 1}, 0)
    with pytest.raises(ConflictError) as conflict:
        await state.cas("lock:a", {"owner": 2}, 0)
    assert (conflict.value.key, conflict.value.expected, conflict.value.actual) == (
        "lock:a",
        0,
        created,
    )
    entry = await state.get("lock:a")
    assert entry is not None and entry.value == {"owner": 1}


async def test_cas_needs_the_current_revision(backend: Backend) -> None:
    state = backend.state
    first = await state.put("doc", {"v": 1})
    second = await state.cas("doc", {"v": 2}, first)
    assert second > first
    with pytest.raises(ConflictError) as stale:
        await state.cas("doc", {"v": 3}, first)
    assert stale.value.actual == second
    await state.delete("doc")
    with pytest.raises(ConflictError) as gone:
        await state.cas("doc", {"v": 4}, second)
    assert gone.value.actual is None


async def test_two_concurrent_cas_writers_exactly_one_wins(
    backend: Backend, open_another: Callable[[], Awaitable[Backend]]
) -> None:
    other = await open_another()
    for round_ in range(5):
        key = f"race:{round_}"
        revision = await backend.state.put(key, {"v": 0})
        results = await asyncio.gather(
            backend.state.cas(key, {"v": "mine"}, revision),
            other.state.cas(key, {"v": "theirs"}, revision),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if isinstance(r, ConflictError)]
        assert len(winners) == 1 and len(losers) == 1, results
        entry = await backend.state.get(key)
        assert entry is not None and entry.revision == winners[0]


async def test_ttl_expires_keys(backend: Backend) -> None:
    state = backend.state
    await state.put("lasting", {"v": 1})
    await state.put("brief", {"v": 1}, ttl=0.5)
    assert await state.get("brief") is not None
    await eventually(lambda: _missing(backend, "brief"))
    assert await state.keys() == ["lasting"]
    assert await state.cas("brief", {"v": 2}, 0) > 0


async def test_ttl_applies_to_cas(backend: Backend) -> None:
    await backend.state.cas("claim", {"v": 1}, 0, ttl=0.4)

    await eventually(lambda: _missing(backend, "claim"))


async def _missing(backend: Backend, key: str) -> bool:
    return await backend.state.get(key) is None


async def _changes(watch: AsyncIterator[StateChange], count: int) -> list[StateChange]:
    return [await within(watch.__anext__()) for _ in range(count)]


async def test_watch_a_key_sees_puts_and_deletes_in_order(backend: Backend) -> None:
    state = backend.state
    await state.put("cfg:x", {"v": 0})
    watch = state.watch("cfg:x").__aiter__()
    first = await state.put("cfg:x", {"v": 1})
    await state.put("cfg:other", {"v": 1})
    second = await state.put("cfg:x", {"v": 2})
    await state.delete("cfg:x")
    changes = await _changes(watch, 3)
    assert [(c.key, c.op, c.value) for c in changes] == [
        ("cfg:x", "put", {"v": 1}),
        ("cfg:x", "put", {"v": 2}),
        ("cfg:x", "delete", None),
    ]
    assert [c.revision for c in changes[:2]] == [first, second]
    assert changes[2].revision > second


async def test_watch_a_prefix(backend: Backend) -> None:
    state = backend.state
    watch = state.watch("agents/", prefix=True).__aiter__()
    await state.put("agents/a b", {"n": 1})
    await state.put("other/a", {"n": 2})
    await state.put("agents/ü.*", {"n": 3})
    await state.delete("agents/a b")
    changes = await _changes(watch, 3)
    assert [(c.key, c.op) for c in changes] == [
        ("agents/a b", "put"),
        ("agents/ü.*", "put"),
        ("agents/a b", "delete"),
    ]


async def test_watch_sees_writes_from_another_backend(
    backend: Backend, open_another: Callable[[], Awaitable[Backend]]
) -> None:
    other = await open_another()
    watch = backend.state.watch("shared:key").__aiter__()
    revision = await other.state.put("shared:key", {"from": "other"})
    (change,) = await _changes(watch, 1)
    assert (change.op, change.value, change.revision) == ("put", {"from": "other"}, revision)
