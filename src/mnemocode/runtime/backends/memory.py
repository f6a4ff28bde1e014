"""T0: everything in this process, on asyncio — no files, no server.

Backends opened with the same namespace in one process share one bus, store and
queue (as SQLite files or servers are shared), until the last of them is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mnemocode.config.settings import RuntimeConfig
from mnemocode.runtime.backends.memory_bus import MemoryBus
from mnemocode.runtime.backends.memory_state import MemoryState
from mnemocode.runtime.backends.memory_tasks import MemoryTasks
from mnemocode.runtime.protocols import Backend, Json


@dataclass(slots=True)
class _Shared:
    bus: MemoryBus
    state: MemoryState
    tasks: MemoryTasks
    users: int = 0


_NAMESPACES: dict[str, _Shared] = {}


async def open_backend(config: RuntimeConfig, *, home: Path) -> Backend:
    shared = _NAMESPACES.get(config.namespace)
    if shared is None:
        shared = _Shared(
            MemoryBus(config.max_events), MemoryState(), MemoryTasks(config.max_attempts)
        )
        _NAMESPACES[config.namespace] = shared
    shared.users += 1
    closed = False

    async def close() -> None:
        nonlocal closed
        if closed:
            return
        closed = True
        shared.users -= 1
        if shared.users == 0 and _NAMESPACES.get(config.namespace) is shared:
            del _NAMESPACES[config.namespace]

    async def health() -> Json:
        return {
            "backend": "memory",
            "ok": True,
            "detail": f"in-process, namespace {config.namespace!r}",
            "last_seq": await shared.bus.last_seq(),
            "keys": len(await shared.state.keys()),
        }

    return Backend("memory", shared.bus, shared.state, shared.tasks, close, health)
