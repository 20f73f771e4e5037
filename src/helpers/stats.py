"""Effect-size helpers and random-effects pooling (statsmodels), used only where it is legitimate.

Pooling is offered only for findings that are *comparable* (same outcome, effect measure, sign
convention and timeframe, each with a confidence interval) and *independent* (primary studies, one
estimate per study). Reviews are never pooled with each other or with their own primary studies:
they overlap, and pooling them would count the same participants twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

#: Measures on a common scale across studies (mean differences only within one unit).
POOLABLE_MEASURES = {"smd", "md", "wmd"}
POOL_KEYS = ["outcome_code", "effect_measure", "timeframe", "value_unit"]


def standard_error_from_ci(ci_low: pd.Series, ci_high: pd.Series, level_pct: pd.Series | float = 95.0) -> pd.Series:
    """Standard error of a symmetric (normal) confidence interval.

    Examples:
        >>> round(float(standard_error_from_ci(pd.Series([-1.96]), pd.Series([1.96])).iloc[0]), 3)
        1.0
    """
    level = pd.Series(level_pct, index=ci_low.index, dtype="float64").fillna(95.0)
    z = np.array([NormalDist().inv_cdf(0.5 + pct / 200.0) for pct in level.to_numpy()])
    return (ci_high - ci_low) / (2.0 * z)


@dataclass(frozen=True)
class PooledEstimate:
    """A DerSimonian-Laird random-effects estimate over ``k`` independent studies."""

    outcome_code: str
    effect_measure: str
    timeframe: str
    value_unit: str | None
    k: int
    estimate: float
    ci_low: float
    ci_high: float
    tau2: float
    i2: float
    study_ids: tuple[str, ...]


def pool_keys(frame: pd.DataFrame) -> pd.Series:
    """The pooling group of each row (outcome, measure, timeframe, unit) as one string."""
    unit = frame["value_unit"].astype("object").where(frame["effect_measure"] != "smd", "").fillna("")
    parts = [frame["outcome_code"], frame["effect_measure"], frame["timeframe"], unit]
    return pd.Series(["|".join(map(str, key)) for key in zip(*parts, strict=True)], index=frame.index)


def poolable_findings(view: pd.DataFrame) -> pd.DataFrame:
    """Findings that may enter a random-effects pool: primary studies with a standardised effect and CI."""
    eligible = (
        view["effect_measure"].isin(POOLABLE_MEASURES)
        & view["effect_standardised"].notna()
        & view["ci_low_standardised"].notna()
        & ~view["is_review"]
        & view["subgroup"].isna()
        & view["finding_type"].eq("effect")
    )
    frame = view[eligible.to_numpy()].copy()
    frame["value_unit"] = frame["value_unit"].where(frame["effect_measure"] != "smd", "")
    return frame


def pool_random_effects(view: pd.DataFrame, min_studies: int = 2) -> list[PooledEstimate]:
    """Pool comparable, independent findings with statsmodels' ``combine_effects`` (DerSimonian-Laird).

    Groups by outcome, effect measure, timeframe and unit; a study that contributes more than one
    estimate to a group makes the group ineligible (the estimates would not be independent).
    """
    from statsmodels.stats.meta_analysis import combine_effects

    pooled = []
    frame = poolable_findings(view)
    for key, group in frame.groupby(POOL_KEYS, dropna=False, observed=True, sort=True):
        if group["study_id"].nunique() < min_studies or group["study_id"].duplicated().any():
            continue
        se = standard_error_from_ci(group["ci_low_standardised"], group["ci_high_standardised"], group["ci_level_pct"])
        effects = group["effect_standardised"].to_numpy(dtype=float)
        variances = np.square(se.to_numpy(dtype=float))
        # With tau2 <= 0 statsmodels divides by Q (0 for identical estimates) and takes roots of negative
        # variances; that branch is discarded below, so numpy warnings are silenced for this call only.
        with np.errstate(invalid="ignore", divide="ignore"):
            result = combine_effects(effects, variances, method_re="dl")
            intervals = result.conf_int(alpha=0.05, use_t=False)
        # statsmodels' DL moment estimate is not truncated at zero; the DerSimonian-Laird estimator
        # is max(0, tau2), and with tau2 = 0 the random-effects estimate equals the fixed-effect one.
        if result.tau2 > 0:
            estimate, (low, high), tau2, i2 = result.mean_effect_re, intervals[1], result.tau2, result.i2
        else:
            estimate, (low, high), tau2, i2 = result.mean_effect_fe, intervals[0], 0.0, 0.0
        outcome, measure, timeframe, unit = key
        pooled.append(
            PooledEstimate(
                outcome,
                measure,
                timeframe,
                unit or None,
                len(group),
                float(estimate),
                float(low),
                float(high),
                float(tau2),
                max(0.0, float(i2)),
                tuple(group["study_id"]),
            )
        )
    return pooled
