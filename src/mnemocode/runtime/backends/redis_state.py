"""The Redis key/value store: a string ``<revision> <json>`` per key (one GET reads
both; SET replaces the TTL), revisions from one counter per namespace, a sorted set
of keys for ``keys(prefix)``, and a stream of changes (ids ``<revision>-0``) for
``watch``. Redis keys are binary-safe, so keys are stored as given. A write and its
change entry happen in one Lua script."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mnemocode.runtime.backends.redis_client import (
    READ_BLOCK_MS,
    TRANSIENT,
    Keys,
    Outage,
    cancel_requests,
    check_cancel,
    last_before,
    read_entries,
    stream_seq,
    translate_errors,
)
from mnemocode.runtime.backends.shared import dump_json, load_json
from mnemocode.runtime.protocols import BackendError, ConflictError, Json, StateChange, StateEntry
from mnemocode.runtime.subjects import SubjectError

CHANGES_KEPT = 10_000  # watchers only see what happens after they start

# KEYS: value, index, revision counter, changes. A value is "<revision> <json>".
# ARGV: key, json, ttl ms (0: none), time, expected revision (-1: any), changes kept.
# Returns {1, revision} or {0, actual revision}.
_WRITE = """
local expected = tonumber(ARGV[5])
if expected >= 0 then
  local current = redis.call('GET', KEYS[1])
  local actual = current and tonumber(string.match(current, '^%d+')) or 0
  if actual ~= expected then return {0, actual} end
end
local revision = redis.call('INCR', KEYS[3])
local stored = string.format('%d ', revision) .. ARGV[2]
local previous
if ARGV[3] ~= '0' then
  previous = redis.call('SET', KEYS[1], stored, 'PX', ARGV[3], 'GET')
else
  previous = redis.call('SET', KEYS[1], stored, 'GET')
end
-- a value that existed is indexed already (they are created and removed together)
if not previous then redis.call('ZADD', KEYS[2], 0, ARGV[1]) end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], string.format('%d-0', revision),
           'k', ARGV[1], 'o', 'put', 'v', ARGV[2], 't', ARGV[4])
return {1, revision}
"""

# KEYS: as for a write. ARGV: key, time, changes kept. Returns 1 if the key existed.
_DELETE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
local revision = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], string.format('%d-0', revision),
           'k', ARGV[1], 'o', 'delete', 't', ARGV[2])
return 1
"""

# KEYS: index. ARGV: value key prefix, lex min, lex max. Keys whose value expired
# are dropped from the index on the way.
_KEYS = """
local live = {}
for _, key in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3])) do
  if redis.call('EXISTS', ARGV[1] .. key) == 1 then
    table.insert(live, key)
  else
    redis.call('ZREM', KEYS[1], key)
  end
end
return live
"""


class RedisState:
    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client, self._keys = client, keys
        self._write = client.register_script(_WRITE)
        self._delete = client.register_script(_DELETE)
        self._list = client.register_script(_KEYS)
        self._write_keys = (keys.state_index, keys.state_revision, keys.state_changes)

    @translate_errors
    async def get(self, key: str) -> StateEntry | None:
        stored: Any = await self._client.get(self._keys.state(_checked(key)))
        if stored is None:
            return None
        revision, _, value = stored.partition(" ")
        return StateEntry(key, load_json(value), int(revision))

    async def put(self, key: str, value: Json, *, ttl: float | None = None) -> int:
        return await self._put(key, value, -1, ttl)

    async def cas(self, key: str, value: Json, expected: int, *, ttl: float | None = None) -> int:
        return await self._put(key, value, expected, ttl)

    @translate_errors
    async def _put(self, key: str, value: Json, expected: int, ttl: float | None) -> int:
        ttl_ms = 0 if ttl is None else max(1, int(ttl * 1000))
        args = (key, dump_json(value), ttl_ms, repr(time.time()), expected, CHANGES_KEPT)
        written, revision = await self._write(
            keys=(self._keys.state(_checked(key)), *self._write_keys), args=args
        )
        if not written:
            raise ConflictError(key, expected, int(revision) or None)
        return int(revision)

    @translate_errors
    async def delete(self, key: str) -> bool:
        existed = await self._delete(
            keys=(self._keys.state(_checked(key)), *self._write_keys),
            args=(key, repr(time.time()), CHANGES_KEPT),
        )
        return bool(existed)

    @translate_errors
    async def keys(self, prefix: str = "") -> list[str]:
        # UTF-8 never contains byte 0xFF, so it bounds every key that starts with prefix
        low, high = (f"[{prefix}", f"({prefix}\xff") if prefix else ("-", "+")
        found = await self._list(
            keys=(self._keys.state_index,), args=(self._keys.state_prefix, low, high)
        )
        return [str(key) for key in found]

    def watch(self, key: str, *, prefix: bool = False) -> AsyncIterator[StateChange]:
        if not isinstance(key, str) or (not key and not prefix):
            raise SubjectError("keys must be non-empty strings")
        return self._watch(key, prefix, time.time())

    async def _watch(self, key: str, prefix: bool, since: float) -> AsyncIterator[StateChange]:
        stream = self._keys.state_changes
        after = await last_before(self._client, stream, since)
        outage = Outage("watch")
        while True:
            cancels = cancel_requests()
            try:
                position: dict[Any, Any] = {stream: f"{after}-0"}
                reply = await self._client.xread(position, count=100, block=READ_BLOCK_MS)
                check_cancel(cancels)
                outage.ok()
            except TRANSIENT as exc:
                await outage.failed(exc)
                continue
            except RedisError as exc:
                raise BackendError(f"redis: {exc}") from exc
            for entry_id, fields in read_entries(reply):
                after = stream_seq(entry_id)
                changed = fields["k"]
                if changed == key or (prefix and changed.startswith(key)):
                    yield _change(changed, after, fields)


def _change(key: str, revision: int, fields: dict[str, str]) -> StateChange:
    if fields["o"] == "delete":
        return StateChange(key, "delete", None, revision)
    return StateChange(key, "put", load_json(fields["v"]), revision)


def _checked(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise SubjectError("keys must be non-empty strings")
    return key
