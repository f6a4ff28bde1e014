"""Price table lookups, cost arithmetic and the session tracker."""

from __future__ import annotations

import pytest

from mnemocode.core.types import Usage
from mnemocode.llm.cost import CostTracker, cost_usd, price_for

MILLION = 1_000_000


@pytest.mark.parametrize(
    ("model_id", "input_price", "output_price"),
    [
        ("gpt-4o", 2.50, 10.00),
        ("gpt-4o-2024-11-20", 2.50, 10.00),
        ("gpt-4o-mini", 0.15, 0.60),
        ("openai/gpt-4.1-mini", 0.40, 1.60),
        ("gpt-5", 1.25, 10.00),
        ("gpt-5-mini-2025-08-07", 0.25, 2.00),
        ("o4-mini", 1.10, 4.40),
        ("o3", 2.00, 8.00),
        ("claude-sonnet-4-5-20250929", 3.00, 15.00),
        ("anthropic/claude-sonnet-4.5", 3.00, 15.00),
        ("claude-opus-4-1-20250805", 15.00, 75.00),
        ("claude-opus-4-5", 5.00, 25.00),
        ("claude-haiku-4-5", 1.00, 5.00),
        ("claude-3-5-sonnet-20241022", 3.00, 15.00),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", 0.80, 4.00),
        ("deepseek-reasoner", 0.28, 0.42),
    ],
)
def test_table_lookup(model_id: str, input_price: float, output_price: float) -> None:
    price = price_for(model_id)
    assert price is not None and (price.input, price.output) == (input_price, output_price)


def test_unknown_models_have_no_cost() -> None:
    assert price_for("qwen2.5-coder:32b") is None
    assert cost_usd("qwen2.5-coder:32b", Usage(1000, 1000)) is None
    assert cost_usd("gpt-oss-120b", Usage(1000, 1000)) is None


def test_plain_cost() -> None:
    assert cost_usd("gpt-4o", Usage(MILLION, MILLION)) == pytest.approx(12.50)


def test_cache_reads_and_writes_have_their_own_rates() -> None:
    usage = Usage(
        input_tokens=MILLION, output_tokens=0, cache_read_tokens=600_000, cache_write_tokens=100_000
    )
    # 300k uncached × $3 + 600k reads × $0.30 + 100k writes × $3.75
    assert cost_usd("claude-sonnet-4-5", usage) == pytest.approx(0.9 + 0.18 + 0.375)
    openai = Usage(input_tokens=MILLION, output_tokens=0, cache_read_tokens=MILLION)
    assert cost_usd("gpt-4o", openai) == pytest.approx(1.25)


def test_config_prices_override_the_table() -> None:
    assert cost_usd("my-local-model", Usage(MILLION, MILLION), 0.5, 1.5) == pytest.approx(2.0)
    assert cost_usd("gpt-4o", Usage(MILLION, MILLION), input_price=1.0) == pytest.approx(11.0)
    assert cost_usd("local", Usage(MILLION, MILLION), 0.0, 0.0) == 0.0


def test_tracker_totals() -> None:
    tracker = CostTracker()
    tracker.add("gpt-4o-mini", Usage(MILLION, 0), duration_s=1.5)
    tracker.add("llama-local", Usage(500, 50))
    record = tracker.add("gpt-4o-mini", Usage(0, MILLION))
    assert record.cost_usd == pytest.approx(0.60)
    assert tracker.cost_usd == pytest.approx(0.75)
    assert tracker.usage == Usage(2 * MILLION + 500 - MILLION, MILLION + 50)
    by_model = tracker.by_model()
    assert by_model["llama-local"] == (Usage(500, 50), None)
    assert by_model["gpt-4o-mini"][1] == pytest.approx(0.75)
    assert CostTracker().cost_usd is None
