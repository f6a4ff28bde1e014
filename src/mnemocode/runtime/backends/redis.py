"""T2: Redis (streams, hashes, sorted sets, Lua) — a team sharing one server.

``url`` names the server (``redis://host:6379/0``); everything lives under keys
tagged ``{<namespace>}``. The client reconnects on its own after a server restart,
and subscriptions and watches resume from where they were.
"""

from __future__ import annotations

from pathlib import Path

from redis.exceptions import RedisError

from mnemocode.config.settings import RuntimeConfig
from mnemocode.runtime.backends.redis_bus import RedisBus
from mnemocode.runtime.backends.redis_client import Keys, connect
from mnemocode.runtime.backends.redis_state import RedisState
from mnemocode.runtime.backends.redis_tasks import RedisTasks
from mnemocode.runtime.protocols import Backend, BackendError, Json

DEFAULT_URL = "redis://127.0.0.1:6379/0"


async def open_backend(config: RuntimeConfig, *, home: Path) -> Backend:
    url = config.url or DEFAULT_URL
    client = connect(url)
    try:
        await client.ping()
    except RedisError as exc:
        await client.aclose()
        raise BackendError(f"redis at {url} is not reachable: {exc}") from exc
    keys = Keys(config.namespace)
    bus = RedisBus(client, keys, config.max_events)
    closed = False

    async def close() -> None:
        nonlocal closed
        if closed:
            return
        closed = True
        await bus.close()
        await client.aclose()

    async def health() -> Json:
        try:
            info = await client.info("server")
            return {
                "backend": "redis",
                "ok": True,
                "detail": f"{url}, namespace {config.namespace!r}",
                "version": info.get("redis_version", ""),
                "last_seq": await bus.last_seq(),
                "events": await client.xlen(keys.bus),
                "keys": await client.zcard(keys.state_index),
            }
        except (RedisError, BackendError) as exc:
            return {"backend": "redis", "ok": False, "detail": f"{url}: {exc}"}

    return Backend(
        "redis",
        bus,
        RedisState(client, keys),
        RedisTasks(client, keys, config.max_attempts),
        close,
        health,
    )
