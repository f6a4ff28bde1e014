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
    lua_literal,
    read_entries,
    stream_seq,
    translate_errors,
)
from mnemocode.runtime.backends.shared import dump_json, load_json
from mnemocode.runtime.protocols import BackendError, ConflictError, Json, StateChange, StateEntry
from mnemocode.runtime.subjects import SubjectError

CHANGES_KEPT = 10_000  # watchers only see what happens after they start

# The scripts are formatted per namespace: {start} is where the key begins in its
# value key's name (Lua strings are 1-based bytes), {index}, {revision} and {changes}
# the namespace's fixed keys (they share the value key's hash tag, so its cluster
# slot), {kept} how many changes to keep. One key and few arguments on purpose:
# encoding them is most of what a put costs over a bare SET.

# KEYS: value ("<revision> <json>"). ARGV: json, time, [ttl ms (0: none), [expected]].
# Returns the new revision, or {{actual revision}} when the expected one differs.
_WRITE = """
local key = string.sub(KEYS[1], {start})
local expected = ARGV[4]
if expected then
  local current = redis.call('GET', KEYS[1])
  local actual = current and tonumber(string.match(current, '^%d+')) or 0
  if actual ~= tonumber(expected) then return {{actual}} end
end
local revision = redis.call('INCR', {revision})
local stored = revision .. ' ' .. ARGV[1]
local previous
if ARGV[3] and ARGV[3] ~= '0' then
  previous = redis.call('SET', KEYS[1], stored, 'PX', ARGV[3], 'GET')
else
  previous = redis.call('SET', KEYS[1], stored, 'GET')
end
-- a value that existed is indexed already (they are created and removed together)
if not previous then redis.call('ZADD', {index}, 0, key) end
redis.call('XADD', {changes}, 'MAXLEN', '~', {kept}, revision .. '-0',
           'k', key, 'o', 'put', 'v', ARGV[1], 't', ARGV[2])
return revision
"""

# KEYS: value. ARGV: time. Returns 1 if the key existed.
_DELETE = """
local key = string.sub(KEYS[1], {start})
redis.call('ZREM', {index}, key)
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
local revision = redis.call('INCR', {revision})
redis.call('XADD', {changes}, 'MAXLEN', '~', {kept}, revision .. '-0',
           'k', key, 'o', 'delete', 't', ARGV[1])
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
        where = {
            "start": len(keys.state_prefix.encode()) + 1,
            "index": lua_literal(keys.state_index),
            "revision": lua_literal(keys.state_revision),
            "changes": lua_literal(keys.state_changes),
            "kept": CHANGES_KEPT,
        }
        self._write = client.register_script(_WRITE.format(**where))
        self._delete = client.register_script(_DELETE.format(**where))
        self._list = client.register_script(_KEYS)

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
        args: tuple[str | int, ...] = (dump_json(value), repr(time.time()))
        if ttl is not None or expected >= 0:
            args += (0 if ttl is None else max(1, int(ttl * 1000)),)
        if expected >= 0:
            args += (expected,)
        written: Any = await self._write(keys=(self._keys.state(_checked(key)),), args=args)
        if isinstance(written, list):
            raise ConflictError(key, expected, int(written[0]) or None)
        return int(written)

    @translate_errors
    async def delete(self, key: str) -> bool:
        existed = await self._delete(
            keys=(self._keys.state(_checked(key)),), args=(repr(time.time()),)
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
