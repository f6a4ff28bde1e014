"""``BusToolHost``: tools served by one process and called from any other, over
the event bus.

- ``expose(name, handler)`` registers ``tools/<name>/<host id>`` in state (with a
  TTL, renewed while the host runs) and serves ``tool.<name>.call`` from the group
  ``tool-<name>``: several hosts exposing one tool share its calls. Names and ids
  in keys and subjects are encoded with ``subjects.encode_key``.
- ``call(name, arguments)`` publishes ``{"id", "arguments", "reply_to", "deadline"}``
  and waits for ``{"id", "ok", "result" | "error"}`` on ``tool.reply.<caller id>``.

A remote failure or no answer in time raises ``BackendError``. A call that is
redelivered after its deadline (a host restarted on an old backlog) is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Coroutine
from typing import Any

from mnemocode.runtime.protocols import (
    BackendError,
    Delivery,
    EventBus,
    Json,
    StateStore,
    Subscription,
    ToolHandler,
)
from mnemocode.runtime.subjects import decode_key, encode_key

_REGISTRATION_TTL_S = 30.0


class BusToolHost:
    def __init__(
        self,
        bus: EventBus,
        state: StateStore,
        *,
        host_id: str | None = None,
        prefix: str = "tools/",
        ack_wait: float = 60.0,
        registration_ttl: float = _REGISTRATION_TTL_S,
    ) -> None:
        self.bus, self.state, self.prefix = bus, state, prefix
        self.id = host_id or uuid.uuid4().hex
        self.ack_wait, self.registration_ttl = ack_wait, registration_ttl
        self._exposed: dict[str, Subscription] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: dict[str, asyncio.Future[Json]] = {}
        self._replies: Subscription | None = None
        self._reply_lock = asyncio.Lock()
        self._keepalive: asyncio.Task[None] | None = None
        self._closed = False

    # ---- serving -----------------------------------------------------------------

    async def expose(self, name: str, handler: ToolHandler) -> None:
        if name in self._exposed:
            raise ValueError(f"tool {name!r} is already exposed by this host")
        start = await self.bus.last_seq() + 1
        subscription = self.bus.subscribe(
            _call_subject(name),
            group=f"tool-{encode_key(name)}",
            start=start,
            ack_wait=self.ack_wait,
        )
        self._exposed[name] = subscription
        self._spawn(self._serve(subscription, handler))
        await self._register(name)
        if self._keepalive is None:
            self._keepalive = asyncio.create_task(self._keep_registered())

    async def _register(self, name: str) -> None:
        value = {"name": name, "host": self.id, "since": time.time()}
        await self.state.put(self._key(name), value, ttl=self.registration_ttl)

    async def _keep_registered(self) -> None:
        while True:
            await asyncio.sleep(self.registration_ttl / 3)
            for name in list(self._exposed):
                await self._register(name)

    async def _serve(self, subscription: Subscription, handler: ToolHandler) -> None:
        async for delivery in subscription:
            self._spawn(self._answer(delivery, handler))

    async def _answer(self, delivery: Delivery, handler: ToolHandler) -> None:
        request = delivery.event.data
        if float(request.get("deadline", 0.0)) < time.time():
            await delivery.ack()  # the caller has given up already
            return
        try:
            reply: Json = {
                "id": request["id"],
                "ok": True,
                "result": await handler(request["arguments"]),
            }
        except Exception as exc:  # the caller gets the failure, the host lives on
            reply = {"id": request["id"], "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        await self.bus.publish(_reply_subject(str(request["reply_to"])), reply)
        await delivery.ack()

    # ---- calling -----------------------------------------------------------------

    async def call(self, name: str, arguments: Json, *, timeout_s: float = 60.0) -> Json:
        if self._closed:
            raise BackendError("the tool host is closed")
        if not await self.state.keys(f"{self.prefix}{encode_key(name)}/"):
            raise BackendError(f"no process serves the tool {name!r}")
        await self._listen_for_replies()
        call_id = uuid.uuid4().hex
        answer: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = answer
        request = {
            "id": call_id,
            "arguments": arguments,
            "reply_to": self.id,
            "deadline": time.time() + timeout_s,
        }
        try:
            await self.bus.publish(_call_subject(name), request)
            async with asyncio.timeout(timeout_s):
                reply = await answer
        except TimeoutError:
            raise BackendError(f"the tool {name!r} did not answer within {timeout_s:g} s") from None
        finally:
            self._pending.pop(call_id, None)
        if not reply.get("ok"):
            raise BackendError(f"the tool {name!r} failed: {reply.get('error', 'unknown error')}")
        result = reply.get("result")
        return result if isinstance(result, dict) else {"result": result}

    async def _listen_for_replies(self) -> None:
        async with self._reply_lock:
            if self._replies is not None:
                return
            # From the current position, so a reply to a call published after this
            # cannot be missed, however late the backend starts the subscription.
            start = await self.bus.last_seq() + 1
            self._replies = self.bus.subscribe(_reply_subject(self.id), start=start)
            task = self._spawn(self._collect_replies(self._replies))
            task.add_done_callback(self._replies_stopped)

    async def _collect_replies(self, subscription: Subscription) -> None:
        async for delivery in subscription:
            reply = delivery.event.data
            answer = self._pending.get(str(reply.get("id")))
            if answer is not None and not answer.done():
                answer.set_result(reply)
            await delivery.ack()

    def _replies_stopped(self, task: asyncio.Task[None]) -> None:
        problem = None if task.cancelled() else task.exception()
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(BackendError(f"lost the reply stream: {problem or 'closed'}"))

    # ---- the rest ------------------------------------------------------------------

    async def tools(self) -> list[str]:
        keys = await self.state.keys(self.prefix)
        return sorted({decode_key(key[len(self.prefix) :].split("/")[0]) for key in keys})

    async def close(self) -> None:
        """Stop serving and calling: subscriptions closed first (that ends their
        reads), then whatever still runs (handlers mid-call) is cancelled."""
        if self._closed:
            return
        self._closed = True
        if self._keepalive is not None:
            self._keepalive.cancel()
        subscriptions = list(self._exposed.values())
        if self._replies is not None:
            subscriptions.append(self._replies)
        for subscription in subscriptions:
            with contextlib.suppress(BackendError):
                await subscription.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *filter(None, [self._keepalive]), return_exceptions=True)
        for name in self._exposed:
            with contextlib.suppress(BackendError):
                await self.state.delete(self._key(name))
        self._exposed.clear()

    def _key(self, name: str) -> str:
        return f"{self.prefix}{encode_key(name)}/{encode_key(self.id)}"

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _call_subject(name: str) -> str:
    return f"tool.{encode_key(name)}.call"


def _reply_subject(host_id: str) -> str:
    return f"tool.reply.{encode_key(host_id)}"
