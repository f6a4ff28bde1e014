"""The services built on the primitives (registry, sessions, tool host), on every
backend, seen from two ``Backend`` instances (two processes' views)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from mnemocode.runtime.protocols import (
    AgentInfo,
    Backend,
    BackendError,
    Json,
    SessionRecord,
)
from mnemocode.runtime.services import BusToolHost, RuntimeSessionStore, StateAgentRegistry
from tests.runtime.helpers import eventually, within

Another = Callable[[], Awaitable[Backend]]


# ---- registry ------------------------------------------------------------------------


async def test_registered_agents_are_listed_by_capability_elsewhere(
    backend: Backend, open_another: Another
) -> None:
    here = StateAgentRegistry(backend.state)
    there = StateAgentRegistry((await open_another()).state)
    await here.register(AgentInfo("w1", "one", ("python", "gpu"), "host-a", 11, {"q": "agent"}))
    await here.register(AgentInfo("w2", "two", ("python",), "host-b", 12))

    assert {a.id for a in await there.agents()} == {"w1", "w2"}
    gpu = await there.agents("gpu")
    assert [(a.id, a.host, a.pid, dict(a.meta)) for a in gpu] == [
        ("w1", "host-a", 11, {"q": "agent"})
    ]
    assert gpu[0].last_seen > 0
    await here.unregister("w1")
    assert [a.id for a in await there.agents()] == ["w2"]


async def test_an_agent_without_heartbeats_expires_and_its_heartbeat_says_so(
    backend: Backend, open_another: Another
) -> None:
    here = StateAgentRegistry(backend.state)
    there = StateAgentRegistry((await open_another()).state)
    await here.register(AgentInfo("w1", "one"), ttl=0.3)
    assert await here.heartbeat("w1")

    async def gone() -> bool:
        return not await there.agents()

    await eventually(gone)
    assert not await here.heartbeat("w1")
    assert not await there.update_meta("w1", task="t1")


async def test_heartbeats_keep_an_agent_listed_past_its_ttl(
    backend: Backend, open_another: Another
) -> None:
    here = StateAgentRegistry(backend.state)
    there = StateAgentRegistry((await open_another()).state)
    await here.register(AgentInfo("w1", "one"), ttl=0.6)
    for _ in range(15):  # 1.5 s, three TTLs, beating every sixth of it
        assert await here.heartbeat("w1")
        await asyncio.sleep(0.1)
    assert await here.update_meta("w1", task="t1")
    [agent] = await there.agents()
    assert agent.meta["task"] == "t1"


# ---- sessions ------------------------------------------------------------------------


async def test_session_events_replay_in_order_from_another_backend(
    backend: Backend, open_another: Another
) -> None:
    other = await open_another()
    writer = RuntimeSessionStore(backend.state, backend.bus)
    reader = RuntimeSessionStore(other.state, other.bus)
    await writer.open(SessionRecord("s1", "proj", "fix the bug", meta={"task": "t1"}))
    await writer.open(SessionRecord("s2", "other"))
    seqs = []
    for i in range(4):
        seqs.append(await writer.append("s1", {"type": "text_delta", "i": i}))
        await reader.append("s2", {"type": "noise", "i": i})  # interleaved, elsewhere

    events = await within(reader.events("s1"))
    assert events == [(seq, {"type": "text_delta", "i": i}) for i, seq in enumerate(seqs)]
    assert await within(reader.events("s1", after=seqs[1])) == events[2:]
    assert await within(reader.events("s1", after=seqs[-1])) == []
    assert await within(reader.events("unknown")) == []


async def test_sessions_are_listed_by_project_most_recent_first(
    backend: Backend, open_another: Another
) -> None:
    other = await open_another()
    store = RuntimeSessionStore(backend.state, backend.bus)
    await store.open(SessionRecord("old", "proj", "first"))
    await store.open(SessionRecord("elsewhere", "other"))
    await store.open(SessionRecord("new", "proj", "second", meta={"task": "t2"}))
    await store.append("old", {"type": "turn_started"})  # now the most recent

    listed = await RuntimeSessionStore(other.state, other.bus).sessions("proj")
    assert [(s.id, s.title) for s in listed] == [("old", "first"), ("new", "second")]
    assert listed[1].meta["task"] == "t2"
    assert listed[0].updated >= listed[0].started > 0
    assert {s.id for s in await store.sessions()} == {"old", "new", "elsewhere"}


async def test_appending_to_a_session_never_opened_creates_it(backend: Backend) -> None:
    store = RuntimeSessionStore(backend.state, backend.bus)
    seq = await store.append("adhoc", {"type": "notice"})
    assert [s.id for s in await store.sessions()] == ["adhoc"]
    assert await within(store.events("adhoc")) == [(seq, {"type": "notice"})]


# ---- tools ---------------------------------------------------------------------------


async def _echo(arguments: Json) -> Json:
    return {"echo": arguments}


async def _boom(arguments: Json) -> Json:
    raise RuntimeError(f"cannot do {arguments['what']}")


async def test_a_tool_exposed_in_one_process_is_called_from_another(
    backend: Backend, open_another: Another
) -> None:
    other = await open_another()
    server = BusToolHost(backend.bus, backend.state)
    client = BusToolHost(other.bus, other.state)
    try:
        await server.expose("echo", _echo)
        await server.expose("fs.read", _echo)  # any name: encoded in subjects and keys
        assert await client.tools() == ["echo", "fs.read"]
        results = await within(
            asyncio.gather(*(client.call("echo", {"n": n}, timeout_s=10) for n in range(5)))
        )
        assert results == [{"echo": {"n": n}} for n in range(5)]
        assert await within(client.call("fs.read", {"p": "a"})) == {"echo": {"p": "a"}}
    finally:
        await server.close()
        await client.close()
    assert await BusToolHost(other.bus, other.state).tools() == []


async def test_a_remote_failure_comes_back_as_a_backend_error(
    backend: Backend, open_another: Another
) -> None:
    other = await open_another()
    server = BusToolHost(backend.bus, backend.state)
    client = BusToolHost(other.bus, other.state)
    try:
        await server.expose("boom", _boom)
        with pytest.raises(BackendError, match="RuntimeError: cannot do the thing"):
            await within(client.call("boom", {"what": "the thing"}))
        await server.expose("echo", _echo)  # the host still serves after a failure
        assert await within(client.call("echo", {})) == {"echo": {}}
    finally:
        await server.close()
        await client.close()


async def test_a_call_nobody_answers_in_time_is_a_backend_error(
    backend: Backend, open_another: Another
) -> None:
    other = await open_another()
    release = asyncio.Event()

    async def stuck(arguments: Json) -> Json:
        await release.wait()
        return {}

    server = BusToolHost(backend.bus, backend.state)
    client = BusToolHost(other.bus, other.state)
    try:
        await server.expose("stuck", stuck)
        with pytest.raises(BackendError, match=r"did not answer within 0\.3 s"):
            await within(client.call("stuck", {}, timeout_s=0.3))
        with pytest.raises(BackendError, match="no process serves the tool 'missing'"):
            await within(client.call("missing", {}))
    finally:
        release.set()
        await server.close()
        await client.close()


async def test_two_hosts_of_one_tool_share_its_calls(
    backend: Backend, open_another: Another
) -> None:
    first, second = BusToolHost(backend.bus, backend.state), None
    other = await open_another()
    second = BusToolHost(other.bus, other.state)
    client = BusToolHost(other.bus, other.state)

    def serving(host: BusToolHost) -> Callable[[Json], Awaitable[Json]]:
        async def who(arguments: Json) -> Json:
            await asyncio.sleep(0.01)
            return {"host": host.id, "n": arguments["n"]}

        return who

    try:
        await first.expose("who", serving(first))
        await second.expose("who", serving(second))
        assert await client.tools() == ["who"]
        results = await within(
            asyncio.gather(*(client.call("who", {"n": n}, timeout_s=10) for n in range(20)))
        )
        assert [r["n"] for r in results] == list(range(20))  # each answered, once
        assert {r["host"] for r in results} <= {first.id, second.id}
        await first.close()
        assert await client.tools() == ["who"]  # the other still serves it
        assert (await within(client.call("who", {"n": 0})))["host"] == second.id
    finally:
        await first.close()
        await second.close()
        await client.close()
