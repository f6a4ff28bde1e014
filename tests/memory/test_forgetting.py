from __future__ import annotations

import math

import pytest

from mnemocode.memory.forgetting import (
    PROMPT_THRESHOLD,
    REINFORCE_FACTOR,
    SECONDS_PER_DAY,
    STABILITY_CAP,
    days_until_forgotten,
    default_stability,
    in_prompt,
    reinforced_stability,
    retention,
    trait_score,
)
from mnemocode.memory.types import DEFAULT_DIMENSION, DIMENSION_STABILITY_DAYS, Trait

NOW = 1_800_000_000.0
DAY = SECONDS_PER_DAY


def make_trait(*, stability: float = 60.0, days_ago: float = 0.0, pinned: bool = False) -> Trait:
    return Trait(
        dimension="communication",
        key="tone",
        value="terse answers",
        stability_days=stability,
        last_seen=NOW - days_ago * DAY,
        pinned=pinned,
    )


def test_retention_is_one_when_just_seen() -> None:
    assert retention(0.0, 60.0) == 1.0


def test_retention_after_one_stability_is_one_over_e() -> None:
    assert retention(60.0, 60.0) == pytest.approx(math.exp(-1))


def test_retention_follows_the_exponential_curve() -> None:
    assert retention(30.0, 60.0) == pytest.approx(math.exp(-0.5))
    assert retention(120.0, 60.0) == pytest.approx(math.exp(-2))


def test_retention_clamps_negative_elapsed_time() -> None:
    assert retention(-5.0, 60.0) == 1.0


def test_retention_rejects_a_non_positive_stability() -> None:
    with pytest.raises(ValueError, match="stability"):
        retention(1.0, 0.0)


def test_reinforcement_multiplies_stability_by_the_factor() -> None:
    assert REINFORCE_FACTOR == 1.1
    assert reinforced_stability(60.0, 60.0) == pytest.approx(66.0)


def test_reinforcement_caps_at_twice_the_dimension_default() -> None:
    assert STABILITY_CAP == 2.0
    default = 45.0
    # 1.1**7 ≈ 1.95 < 2 <= 1.1**8 ≈ 2.14: the eighth reinforcement reaches the cap.
    needed = math.ceil(math.log(STABILITY_CAP) / math.log(REINFORCE_FACTOR))
    assert needed == 8
    stability = default
    for _ in range(needed - 1):
        stability = reinforced_stability(stability, default)
    assert stability == pytest.approx(default * 1.1**7)
    assert stability < 2 * default
    stability = reinforced_stability(stability, default)
    assert stability == 2 * default
    for _ in range(20):
        stability = reinforced_stability(stability, default)
    assert stability == 2 * default


def test_default_stability_per_dimension() -> None:
    assert default_stability("languages") == 120.0
    assert default_stability("tools") == 90.0


def test_default_stability_falls_back_to_the_default_dimension() -> None:
    expected = DIMENSION_STABILITY_DAYS[DEFAULT_DIMENSION]
    assert default_stability("no-such-dimension") == expected


def test_trait_score_decays_from_last_seen() -> None:
    assert trait_score(make_trait(days_ago=0), NOW) == 1.0
    assert trait_score(make_trait(stability=60, days_ago=60), NOW) == pytest.approx(math.exp(-1))


def test_trait_seen_in_the_future_scores_one() -> None:
    assert trait_score(make_trait(days_ago=-3), NOW) == 1.0


def test_pinned_trait_never_decays() -> None:
    ten_years = 3650
    trait = make_trait(stability=1.0, days_ago=ten_years, pinned=True)
    assert trait_score(trait, NOW) == 1.0
    assert in_prompt(trait, NOW)
    assert days_until_forgotten(trait, NOW) is None


def test_in_prompt_until_the_threshold_is_crossed() -> None:
    assert PROMPT_THRESHOLD == 0.1
    crossing = 60.0 * math.log(10)
    assert in_prompt(make_trait(stability=60, days_ago=crossing - 0.01), NOW)
    assert not in_prompt(make_trait(stability=60, days_ago=crossing + 0.01), NOW)


def test_threshold_crossing_day_is_stability_times_ln_10() -> None:
    trait = make_trait(stability=60)
    days = days_until_forgotten(trait, NOW)
    assert days == pytest.approx(60 * math.log(10))  # ≈ 138.2 days
    assert days is not None
    assert trait_score(trait, NOW + days * DAY) == pytest.approx(PROMPT_THRESHOLD)


def test_days_until_forgotten_counts_down_from_now() -> None:
    trait = make_trait(stability=45, days_ago=40)
    assert days_until_forgotten(trait, NOW) == pytest.approx(45 * math.log(10) - 40)


def test_days_until_forgotten_is_zero_once_forgotten() -> None:
    assert days_until_forgotten(make_trait(stability=10, days_ago=500), NOW) == 0.0
