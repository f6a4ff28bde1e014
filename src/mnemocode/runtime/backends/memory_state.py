"""The in-process key/value store: revisions, compare-and-set, TTL, watches."""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass

from mnemocode.runtime.backends.shared import copy_json
from mnemocode.runtime.protocols import ConflictError, Json, StateChange, StateEntry
from mnemocode.runtime.subjects import SubjectError


@dataclass(slots=True)
class _Stored:
    value: Json
    revision: int
    expires: float | None  # monotonic


class MemoryState:
    def __init__(self) -> None:
        self._entries: dict[str, _Stored] = {}
        self._revision = 0
        self._watchers: weakref.WeakSet[MemoryWatch] = weakref.WeakSet()

    async def get(self, key: str) -> StateEntry | None:
        stored = self._live(key)
        if stored is None:
            return None
        return StateEntry(key, copy_json(stored.value), stored.revision)

    async def put(self, key: str, value: Json, *, ttl: float | None = None) -> int:
        return self._write(key, value, ttl)

    async def cas(self, key: str, value: Json, expected: int, *, ttl: float | None = None) -> int:
        stored = self._live(key)
        actual = stored.revision if stored is not None else None
        if (actual or 0) != expected:
            raise ConflictError(key, expected, actual)
        return self._write(key, value, ttl)

    async def delete(self, key: str) -> bool:
        existed = self._live(key) is not None
        self._entries.pop(key, None)
        if existed:
            self._revision += 1
            self._notify(StateChange(key, "delete", None, self._revision))
        return existed

    async def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in list(self._entries) if k.startswith(prefix) and self._live(k))

    def watch(self, key: str, *, prefix: bool = False) -> MemoryWatch:
        _check_key(key, allow_empty=prefix)
        watcher = MemoryWatch(key, prefix)
        self._watchers.add(watcher)
        return watcher

    def _live(self, key: str) -> _Stored | None:
        _check_key(key)
        stored = self._entries.get(key)
        if stored is not None and stored.expires is not None and stored.expires <= time.monotonic():
            del self._entries[key]
            return None
        return stored

    def _write(self, key: str, value: Json, ttl: float | None) -> int:
        _check_key(key)
        copied = copy_json(value)
        self._revision += 1
        expires = time.monotonic() + ttl if ttl is not None else None
        self._entries[key] = _Stored(copied, self._revision, expires)
        self._notify(StateChange(key, "put", copied, self._revision))
        return self._revision

    def _notify(self, change: StateChange) -> None:
        for watcher in list(self._watchers):
            watcher.offer(change)


class MemoryWatch:
    def __init__(self, key: str, prefix: bool) -> None:
        self._key, self._prefix = key, prefix
        self._changes: asyncio.Queue[StateChange] = asyncio.Queue()

    def offer(self, change: StateChange) -> None:
        wanted = change.key.startswith(self._key) if self._prefix else change.key == self._key
        if wanted:
            value = copy_json(change.value) if change.value is not None else None
            self._changes.put_nowait(StateChange(change.key, change.op, value, change.revision))

    def __aiter__(self) -> MemoryWatch:
        return self

    async def __anext__(self) -> StateChange:
        return await self._changes.get()


def _check_key(key: str, *, allow_empty: bool = False) -> None:
    if not isinstance(key, str) or (not key and not allow_empty):
        raise SubjectError("keys must be non-empty strings")
