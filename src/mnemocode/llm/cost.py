"""What a call cost: a small built-in price table and a per-session tracker.

Prices are USD per million tokens, matched by the longest model-id prefix after
normalising the id (lower case; ``openrouter/`` style and Bedrock prefixes
dropped; dots in Claude ids read as dashes). Unknown models — local ones — cost
``None``, shown as no cost rather than $0. ``ModelConfig.input_price`` /
``output_price`` override the table.

``Usage.input_tokens`` includes cached tokens; cache reads and writes are priced
at their own rates when the table has them and at the input price otherwise.
Prices as published by the providers in late 2025; long-context surcharges are
not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mnemocode.core.types import Usage


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None


PRICES: dict[str, Price] = {
    # OpenAI — cache writes are free (billed as normal input).
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-5-pro": Price(15.00, 120.00),
    "gpt-5.1": Price(1.25, 10.00, 0.125),
    "gpt-5.1-codex-mini": Price(0.25, 2.00, 0.025),
    "gpt-5.2": Price(1.75, 14.00, 0.175),
    "o1": Price(15.00, 60.00, 7.50),
    "o1-mini": Price(1.10, 4.40, 0.55),
    "o3": Price(2.00, 8.00, 0.50),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o3-pro": Price(20.00, 80.00),
    "o4-mini": Price(1.10, 4.40, 0.275),
    # Anthropic — cache reads 0.1×, 5-minute cache writes 1.25× the input price.
    "claude-opus-4": Price(15.00, 75.00, 1.50, 18.75),
    "claude-opus-4-5": Price(5.00, 25.00, 0.50, 6.25),
    "claude-opus-4-6": Price(5.00, 25.00, 0.50, 6.25),
    "claude-sonnet-4": Price(3.00, 15.00, 0.30, 3.75),
    "claude-haiku-4": Price(1.00, 5.00, 0.10, 1.25),
    "claude-3-7-sonnet": Price(3.00, 15.00, 0.30, 3.75),
    "claude-3-5-sonnet": Price(3.00, 15.00, 0.30, 3.75),
    "claude-3-5-haiku": Price(0.80, 4.00, 0.08, 1.00),
    "claude-3-opus": Price(15.00, 75.00, 1.50, 18.75),
    "claude-3-haiku": Price(0.25, 1.25, 0.03, 0.30),
    # DeepSeek (V3.2 pricing for both modes); cache hits are "cache reads".
    "deepseek-chat": Price(0.28, 0.42, 0.028),
    "deepseek-reasoner": Price(0.28, 0.42, 0.028),
}
_BY_LENGTH = sorted(PRICES, key=len, reverse=True)


def normalize_model_id(model_id: str) -> str:
    name = model_id.strip().lower().rsplit("/", 1)[-1]
    if "anthropic." in name:  # Bedrock: "us.anthropic.claude-…-v1:0"
        name = name.split("anthropic.", 1)[1]
    if name.startswith("claude"):
        name = name.replace(".", "-")
    return name


def price_for(model_id: str) -> Price | None:
    """The table entry for ``model_id`` (longest matching prefix), or None."""
    name = normalize_model_id(model_id)
    for prefix in _BY_LENGTH:
        if name.startswith(prefix):
            return PRICES[prefix]
    return None


def cost_usd(
    model_id: str,
    usage: Usage,
    input_price: float | None = None,
    output_price: float | None = None,
) -> float | None:
    """USD for ``usage``; None when the model is unknown and no price is given.

    A price given for one side only takes the other from the table (or 0).
    """
    table = price_for(model_id)
    if table is None and input_price is None and output_price is None:
        return None
    price_in = input_price if input_price is not None else (table.input if table else 0.0)
    price_out = output_price if output_price is not None else (table.output if table else 0.0)
    read_rate = table.cache_read if table and input_price is None else None
    write_rate = table.cache_write if table and input_price is None else None
    read = usage.cache_read_tokens
    written = usage.cache_write_tokens
    uncached = max(0, usage.input_tokens - read - written)
    total = uncached * price_in + usage.output_tokens * price_out
    total += read * (price_in if read_rate is None else read_rate)
    total += written * (price_in if write_rate is None else write_rate)
    return total / 1_000_000


@dataclass(frozen=True, slots=True)
class CallRecord:
    model: str
    usage: Usage
    cost_usd: float | None
    duration_s: float = 0.0


@dataclass(slots=True)
class CostTracker:
    """Accumulates the calls of a session: per-call records and totals."""

    calls: list[CallRecord] = field(default_factory=list)

    def add(
        self,
        model_id: str,
        usage: Usage,
        *,
        duration_s: float = 0.0,
        input_price: float | None = None,
        output_price: float | None = None,
    ) -> CallRecord:
        cost = cost_usd(model_id, usage, input_price, output_price)
        return self.record(model_id, usage, cost, duration_s)

    def record(
        self, model: str, usage: Usage, cost: float | None, duration_s: float = 0.0
    ) -> CallRecord:
        """Add a call whose cost is already known (or unknown: None)."""
        entry = CallRecord(model, usage, cost, duration_s)
        self.calls.append(entry)
        return entry

    @property
    def model_calls(self) -> int:
        return len(self.calls)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for record in self.calls:
            total = total + record.usage
        return total

    @property
    def cost_usd(self) -> float | None:
        """Sum of the known costs; None when no call had a known cost."""
        known = [r.cost_usd for r in self.calls if r.cost_usd is not None]
        return sum(known) if known else None

    def by_model(self) -> dict[str, tuple[Usage, float | None]]:
        totals: dict[str, tuple[Usage, float | None]] = {}
        for record in self.calls:
            usage, cost = totals.get(record.model, (Usage(), None))
            if record.cost_usd is not None:
                cost = (cost or 0.0) + record.cost_usd
            totals[record.model] = (usage + record.usage, cost)
        return totals
