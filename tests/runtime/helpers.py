"""Small helpers for the conformance suite (no timing assertions: timeouts only
keep a broken backend from hanging the run)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from mnemocode.config.settings import RuntimeConfig
from mnemocode.runtime.backends import open_backend
from mnemocode.runtime.protocols import Backend, Delivery, Subscription

T = TypeVar("T")

TIMEOUT = 10.0


@contextlib.asynccontextmanager
async def opened(config: RuntimeConfig, home: Path) -> AsyncIterator[Backend]:
    """A backend open for the length of a fixture."""
    backend = await open_backend(config, home=home)
    try:
        yield backend
    finally:
        await backend.close()


async def within(awaitable: Awaitable[T], seconds: float = TIMEOUT) -> T:
    async with asyncio.timeout(seconds):  # wait_for on 3.11 can lose a cancel
        return await awaitable


async def eventually(condition: Callable[[], Awaitable[bool]], seconds: float = TIMEOUT) -> None:
    """Polls ``condition`` until it holds; fails after ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition still false after {seconds}s")


class Reader:
    """Reads deliveries from a subscription, one iterator for its whole life."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self._iterator: AsyncIterator[Delivery] = subscription.__aiter__()

    async def next(self, seconds: float = TIMEOUT) -> Delivery:
        return await within(self._iterator.__anext__(), seconds)

    async def take(self, count: int, *, ack: bool = True) -> list[Delivery]:
        deliveries = []
        for _ in range(count):
            delivery = await self.next()
            if ack:
                await delivery.ack()
            deliveries.append(delivery)
        return deliveries

    async def close(self) -> None:
        await self.subscription.close()
