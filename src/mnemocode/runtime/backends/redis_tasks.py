"""The Redis task queue. Per queue: a hash per task, sorted sets ``ready`` (score
-priority, member ``<order>|<id>`` so equal priorities stay FIFO), ``leased`` (by
deadline), ``delayed`` (by when due) and ``dead``, and a short ``notify`` list that
wakes waiting workers. Every transition is one Lua script on server time; expired
leases and due tasks are moved lazily, by whoever leases, acks or asks for stats."""

from __future__ import annotations

import time
import uuid
from typing import Any

from redis.asyncio import Redis

from mnemocode.runtime.backends.redis_client import (
    Keys,
    cancel_requests,
    check_cancel,
    translate_errors,
)
from mnemocode.runtime.backends.shared import default_backoff, dump_json, load_json
from mnemocode.runtime.protocols import Json, Lease, QueueStats, Task

# ARGV[1]: the queue's key prefix, ARGV[2]: max attempts; a script's own args follow.
_PRELUDE = """
local base, max_attempts = ARGV[1], tonumber(ARGV[2])
local ready, leased = base .. 'ready', base .. 'leased'
local delayed, dead = base .. 'delayed', base .. 'dead'
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function task_key(id) return base .. 't:' .. id end
local function add_ready(id, priority, order)
  redis.call('ZADD', ready, -tonumber(priority), order .. '|' .. id)
  if redis.call('LLEN', base .. 'notify') < 8 then redis.call('RPUSH', base .. 'notify', 1) end
end
local function make_ready(id)
  local fields = redis.call('HMGET', task_key(id), 'p', 'o')
  add_ready(id, fields[1], fields[2])
end
-- a failed attempt (nack or expired lease): true if the task was dead-lettered
local function fail(id, err)
  redis.call('ZREM', leased, id)
  local attempts = redis.call('HINCRBY', task_key(id), 'a', 1)
  redis.call('HSET', task_key(id), 'e', err, 'k', '')
  if attempts >= max_attempts then
    redis.call('ZADD', dead, now, id)
    return true
  end
  return false
end
local function tidy()
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', leased, '-inf', now, 'LIMIT', 0, 100)) do
    if not fail(id, 'lease expired') then make_ready(id) end
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 100)) do
    redis.call('ZREM', delayed, id)
    make_ready(id)
  end
end
-- whether token still holds id's lease (an expired one is counted as failed here)
local function holds(id, token)
  if redis.call('HGET', task_key(id), 'k') ~= token then return false end
  local deadline = tonumber(redis.call('ZSCORE', leased, id) or 0)
  if deadline == 0 then return false end
  if deadline <= now then
    if not fail(id, 'lease expired') then make_ready(id) end
    return false
  end
  return true
end
"""

# ARGV[3..]: id, payload, priority, order counter key. Returns 1 if new.
_ENQUEUE = (
    _PRELUDE
    + """
local id = ARGV[3]
if redis.call('EXISTS', task_key(id)) == 1 then return 0 end
local order = string.format('%020d', redis.call('INCR', ARGV[6]))
redis.call('HSET', task_key(id), 'd', ARGV[4], 'p', ARGV[5], 'a', 0, 'n', now,
           'e', '', 'k', '', 'o', order)
add_ready(id, ARGV[5], order)
return 1
"""
)

# ARGV[3..]: visibility ms, token.
# Returns {id, payload, priority, attempts, enqueued, error, deadline} or {ms until a change}.
_LEASE = (
    _PRELUDE
    + """
tidy()
local first = redis.call('ZRANGE', ready, 0, 0)[1]
if not first then
  local soonest = math.huge
  for _, set in ipairs({leased, delayed}) do
    local head = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
    if head[2] then soonest = math.min(soonest, tonumber(head[2])) end
  end
  if soonest == math.huge then return {-1} end
  return {math.max(1, soonest - now)}
end
redis.call('ZREM', ready, first)
local id = string.sub(first, 22)
local deadline = now + tonumber(ARGV[3])
redis.call('ZADD', leased, deadline, id)
redis.call('HSET', task_key(id), 'k', ARGV[4])
local fields = redis.call('HMGET', task_key(id), 'd', 'p', 'a', 'n', 'e')
return {id, fields[1], fields[2], fields[3], fields[4], fields[5], deadline}
"""
)

# ARGV[3..]: id, token. Returns 1 if the lease held.
_ACK = (
    _PRELUDE
    + """
if not holds(ARGV[3], ARGV[4]) then return 0 end
redis.call('ZREM', leased, ARGV[3])
redis.call('DEL', task_key(ARGV[3]))
return 1
"""
)

# ARGV[3..]: id, token, error, delay ms.
_NACK = (
    _PRELUDE
    + """
local id = ARGV[3]
if not holds(id, ARGV[4]) then return 0 end
if fail(id, ARGV[5]) then return 1 end
if tonumber(ARGV[6]) > 0 then
  redis.call('ZADD', delayed, now + tonumber(ARGV[6]), id)
else
  make_ready(id)
end
return 1
"""
)

# ARGV[3..]: id, token, visibility ms. Returns the new deadline or 0.
_EXTEND = (
    _PRELUDE
    + """
if not holds(ARGV[3], ARGV[4]) then return 0 end
local deadline = now + tonumber(ARGV[5])
redis.call('ZADD', leased, deadline, ARGV[3])
return deadline
"""
)

_STATS = (
    _PRELUDE
    + """
tidy()
return {redis.call('ZCARD', ready), redis.call('ZCARD', leased),
        redis.call('ZCARD', delayed), redis.call('ZCARD', dead)}
"""
)

_DEAD = (
    _PRELUDE
    + """
tidy()
local out = {}
for _, id in ipairs(redis.call('ZRANGE', dead, 0, -1)) do
  local fields = redis.call('HMGET', task_key(id), 'd', 'p', 'a', 'n', 'e')
  table.insert(out, {id, fields[1], fields[2], fields[3], fields[4], fields[5]})
end
return out
"""
)


class RedisTasks:
    def __init__(self, client: Redis, keys: Keys, max_attempts: int) -> None:
        self._client, self._keys, self._max_attempts = client, keys, max_attempts
        self._enqueue = client.register_script(_ENQUEUE)
        self._lease = client.register_script(_LEASE)
        self._ack = client.register_script(_ACK)
        self._nack = client.register_script(_NACK)
        self._extend = client.register_script(_EXTEND)
        self._stats = client.register_script(_STATS)
        self._dead = client.register_script(_DEAD)

    def _args(self, queue: str, *more: Any) -> tuple[Any, ...]:
        return (self._keys.queue(queue), self._max_attempts, *more)

    @translate_errors
    async def enqueue(
        self, queue: str, payload: Json, *, priority: int = 0, task_id: str | None = None
    ) -> str:
        task_id = task_id or uuid.uuid4().hex
        args = self._args(queue, task_id, dump_json(payload), int(priority), self._keys.task_order)
        await self._enqueue(args=args)
        return task_id

    @translate_errors
    async def lease(
        self, queue: str, *, visibility: float = 60.0, wait: float = 0.0
    ) -> Lease | None:
        give_up = time.monotonic() + wait
        notify = self._keys.queue(queue) + "notify"
        while True:
            token = uuid.uuid4().hex
            found = await self._lease(args=self._args(queue, max(1, int(visibility * 1000)), token))
            if len(found) > 1:
                return Lease(_task(queue, found), token, int(found[6]) / 1000)
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                return None
            change_in = int(found[0]) / 1000 if int(found[0]) > 0 else remaining
            # woken by an enqueue, or when a lease expires or a delayed task is due
            cancels = cancel_requests()
            await self._client.blpop([notify], timeout=max(0.01, min(remaining, change_in, 1.0)))
            check_cancel(cancels)

    @translate_errors
    async def ack(self, lease: Lease) -> bool:
        return bool(await self._ack(args=self._args(lease.task.queue, lease.task.id, lease.token)))

    @translate_errors
    async def nack(self, lease: Lease, *, error: str = "", delay: float | None = None) -> bool:
        if delay is None:
            delay = default_backoff(lease.task.attempts + 1)
        args = self._args(lease.task.queue, lease.task.id, lease.token, error, int(delay * 1000))
        return bool(await self._nack(args=args))

    @translate_errors
    async def extend(self, lease: Lease, visibility: float) -> Lease | None:
        args = self._args(
            lease.task.queue, lease.task.id, lease.token, max(1, int(visibility * 1000))
        )
        deadline = int(await self._extend(args=args))
        return Lease(lease.task, lease.token, deadline / 1000) if deadline else None

    @translate_errors
    async def dead_letters(self, queue: str) -> list[Task]:
        return [_task(queue, fields) for fields in await self._dead(args=self._args(queue))]

    @translate_errors
    async def stats(self, queue: str) -> QueueStats:
        ready, leased, delayed, dead = await self._stats(args=self._args(queue))
        return QueueStats(int(ready), int(leased), int(delayed), int(dead))


def _task(queue: str, fields: list[Any]) -> Task:
    task_id, payload, priority, attempts, enqueued, error = fields[:6]
    return Task(
        str(task_id),
        queue,
        load_json(payload),
        int(priority),
        int(attempts),
        int(enqueued) / 1000,
        str(error or ""),
    )
