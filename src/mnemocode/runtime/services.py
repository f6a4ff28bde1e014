"""The runtime services built once over the primitives, so they work on every
backend: who is alive (``StateAgentRegistry``), sessions and their events
(``RuntimeSessionStore``) and tools served across processes (``BusToolHost``).

Layout in the state store (under the backend's namespace):

- ``agents/<id>``: an ``AgentInfo`` with a TTL, renewed by heartbeats;
- ``sessions/<id>``: a ``SessionRecord`` plus ``first_seq``/``last_seq``, the bus
  positions of its first and latest event;
- ``tools/<name>``: who serves a tool (see ``runtime.tool_host``).

Session events live on the bus, on ``session.<id>.events``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from mnemocode.runtime.protocols import (
    AgentInfo,
    ConflictError,
    Delivery,
    EventBus,
    Json,
    SessionRecord,
    StateStore,
)
from mnemocode.runtime.subjects import encode_key
from mnemocode.runtime.tool_host import BusToolHost

__all__ = ["BusToolHost", "RuntimeSessionStore", "StateAgentRegistry", "session_subject"]

# If a session's events were dropped by retention, its replay has no last event to
# stop at: give up waiting after this long without a delivery.
_REPLAY_IDLE_S = 5.0


def session_subject(session_id: str) -> str:
    """Where the events of a session go (plain ids appear as they are)."""
    return f"session.{encode_key(session_id)}.events"


async def _update(
    state: StateStore, key: str, change: Callable[[Json | None], Json | None], **put: Any
) -> Json | None:
    """Read-modify-write with compare-and-set, retried when another writer won.
    ``change`` returns the new value, or None to leave the key alone."""
    while True:
        entry = await state.get(key)
        value = change(dict(entry.value) if entry else None)
        if value is None:
            return None
        with contextlib.suppress(ConflictError):
            await state.cas(key, value, entry.revision if entry else 0, **put)
            return value


# ---- agents ------------------------------------------------------------------------


class StateAgentRegistry:
    """Agents announce themselves with a TTL and keep the entry alive with heartbeats;
    one that stops beating disappears from ``agents()`` when its TTL runs out."""

    def __init__(
        self, state: StateStore, *, prefix: str = "agents/", clock: Callable[[], float] = time.time
    ) -> None:
        self.state, self.prefix, self.clock = state, prefix, clock

    async def register(self, agent: AgentInfo, *, ttl: float = 30.0) -> None:
        value = _agent_json(agent)
        value.update(last_seen=self.clock(), ttl=ttl)
        await self.state.put(self.prefix + agent.id, value, ttl=ttl)

    async def heartbeat(self, agent_id: str) -> bool:
        key = self.prefix + agent_id
        while True:
            entry = await self.state.get(key)
            if entry is None:
                return False
            value = {**entry.value, "last_seen": self.clock()}
            with contextlib.suppress(ConflictError):
                await self.state.cas(key, value, entry.revision, ttl=float(value.get("ttl", 30.0)))
                return True

    async def update_meta(self, agent_id: str, **meta: Any) -> bool:
        """Change what the agent says about itself (its current task, say);
        False when it is not registered (expired)."""

        def change(value: Json | None) -> Json | None:
            if value is None:
                return None
            return {**value, "meta": {**value.get("meta", {}), **meta}, "last_seen": self.clock()}

        key = self.prefix + agent_id
        entry = await self.state.get(key)
        ttl = float(entry.value.get("ttl", 30.0)) if entry else None
        return await _update(self.state, key, change, ttl=ttl) is not None

    async def unregister(self, agent_id: str) -> None:
        await self.state.delete(self.prefix + agent_id)

    async def agents(self, capability: str | None = None) -> list[AgentInfo]:
        found: list[AgentInfo] = []
        for key in await self.state.keys(self.prefix):
            entry = await self.state.get(key)  # None: expired or gone since listed
            if entry is None:
                continue
            agent = _agent_from_json(entry.value)
            if capability is None or capability in agent.capabilities:
                found.append(agent)
        return found


def _agent_json(agent: AgentInfo) -> Json:
    value = asdict(agent)
    value["capabilities"] = list(agent.capabilities)
    value["meta"] = dict(agent.meta)
    return value


def _agent_from_json(value: Json) -> AgentInfo:
    return AgentInfo(
        id=str(value["id"]),
        name=str(value.get("name", "")),
        capabilities=tuple(value.get("capabilities", ())),
        host=str(value.get("host", "")),
        pid=int(value.get("pid", 0)),
        meta=dict(value.get("meta", {})),
        last_seen=float(value.get("last_seen", 0.0)),
    )


# ---- sessions ----------------------------------------------------------------------


class RuntimeSessionStore:
    """Session records in state, their events on the bus. Each append also records
    the event's position in the session record, so a replay knows where the
    session's events start and where they end."""

    def __init__(
        self,
        state: StateStore,
        bus: EventBus,
        *,
        prefix: str = "sessions/",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state, self.bus, self.prefix, self.clock = state, bus, prefix, clock

    async def open(self, record: SessionRecord) -> None:
        """Create the session, or update its title, project and meta when it exists
        (its start and event positions are kept)."""
        now = self.clock()

        def change(value: Json | None) -> Json:
            old = value or {}
            return {
                "id": record.id,
                "project": record.project,
                "title": record.title or old.get("title", ""),
                "started": old.get("started") or record.started or now,
                "updated": max(record.updated, now),
                "meta": {**old.get("meta", {}), **record.meta},
                "first_seq": old.get("first_seq", 0),
                "last_seq": old.get("last_seq", 0),
            }

        await _update(self.state, self.prefix + record.id, change)

    async def append(self, session_id: str, event: Json) -> int:
        seq = await self.bus.publish(session_subject(session_id), event)
        now = self.clock()

        def change(value: Json | None) -> Json:
            old = value or {"id": session_id, "project": "", "started": now, "meta": {}}
            return {
                **old,
                "updated": now,
                "first_seq": old.get("first_seq") or seq,
                "last_seq": max(int(old.get("last_seq", 0)), seq),
            }

        await _update(self.state, self.prefix + session_id, change)
        return seq

    async def events(self, session_id: str, *, after: int = 0) -> list[tuple[int, Json]]:
        """The session's events with a position after ``after`` (as far as the bus
        still retains them), in order."""
        entry = await self.state.get(self.prefix + session_id)
        if entry is None:
            return []
        first, last = int(entry.value.get("first_seq", 0)), int(entry.value.get("last_seq", 0))
        if last <= after:
            return []
        found: list[tuple[int, Json]] = []
        subscription = self.bus.subscribe(session_subject(session_id), start=max(after + 1, first))
        try:
            deliveries = aiter(subscription)
            while True:
                try:
                    async with asyncio.timeout(_REPLAY_IDLE_S):
                        delivery: Delivery = await anext(deliveries)
                except (TimeoutError, StopAsyncIteration):
                    break
                event = delivery.event
                if event.seq > last:
                    break
                found.append((event.seq, event.data))
                if event.seq == last:
                    break
        finally:
            await subscription.close()
        return found

    async def sessions(self, project: str | None = None) -> list[SessionRecord]:
        """Sessions (of ``project``), the most recently updated first."""
        records: list[SessionRecord] = []
        for key in await self.state.keys(self.prefix):
            entry = await self.state.get(key)
            if entry is None:
                continue
            record = _session_from_json(entry.value)
            if project is None or record.project == project:
                records.append(record)
        records.sort(key=lambda r: r.updated, reverse=True)
        return records


def _session_from_json(value: Json) -> SessionRecord:
    meta = dict(value.get("meta", {}))
    meta.update(first_seq=value.get("first_seq", 0), last_seq=value.get("last_seq", 0))
    return SessionRecord(
        id=str(value["id"]),
        project=str(value.get("project", "")),
        title=str(value.get("title", "")),
        started=float(value.get("started", 0.0)),
        updated=float(value.get("updated", 0.0)),
        meta=meta,
    )
