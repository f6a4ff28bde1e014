"""What the Redis primitives share: the client (with reconnects), key names, error
translation and "where does 'from now on' start" for a stream.

Every key of a namespace carries the hash tag ``{<namespace>}``, so a namespace
lives in one cluster slot and the Lua scripts may touch all of its keys.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mnemocode.runtime.protocols import BackendError

P = ParamSpec("P")
R = TypeVar("R")

# Transient failures: a restarting or unreachable server. Commands are retried by
# the client; long-lived readers (subscriptions, watches) keep retrying on top.
TRANSIENT = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
READ_BLOCK_MS = 1000  # how long one blocking read waits before re-checking timers
MAX_OUTAGE = 60.0  # seconds a long-lived reader keeps reconnecting before giving up


def connect(url: str) -> Redis:
    """A pooled client that rides out a server restart (about 6 s of retries per command)."""
    return Redis.from_url(
        url,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 10),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=30,
    )


class Keys:
    """The names of a namespace's keys."""

    def __init__(self, namespace: str) -> None:
        tag = "{" + namespace + "}"
        self.bus = f"{tag}:bus"
        self.bus_seq = f"{tag}:bus-seq"
        self.state_prefix = f"{tag}:s:"
        self.state_index = f"{tag}:s-index"
        self.state_revision = f"{tag}:s-rev"
        self.state_changes = f"{tag}:s-changes"
        self.task_order = f"{tag}:q-order"
        self._tag = tag

    def bus_retry(self, group: str) -> str:
        return f"{self._tag}:bus-retry:{group}"

    def state(self, key: str) -> str:
        return self.state_prefix + key

    def queue(self, queue: str) -> str:
        """The prefix of a queue's keys; the length keeps ``a:b`` apart from ``a``."""
        return f"{self._tag}:q:{len(queue)}:{queue}:"


def lua_literal(text: str) -> str:
    """``text`` as a Lua string literal (every byte outside [A-Za-z0-9] escaped)."""
    escaped = (
        chr(byte) if chr(byte).isascii() and chr(byte).isalnum() else f"\\{byte:03d}"
        for byte in text.encode()
    )
    return "'" + "".join(escaped) + "'"


def translate_errors(
    method: Callable[P, Awaitable[R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis errors leave as ``BackendError`` (``raise … from``)."""

    @functools.wraps(method)
    async def translated(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except RedisError as exc:
            raise BackendError(f"redis: {exc}") from exc

    return translated


StreamEntries = list[tuple[str, dict[str, str]]]


def read_entries(reply: Any) -> StreamEntries:
    """The entries of the one stream an XREAD / XREADGROUP asked for ([] on timeout)."""
    return list(reply[0][1]) if reply else []


def stream_seq(entry_id: str) -> int:
    """Our streams use ids ``<n>-0``: the id is the sequence number."""
    return int(entry_id.partition("-")[0])


async def last_before(client: Redis, stream: str, since: float) -> int:
    """The seq of the newest entry written before ``since`` (its ``t`` field, the
    writer's clock), 0 if none is retained: reading after it gives what came after.

    ``subscribe`` and ``watch`` return synchronously, so "only what comes after" is
    pinned by time when the reader first runs, not by a round trip before returning.
    """
    upper = "+"
    while True:
        entries: StreamEntries = await client.xrevrange(stream, upper, "-", count=64)  # type: ignore[assignment]
        for entry_id, fields in entries:
            if float(fields.get("t", 0.0)) < since:
                return stream_seq(entry_id)
        if len(entries) < 64:
            return 0
        upper = f"({entries[-1][0]}"


def cancel_requests() -> int:
    """How many cancels the current task has been asked for (see ``check_cancel``)."""
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def check_cancel(before: int) -> None:
    """redis-py can finish a blocking read it was cancelled in and return its reply;
    a loop around such reads calls this after each one so the cancel still lands."""
    if cancel_requests() > before:
        raise asyncio.CancelledError


class Outage:
    """Back-off for a long-lived reader across a server restart."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._failing_since: float | None = None
        self._pause = 0.05

    def ok(self) -> None:
        self._failing_since, self._pause = None, 0.05

    async def failed(self, exc: BaseException) -> None:
        now = asyncio.get_running_loop().time()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since > MAX_OUTAGE:
            raise BackendError(f"redis unreachable for {MAX_OUTAGE:.0f}s ({self._what}): {exc}")
        await asyncio.sleep(self._pause)
        self._pause = min(self._pause * 2, 1.0)
