"""The NATS JetStream backend: a team shares events, state and tasks through one
``nats-server -js`` (``RuntimeConfig.url``, default ``nats://127.0.0.1:4222``).

Everything lives under the namespace: streams ``<ns>_events``, ``<ns>_tasks``,
``<ns>_taskmeta``, ``<ns>_dead`` and the key-value bucket ``<ns>`` (``KV_<ns>``).
The client reconnects forever; pull loops re-issue their requests after a
reconnect, and streams on disk survive a server restart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import nats.errors

from mnemocode.config.settings import RuntimeConfig
from mnemocode.runtime.backends.nats_bus import NatsEventBus
from mnemocode.runtime.backends.nats_common import Connection, translated_errors
from mnemocode.runtime.backends.nats_state import NatsStateStore
from mnemocode.runtime.backends.nats_tasks import NatsTaskQueue
from mnemocode.runtime.protocols import Backend, BackendError, Json

DEFAULT_URL = "nats://127.0.0.1:4222"


FIRST_CONNECT_S = 10.0


async def open_backend(config: RuntimeConfig, *, home: Path) -> Backend:
    del home  # nothing on local disk
    url = config.url or DEFAULT_URL
    holder: list[Connection] = []

    async def reconnected() -> None:
        if holder:
            await holder[0].on_reconnect()

    async def quiet(exc: Exception) -> None:
        del exc  # reconnects are routine; failures surface as BackendError on calls

    try:
        # Reconnects are retried forever once connected; the first connection is
        # given a bounded time, so a wrong url fails instead of hanging.
        async with asyncio.timeout(FIRST_CONNECT_S):
            client = await nats.connect(
                url,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.25,
                connect_timeout=5,
                allow_reconnect=True,
                reconnected_cb=reconnected,
                error_cb=quiet,
            )
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise BackendError(f"nats: cannot connect to {url}: {exc!r}") from exc
    conn = Connection(client, config.namespace)
    holder.append(conn)
    bus = NatsEventBus(conn, max_events=config.max_events)
    state = NatsStateStore(conn)
    tasks = NatsTaskQueue(conn, max_attempts=config.max_attempts)
    try:
        async with translated_errors("set up streams"):
            await bus.setup()
            await state.setup()
            await tasks.setup()
    except BackendError:
        await client.close()
        raise

    async def close() -> None:
        await tasks.close()
        if not client.is_closed:
            await client.close()

    async def health() -> Json:
        report: Json = {"backend": "nats", "ok": False, "detail": url}
        if not client.is_connected:
            report["detail"] = f"not connected to {url}"
            return report
        try:
            report["events"] = await bus.last_seq()
        except BackendError as exc:
            report["detail"] = str(exc)
            return report
        version = client.connected_server_version
        report.update(ok=True, server_version=f"{version.major}.{version.minor}.{version.patch}")
        report["namespace"] = config.namespace
        return report

    return Backend(name="nats", bus=bus, state=state, tasks=tasks, close=close, health=health)
