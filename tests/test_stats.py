"""Random-effects pooling: a hand-computed DerSimonian-Laird estimate, and when pooling is refused."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers import stats


def frame(effects, lows, highs, studies=None, **overrides):
    n = len(effects)
    data = {
        "finding_id": [f"f{i}" for i in range(n)],
        "study_id": studies or [f"s{i}" for i in range(n)],
        "outcome_code": ["il6"] * n,
        "effect_measure": ["smd"] * n,
        "timeframe": ["chronic"] * n,
        "value_unit": [None] * n,
        "effect_standardised": effects,
        "ci_low_standardised": lows,
        "ci_high_standardised": highs,
        "ci_level_pct": [95.0] * n,
        "is_review": [False] * n,
        "subgroup": [None] * n,
        "finding_type": ["effect"] * n,
    }
    data.update(overrides)
    return pd.DataFrame(data)


def hand_dl(y, se):
    w = 1 / se**2
    fixed = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - fixed) ** 2)
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    tau2 = max(0.0, (q - (len(y) - 1)) / c)
    w_re = 1 / (se**2 + tau2)
    estimate = np.sum(w_re * y) / np.sum(w_re)
    se_re = math.sqrt(1 / np.sum(w_re))
    return estimate, estimate - 1.959964 * se_re, estimate + 1.959964 * se_re, tau2


def test_pooled_estimate_matches_a_hand_calculation_with_heterogeneity():
    y = np.array([-0.9, -0.1, -0.5, 0.2])
    se = np.array([0.15, 0.12, 0.2, 0.18])
    pooled = stats.pool_random_effects(frame(list(y), list(y - 1.959964 * se), list(y + 1.959964 * se)))
    assert len(pooled) == 1
    estimate, low, high, tau2 = hand_dl(y, se)
    assert tau2 > 0
    assert pooled[0].estimate == pytest.approx(estimate, abs=1e-4)
    assert (pooled[0].ci_low, pooled[0].ci_high) == (pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4))
    assert pooled[0].tau2 == pytest.approx(tau2, rel=1e-3)
    assert pooled[0].k == 4


def test_tau_squared_is_truncated_at_zero_without_heterogeneity():
    """statsmodels leaves the DL moment estimate negative; the DL estimator is max(0, tau2)."""
    y = np.array([-0.5, -0.2, -0.4])
    se = np.array([0.2, 0.141421, 0.223607])
    pooled = stats.pool_random_effects(frame(list(y), list(y - 1.959964 * se), list(y + 1.959964 * se)))[0]
    estimate, low, _, tau2 = hand_dl(y, se)
    assert tau2 == 0 and pooled.tau2 == 0 and pooled.i2 == 0
    assert pooled.estimate == pytest.approx(estimate, abs=1e-4)
    assert pooled.ci_low == pytest.approx(low, abs=1e-4)


def test_no_pool_for_reviews_subgroups_or_a_study_counted_twice():
    effects, lows, highs = [-0.5, -0.3], [-0.9, -0.6], [-0.1, 0.0]
    assert stats.pool_random_effects(frame(effects, lows, highs, is_review=[True, True])) == []
    assert stats.pool_random_effects(frame(effects, lows, highs, subgroup=["men", None])) == []
    assert stats.pool_random_effects(frame(effects, lows, highs, studies=["s1", "s1"])) == []
    assert stats.pool_random_effects(frame(effects[:1], lows[:1], highs[:1])) == []


def test_different_measures_or_units_are_never_pooled_together():
    effects, lows, highs = [-0.5, -0.3], [-0.9, -0.6], [-0.1, 0.0]
    assert stats.pool_random_effects(frame(effects, lows, highs, effect_measure=["smd", "md"])) == []
    mixed_units = frame(effects, lows, highs, effect_measure=["md", "md"], value_unit=["pg/ml", "ng/ml"])
    assert stats.pool_random_effects(mixed_units) == []
