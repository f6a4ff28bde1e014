"""Ebbinghaus forgetting for core (global) memory traits.

A trait's retention is R = exp(-t / S): t is the days since it was last seen, S
its stability in days (starting at its dimension's default). Each reinforcement
stretches S by REINFORCE_FACTOR, up to STABILITY_CAP times that default. Pinned
traits never fade; the others leave the prompt once R drops below PROMPT_THRESHOLD.
"""

from __future__ import annotations

import math

from mnemocode.memory.types import DEFAULT_DIMENSION, DIMENSION_STABILITY_DAYS, Trait

REINFORCE_FACTOR = 1.1
STABILITY_CAP = 2.0  # times the dimension's default stability
PROMPT_THRESHOLD = 0.1
SECONDS_PER_DAY = 86_400.0


def retention(elapsed_days: float, stability_days: float) -> float:
    """exp(-t / S); a negative ``elapsed_days`` (clock skew) counts as none."""
    if stability_days <= 0:
        raise ValueError(f"stability must be positive, got {stability_days}")
    return math.exp(-max(elapsed_days, 0.0) / stability_days)


def reinforced_stability(current: float, dimension_default: float) -> float:
    """The stability after one more reinforcement."""
    return min(current * REINFORCE_FACTOR, STABILITY_CAP * dimension_default)


def default_stability(dimension: str) -> float:
    """The starting stability (days) of a trait in ``dimension``."""
    fallback = DIMENSION_STABILITY_DAYS[DEFAULT_DIMENSION]
    return DIMENSION_STABILITY_DAYS.get(dimension, fallback)


def trait_score(trait: Trait, now: float) -> float:
    """How present ``trait`` still is at unix time ``now``, in (0, 1]."""
    if trait.pinned:
        return 1.0
    return retention((now - trait.last_seen) / SECONDS_PER_DAY, trait.stability_days)


def in_prompt(trait: Trait, now: float) -> bool:
    return trait_score(trait, now) >= PROMPT_THRESHOLD


def days_until_forgotten(trait: Trait, now: float) -> float | None:
    """Days from ``now`` until ``trait`` drops out of the prompt (0 if it already
    has); None for a pinned trait, which never does."""
    if trait.pinned:
        return None
    # exp(-t / S) = threshold  <=>  t = S * ln(1 / threshold)
    lifetime = trait.stability_days * math.log(1 / PROMPT_THRESHOLD)
    elapsed = max(now - trait.last_seen, 0.0) / SECONDS_PER_DAY
    return max(lifetime - elapsed, 0.0)
