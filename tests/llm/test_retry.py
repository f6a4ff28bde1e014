"""RetryingModel around ScriptedModel: which errors are retried, when, and how long it waits."""

from __future__ import annotations

import pytest

from mnemocode.core.errors import (
    ContextOverflowError,
    ModelAuthError,
    ModelBadRequestError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelServerError,
)
from mnemocode.core.types import ReasoningDelta, TextDelta
from mnemocode.llm.base import complete
from mnemocode.llm.retry import RetryingModel
from mnemocode.llm.testing import ScriptedModel, Turn, dropped, error, text
from tests.llm.conftest import ask


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def retrying(
    script: list[Turn], retries: int = 3, **kwargs: object
) -> tuple[RetryingModel, ScriptedModel, Sleeps]:
    inner = ScriptedModel(script)
    sleeps = Sleeps()
    model = RetryingModel(inner, retries, sleep=sleeps, jitter=lambda: 0.5, **kwargs)  # type: ignore[arg-type]
    return model, inner, sleeps


async def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    failures = [error(ModelServerError("down", status=503)) for _ in range(4)]
    model, inner, sleeps = retrying(
        [*failures, text("up")], retries=4, base_delay=1.0, max_delay=3.0
    )
    assert (await complete(model, ask())).message.text == "up"
    assert sleeps.delays == [0.5, 1.0, 1.5, 1.5]  # 0.5 × min(3, 1, 2, 4, 8)
    assert len(inner.requests) == 5


async def test_retry_after_is_honoured() -> None:
    model, _, sleeps = retrying([error(ModelRateLimitError("slow", retry_after=7.0)), text("ok")])
    await complete(model, ask())
    assert sleeps.delays == [7.0]


async def test_retry_after_longer_than_the_limit_is_not_waited_for() -> None:
    model, inner, sleeps = retrying(
        [error(ModelRateLimitError("quota", retry_after=3600)), text("x")]
    )
    with pytest.raises(ModelRateLimitError):
        await complete(model, ask())
    assert sleeps.delays == [] and len(inner.requests) == 1


async def test_gives_up_after_max_retries() -> None:
    model, inner, sleeps = retrying(
        [error(ModelConnectionError("refused")) for _ in range(3)], retries=2
    )
    with pytest.raises(ModelConnectionError, match="refused"):
        await complete(model, ask())
    assert len(inner.requests) == 3 and len(sleeps.delays) == 2


@pytest.mark.parametrize(
    "exc",
    [
        ModelAuthError("bad key", status=401),
        ModelNotFoundError("no model", status=404),
        ModelBadRequestError("bad", status=400),
        ContextOverflowError("too long", status=400),
    ],
)
async def test_permanent_errors_are_not_retried(exc: ModelError) -> None:
    model, inner, sleeps = retrying([error(exc), text("never")])
    with pytest.raises(type(exc)):
        await complete(model, ask())
    assert len(inner.requests) == 1 and sleeps.delays == []


async def test_no_retry_after_partial_output() -> None:
    model, inner, _ = retrying([dropped("half an answer", after=1), text("whole")])
    seen: list[str] = []
    with pytest.raises(ModelConnectionError):
        async for event in model.stream(ask()):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert seen == ["half "] and len(inner.requests) == 1


async def test_reasoning_alone_does_not_block_a_retry() -> None:
    thinking_then_drop = Turn(reasoning="let me think", drop_after=1)
    model, inner, _ = retrying([thinking_then_drop, text("answer")])
    events = [e async for e in model.stream(ask())]
    assert any(isinstance(e, ReasoningDelta) for e in events)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "answer"
    assert len(inner.requests) == 2


async def test_on_retry_reports_each_attempt() -> None:
    calls: list[tuple[str, int, float]] = []
    model, _, _ = retrying(
        [error(500, "a"), error(502, "b"), text("ok")],
        on_retry=lambda exc, attempt, delay: calls.append((exc.message, attempt, delay)),
    )
    await complete(model, ask())
    assert [(m.split(":")[0], n) for m, n, _ in calls] == [
        ("server error (HTTP 500)", 1),
        ("server error (HTTP 502)", 2),
    ]


async def test_name_and_model_id_come_from_the_inner_model() -> None:
    model = RetryingModel(ScriptedModel([], name="alias"), 1)
    assert model.name == "alias" and model.model_id == "alias"
