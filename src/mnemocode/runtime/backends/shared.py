"""Small pieces the backends share: JSON copies, the task back-off, a wake-up signal."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from mnemocode.runtime.protocols import BackendError, Json


def dump_json(value: Json) -> str:
    """``value`` as compact JSON; a value that is not JSON-able is a BackendError."""
    if not isinstance(value, dict):
        raise BackendError(f"values must be JSON objects (dicts), not {type(value).__name__}")
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BackendError(f"value is not JSON-able: {exc}") from exc


def load_json(text: str | bytes) -> Json:
    value: Any = json.loads(text)
    return dict(value)


def copy_json(value: Json) -> Json:
    """A detached copy, as a server backend would hand back (and a JSON check)."""
    return load_json(dump_json(value))


def default_backoff(attempts: int) -> float:
    """Seconds before a nacked task is offered again: min(2**attempts, 60) × 0.1."""
    return min(2.0**attempts, 60.0) * 0.1


class Signal:
    """Wakes every waiter when something changed (an asyncio.Condition without the lock)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, at_most: float | None) -> None:
        """Until the next ``notify`` or ``at_most`` seconds (None: no limit)."""
        if at_most is not None and at_most <= 0:
            return
        if at_most == float("inf"):
            at_most = None
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancel that
        # arrives as the event is set, and a waiter cancelled from outside then waits
        # on (found as a hang in the tests).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most):
                await self._event.wait()
