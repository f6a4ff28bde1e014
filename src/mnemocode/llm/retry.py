"""Retries as a wrapper around any ``ChatModel``: the adapters never retry themselves."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable

from mnemocode.core.errors import ModelError
from mnemocode.core.protocols import ChatModel
from mnemocode.core.types import ModelRequest, Retrying, StreamEvent, TextDelta, ToolCallDelta
from mnemocode.llm.base import aclose_iterator

RetryCallback = Callable[[ModelError, int, float], None]


class RetryingModel:
    """Retry ``retryable`` model errors (429, 5xx, connection) with backoff.

    Delay before retry ``n`` (0-based) is full jitter: ``uniform(0, min(max_delay,
    base_delay * 2**n))``; when the server sent ``Retry-After`` that value is used
    instead. A server asking for more than ``max_retry_after`` seconds (a daily quota,
    say) is not waited for: the error is raised at once so the user can decide.

    When a stream fails, it is retried only if no ``TextDelta`` or ``ToolCallDelta``
    has reached the caller in that attempt — a retry then is invisible. Reasoning
    deltas may have been shown and are shown again; they are display-only until
    ``ResponseDone``. If the stream drops after partial output the error is raised
    (still a ``ModelConnectionError``, still ``retryable``): the caller has rendered
    text we cannot take back, so the loop reports the failure and decides whether
    to re-ask. A stream that ends cleanly without a finish reason is the same
    ``ModelConnectionError`` (the adapters raise it: "cut off"). We chose this over
    buffering the whole response, which would give up streaming for every call to
    protect the rare one.

    Auth, not-found, bad-request and context-overflow errors are never retried.

    ``on_retry(error, attempt, delay)`` is called before each wait (attempt counts
    from 1) so front ends can show a notice; it is a public attribute the app may set
    after construction.
    """

    def __init__(
        self,
        inner: ChatModel,
        max_retries: int,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        on_retry: RetryCallback | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_retry_after: float = 120.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.inner = inner
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.on_retry = on_retry
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._jitter = jitter

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model_id(self) -> str:
        return str(getattr(self.inner, "model_id", self.inner.name))

    def delay_for(self, attempt: int, error: ModelError) -> float | None:
        """Seconds to wait before retry ``attempt`` (0-based); None means do not retry."""
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_retry_after else None
        ceiling: float = min(self.max_delay, self.base_delay * 2.0**attempt)
        return self._jitter() * ceiling

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        attempt = 0
        while True:
            produced = False
            events = self.inner.stream(request)
            try:
                async for event in events:
                    if isinstance(event, TextDelta | ToolCallDelta):
                        produced = True
                    yield event
                return
            except ModelError as exc:
                delay = None
                if exc.retryable and not produced and attempt < self.max_retries:
                    delay = self.delay_for(attempt, exc)
                if delay is None:
                    raise
                attempt += 1
                notice = Retrying(exc.one_line(), attempt, delay)
                if self.on_retry is not None:
                    self.on_retry(exc, attempt, delay)
            finally:
                await aclose_iterator(events)
            yield notice
            await self._sleep(delay)

    async def aclose(self) -> None:
        """Close the wrapped model's HTTP client, if it has one."""
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> RetryingModel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
