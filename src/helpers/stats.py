"""Effect sizes, a univariate meta-analysis engine, and random-effects pooling used only where it is legitimate.

The engine (:func:`meta_analysis`) fits the equal-effect model and the random-effects model with the
DerSimonian-Laird, Hedges, maximum-likelihood, restricted maximum-likelihood and Paule-Mandel estimators
of the between-study variance, with normal (Wald) or Hartung-Knapp-Sidik-Jonkman intervals and a
prediction interval. Its results are checked in ``tests/test_meta_analysis.py`` against published values
(the R package metafor's documentation and test suite, and the tables it reproduces).

:func:`meta_analysis_groups` runs the default model (REML, Hartung-Knapp-Sidik-Jonkman, HTS prediction
interval) for many cells at once; which estimates may be pooled together (comparable, independent, never a
review with its own trials) is decided in :mod:`helpers.synthesis`.

SciPy is imported inside the functions that need a t or chi-squared distribution, never at module import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

#: Estimators of the between-study variance accepted by :func:`meta_analysis`.
TAU2_METHODS = ("EE", "DL", "HE", "ML", "REML", "PM")
#: Confidence-interval methods accepted by :func:`meta_analysis`.
CI_METHODS = ("z", "hksj", "hksj_adhoc")
#: Prediction-interval methods accepted by :func:`meta_analysis`.
PI_METHODS = ("hts", "metafor")

# Root finding for ML, REML and PM runs on tau² / median(v), so these tolerances are relative to the
# scale of the sampling variances (far tighter than the 1e-10 the estimates are required to reach).
_ROOT_XTOL = 1e-13
_ROOT_RTOL = 1e-13
_MAX_BRACKET_DOUBLINGS = 200


# --------------------------------------------------------------------------------------------------
# Small numeric helpers
# --------------------------------------------------------------------------------------------------


def _as_output(values: np.ndarray) -> float | np.ndarray:
    """A float for a 0-d result, the array otherwise."""
    return float(values) if np.ndim(values) == 0 else values


def _contains_text(values) -> bool:
    if isinstance(values, str | bytes):
        return True
    return any(isinstance(x, str | bytes) for x in np.asarray(values, dtype=object).ravel())


def _as_float_array(name: str, values) -> np.ndarray:
    if _contains_text(values):
        raise ValueError(f"{name} must be a number or an array of numbers, not text: {values!r}")
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric: {values!r}") from error
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or infinity): {values!r}")
    return array


def _check_level(level_pct) -> np.ndarray:
    level = _as_float_array("level_pct", level_pct)
    if np.any((level <= 0) | (level >= 100)):
        raise ValueError(f"the confidence level must be a percentage strictly between 0 and 100: {level_pct!r}")
    return level


def _check_df(df) -> np.ndarray | None:
    if df is None:
        return None
    dfs = _as_float_array("df", df)
    if np.any(dfs <= 0):
        raise ValueError(f"degrees of freedom must be positive: {df!r}")
    return dfs


def _upper_quantile(prob: np.ndarray, df: np.ndarray | float | None = None) -> np.ndarray:
    """Quantile of the standard normal (``df=None``) or of Student's t with ``df`` degrees of freedom."""
    if df is None:
        return np.vectorize(NormalDist().inv_cdf, otypes=[float])(prob)
    from scipy import stats as sps

    return np.asarray(sps.t.ppf(prob, df), dtype=float)


def _test_statistic(estimate: float, se: float) -> float:
    """``estimate / se``; ±inf or NaN when se is 0 (identical estimates under HKSJ), without a warning."""
    if se > 0:
        return estimate / se
    return math.nan if estimate == 0 else math.copysign(math.inf, estimate)


def _two_sided_p(statistic: float, df: float | None) -> float:
    """Two-sided p-value of a z (``df=None``) or t statistic; NaN for a NaN statistic."""
    if math.isnan(statistic):
        return math.nan
    if math.isinf(statistic):
        return 0.0
    if df is None:
        return 2.0 * NormalDist().cdf(-abs(statistic))
    from scipy import stats as sps

    return float(2.0 * sps.t.sf(abs(statistic), df))


# --------------------------------------------------------------------------------------------------
# Effect sizes and standard errors from reported statistics
# --------------------------------------------------------------------------------------------------


def standardised_mean_difference(
    mean_1, sd_1, n_1, mean_2, sd_2, n_2, *, exact_correction: bool = False
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Hedges' g (bias-corrected standardised mean difference) and its sampling variance.

    Group 1 is the intervention and group 2 the comparator: a positive g means a higher mean with the
    intervention. Following Borenstein, Hedges, Higgins & Rothstein (2009), *Introduction to
    Meta-Analysis*, chapter 4 (independent groups), and the Cochrane Handbook section 6.5.1.2:

    - pooled within-group SD: ``S = sqrt(((n1 - 1) sd1² + (n2 - 1) sd2²) / (n1 + n2 - 2))``;
    - Cohen's d: ``d = (mean1 - mean2) / S``, with variance ``Vd = (n1 + n2) / (n1 n2) + d² / (2 (n1 + n2))``;
    - small-sample correction with ``df = n1 + n2 - 2``: by default Borenstein's (and Hedges', 1981)
      approximation ``J = 1 - 3 / (4 df - 1)``; with ``exact_correction=True`` the exact
      ``J = Γ(df / 2) / (sqrt(df / 2) Γ((df - 1) / 2))`` (Hedges 1981, as metafor's ``escalc`` uses);
    - ``g = J d`` and ``Vg = J² Vd``.

    Accepts scalars or numpy arrays (broadcast together) and returns floats or arrays accordingly.

    Args:
        mean_1: Mean of the intervention group.
        sd_1: Standard deviation of the intervention group (> 0).
        n_1: Size of the intervention group (>= 2).
        mean_2: Mean of the comparator group.
        sd_2: Standard deviation of the comparator group (> 0).
        n_2: Size of the comparator group (>= 2).
        exact_correction: Use the exact gamma-function correction factor instead of the approximation.

    Returns:
        ``(g, variance)``.

    Raises:
        ValueError: If an input is not finite, a group has fewer than 2 participants or an SD is not positive.

    Examples:
        Borenstein et al. (2009), chapter 4 worked example:

        >>> g, v = standardised_mean_difference(103, 5.5, 50, 100, 4.5, 50)
        >>> round(g, 4), round(v, 4)
        (0.5924, 0.0411)
        >>> g, v = standardised_mean_difference(np.array([103.0, 100.0]), 5.5, 50, np.array([100.0, 103.0]), 4.5, 50)
        >>> np.round(g, 4).tolist()
        [0.5924, -0.5924]
    """
    m1, s1, n1, m2, s2, n2 = (
        _as_float_array(name, value)
        for name, value in (
            ("mean_1", mean_1),
            ("sd_1", sd_1),
            ("n_1", n_1),
            ("mean_2", mean_2),
            ("sd_2", sd_2),
            ("n_2", n_2),
        )
    )
    if np.any(n1 < 2) or np.any(n2 < 2):
        raise ValueError(f"each group needs at least 2 participants: n_1={n_1!r}, n_2={n_2!r}")
    if np.any(s1 <= 0) or np.any(s2 <= 0):
        raise ValueError(f"standard deviations must be positive: sd_1={sd_1!r}, sd_2={sd_2!r}")
    df = n1 + n2 - 2.0
    pooled_sd = np.sqrt(((n1 - 1.0) * s1**2 + (n2 - 1.0) * s2**2) / df)
    d = (m1 - m2) / pooled_sd
    variance_d = (n1 + n2) / (n1 * n2) + d**2 / (2.0 * (n1 + n2))
    if exact_correction:
        from scipy.special import gammaln

        j = np.exp(gammaln(df / 2.0) - gammaln((df - 1.0) / 2.0)) / np.sqrt(df / 2.0)
    else:
        j = 1.0 - 3.0 / (4.0 * df - 1.0)
    return _as_output(j * d), _as_output(j**2 * variance_d)


def sd_from_se(se, n) -> float | np.ndarray:
    """Standard deviation of a group from the standard error of its mean: ``SD = SE * sqrt(n)``.

    Source: Cochrane Handbook for Systematic Reviews of Interventions, section 6.5.2.2.

    Args:
        se: Standard error of the group mean (>= 0).
        n: Number of participants in the group (>= 2).

    Returns:
        The standard deviation (a float, or an array for array input).

    Raises:
        ValueError: If an input is not finite, ``se`` is negative or ``n`` < 2.

    Examples:
        >>> sd_from_se(0.5, 100)
        5.0
    """
    se_values, n_values = _as_float_array("se", se), _as_float_array("n", n)
    if np.any(se_values < 0):
        raise ValueError(f"a standard error cannot be negative: {se!r}")
    if np.any(n_values < 2):
        raise ValueError(f"a standard deviation needs at least 2 participants: n={n!r}")
    return _as_output(se_values * np.sqrt(n_values))


def se_from_ci(low, high, level_pct=95, df=None) -> float | np.ndarray:
    """Standard error from a symmetric confidence interval: ``SE = (high - low) / (2 * critical value)``.

    The critical value is the normal quantile (1.96 for 95 %) or, when ``df`` is given, Student's t
    quantile with ``df`` degrees of freedom (for a mean from a small group, ``df = n - 1``). Source:
    Cochrane Handbook section 6.5.2.2 (means, with the t distribution for small samples) and section
    6.3.1 (for ratio measures pass the interval on the log scale).

    Args:
        low: Lower confidence limit.
        high: Upper confidence limit (>= low).
        level_pct: Confidence level in percent (default 95).
        df: Degrees of freedom for a t-based interval; ``None`` for a normal-based one.

    Returns:
        The standard error (a float, or an array for array input).

    Raises:
        ValueError: If an input is not finite, ``high < low``, the level is outside (0, 100) or ``df <= 0``.

    Examples:
        >>> round(se_from_ci(-1.96, 1.96), 3)
        1.0
        >>> round(se_from_ci(0.0, 4.0, level_pct=90), 4)
        1.2159
    """
    lows, highs = _as_float_array("low", low), _as_float_array("high", high)
    if np.any(highs < lows):
        raise ValueError(f"the upper confidence limit is below the lower one: low={low!r}, high={high!r}")
    level = _check_level(level_pct)
    critical = _upper_quantile(0.5 + level / 200.0, _check_df(df))
    return _as_output((highs - lows) / (2.0 * critical))


def se_from_p(effect, p, df=None) -> float | np.ndarray:
    """Standard error from an effect estimate and its exact two-sided p-value: ``SE = |effect| / critical``.

    The critical value is the normal quantile ``z = Φ⁻¹(1 - p / 2)`` or, when ``df`` is given, the t
    quantile with ``df`` degrees of freedom. Source: Cochrane Handbook section 6.3.2 (for ratio measures,
    pass the log of the ratio). Only exact p-values are accepted: a p reported as an inequality
    (``p < 0.05``) does not determine a standard error, and the caller must not pass its bound instead.

    Args:
        effect: The effect estimate (non-zero; on the log scale for ratios).
        p: The exact two-sided p-value, strictly between 0 and 1.
        df: Degrees of freedom of a t test; ``None`` for a z test.

    Returns:
        The standard error (a float, or an array for array input).

    Raises:
        ValueError: If ``p`` is given as text (e.g. ``"<0.05"``), lies outside (0, 1), ``effect`` is 0 or
            not finite, or ``df <= 0``.

    Examples:
        >>> round(se_from_p(0.5, 0.05), 4)
        0.2551
        >>> se_from_p(0.5, "<0.05")
        Traceback (most recent call last):
        ...
        ValueError: p must be an exact p-value, not text such as '<0.05' (an inequality gives no standard error)
    """
    if _contains_text(p):
        raise ValueError(f"p must be an exact p-value, not text such as {p!r} (an inequality gives no standard error)")
    effects, ps = _as_float_array("effect", effect), _as_float_array("p", p)
    if np.any((ps <= 0) | (ps >= 1)):
        raise ValueError(f"p must lie strictly between 0 and 1: {p!r}")
    if np.any(effects == 0):
        raise ValueError("an effect of exactly 0 gives no standard error from its p-value")
    critical = _upper_quantile(1.0 - ps / 2.0, _check_df(df))
    return _as_output(np.abs(effects) / critical)


# --------------------------------------------------------------------------------------------------
# Meta-analysis engine
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetaAnalysisResult:
    """A fitted equal-effect or random-effects meta-analysis (see :func:`meta_analysis`).

    Attributes:
        estimate: Pooled estimate (inverse-variance weighted with weights ``1 / (v_i + tau2)``).
        se: Its standard error (the Hartung-Knapp one when ``ci_method == "hksj"``).
        ci_low: Lower confidence limit.
        ci_high: Upper confidence limit.
        tau2: Between-study variance (0 for the equal-effect model; NaN when k = 1).
        tau2_se: Standard error of ``tau2`` from the Fisher information (ML and REML only; NaN otherwise).
        i2: I² in percent (see :func:`meta_analysis` for the definition used).
        h2: H² (total variability over sampling variability).
        q: Cochran's Q with the equal-effect weights ``1 / v_i``.
        df_q: Degrees of freedom of Q (k - 1).
        p_q: p-value of the chi-squared test of Q.
        pi_low: Lower prediction limit (NaN when undefined).
        pi_high: Upper prediction limit (NaN when undefined).
        k: Number of estimates.
        method: Estimator of tau² (``"EE"``, ``"DL"``, ``"HE"``, ``"ML"``, ``"REML"`` or ``"PM"``).
        ci_method: ``"z"`` or ``"hksj"``.
        pi_method: ``"hts"`` or ``"metafor"``.
        level: Confidence and prediction level in percent.
        z_or_t: Test statistic ``estimate / se`` (z, or t with ``df`` degrees of freedom).
        df: Degrees of freedom of the t distribution (k - 1) or ``None`` for the normal.
        p_value: Two-sided p-value of ``z_or_t``.
        note: Why some quantities are undefined (empty when all are defined).
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    tau2: float
    tau2_se: float
    i2: float
    h2: float
    q: float
    df_q: int
    p_q: float
    pi_low: float
    pi_high: float
    k: int
    method: str
    ci_method: str
    pi_method: str
    level: float
    z_or_t: float
    df: int | None
    p_value: float
    note: str = ""


def _weighted_mean(y: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * y) / np.sum(w))


def _cochran_q(y: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * (y - _weighted_mean(y, w)) ** 2))


def _tau2_dl(y: np.ndarray, v: np.ndarray) -> float:
    """DerSimonian & Laird (1986) method-of-moments estimator, truncated at 0."""
    w = 1.0 / v
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    return max(0.0, (_cochran_q(y, w) - (y.size - 1)) / float(c))


def _tau2_he(y: np.ndarray, v: np.ndarray) -> float:
    """Hedges (1983) unweighted method-of-moments estimator, truncated at 0."""
    return max(0.0, float(np.sum((y - y.mean()) ** 2) / (y.size - 1) - v.mean()))


def _ml_score(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    w = 1.0 / (v + tau2)
    return float(np.sum(w**2 * (y - _weighted_mean(y, w)) ** 2) - np.sum(w))


def _reml_score(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    w = 1.0 / (v + tau2)
    trace_p = np.sum(w) - np.sum(w**2) / np.sum(w)
    return float(np.sum(w**2 * (y - _weighted_mean(y, w)) ** 2) - trace_p)


def _pm_equation(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    return _cochran_q(y, 1.0 / (v + tau2)) - (y.size - 1)


def _solve_tau2(function, y: np.ndarray, v: np.ndarray) -> float:
    """Root of a function of tau² that is negative for large tau²; 0 when it is not positive at 0.

    The problem is rescaled by the median sampling variance (every estimator here is scale-equivariant),
    the root is bracketed by doubling, and Brent's method converges to about 1e-13 relative to that scale.
    """
    from scipy.optimize import brentq

    scale = float(np.median(v))
    ys, vs = y / math.sqrt(scale), v / scale
    if function(ys, vs, 0.0) <= 0.0:
        return 0.0
    upper = max(1.0, float(np.var(ys, ddof=1)))
    for _ in range(_MAX_BRACKET_DOUBLINGS):
        if function(ys, vs, upper) < 0.0:
            break
        upper *= 2.0
    else:  # pragma: no cover - the functions are negative for large tau² whenever k >= 2
        raise RuntimeError("could not bracket the between-study variance")
    root = brentq(lambda t: function(ys, vs, t), 0.0, upper, xtol=_ROOT_XTOL, rtol=_ROOT_RTOL, maxiter=1000)
    return max(0.0, float(root)) * scale


def _estimate_tau2(y: np.ndarray, v: np.ndarray, method: str) -> float:
    if method == "EE":
        return 0.0
    if method == "DL":
        return _tau2_dl(y, v)
    if method == "HE":
        return _tau2_he(y, v)
    function = {"ML": _ml_score, "REML": _reml_score, "PM": _pm_equation}[method]
    return _solve_tau2(function, y, v)


def _tau2_se(v: np.ndarray, tau2: float, method: str) -> float:
    """Standard error of tau² from the inverse (restricted) Fisher information, as metafor reports it."""
    w = 1.0 / (v + tau2)
    if method == "ML":
        return math.sqrt(2.0 / float(np.sum(w**2)))
    if method == "REML":
        sw = np.sum(w)
        trace_pp = np.sum(w**2) - 2.0 * np.sum(w**3) / sw + np.sum(w**2) ** 2 / sw**2
        return math.sqrt(2.0 / float(trace_pp))
    return math.nan


def _validate_inputs(effects, variances, method: str, ci: str, level: float, pi_method: str):
    if method not in TAU2_METHODS:
        raise ValueError(f"method must be one of {TAU2_METHODS}, not {method!r}")
    if ci not in CI_METHODS:
        raise ValueError(f"ci must be one of {CI_METHODS}, not {ci!r}")
    if pi_method not in PI_METHODS:
        raise ValueError(f"pi_method must be one of {PI_METHODS}, not {pi_method!r}")
    _check_level(level)
    y = _as_float_array("effects", effects)
    v = _as_float_array("variances", variances)
    if y.ndim != 1 or v.ndim != 1 or y.size != v.size:
        raise ValueError(f"effects and variances must be 1-D and of equal length ({y.shape} vs {v.shape})")
    if y.size == 0:
        raise ValueError("at least one estimate is needed")
    if np.any(v <= 0):
        raise ValueError("sampling variances must be positive")
    return y, v


def _single_study(y: float, v: float, method: str, ci: str, level: float, pi_method: str) -> MetaAnalysisResult:
    se = math.sqrt(v)
    z = float(_upper_quantile(np.asarray(0.5 + level / 200.0)))
    statistic = y / se
    return MetaAnalysisResult(
        estimate=y,
        se=se,
        ci_low=y - z * se,
        ci_high=y + z * se,
        tau2=math.nan,
        tau2_se=math.nan,
        i2=math.nan,
        h2=math.nan,
        q=0.0,
        df_q=0,
        p_q=math.nan,
        pi_low=math.nan,
        pi_high=math.nan,
        k=1,
        method=method,
        ci_method="z",
        pi_method=pi_method,
        level=float(level),
        z_or_t=statistic,
        df=None,
        p_value=_two_sided_p(statistic, None),
        note=(
            "k = 1: the single estimate with its own normal confidence interval; heterogeneity "
            f"(tau², I², H²) and the prediction interval are undefined (requested ci={ci!r})."
        ),
    )


def meta_analysis(
    effects,
    variances,
    method: str = "REML",
    ci: str = "hksj",
    level: float = 95,
    pi_method: str = "hts",
) -> MetaAnalysisResult:
    """Inverse-variance meta-analysis of ``k`` independent estimates with known sampling variances.

        **Estimators of tau²** (``method``), all truncated at 0:

        - ``"EE"``: equal (common) effect, tau² = 0.
        - ``"DL"``: DerSimonian & Laird (1986) method of moments, ``(Q - (k - 1)) / (Σw - Σw² / Σw)``.
        - ``"HE"``: Hedges (1983) unweighted method of moments, ``Σ(y - ȳ)² / (k - 1) - mean(v)``.
        - ``"ML"`` / ``"REML"``: (restricted) maximum likelihood, the root of the score equation
          ``Σw²(y - μ̂)² = Σw`` (ML) or ``= Σw - Σw² / Σw`` (REML) with ``w = 1 / (v + tau²)``.
        - ``"PM"``: Paule & Mandel (1982), the root of ``Σw(y - μ̂)² = k - 1`` (the generalised Q).

        The iterative estimators are solved by bracketing and Brent's method (SciPy) on the problem rescaled
        by the median sampling variance; they converge well beyond 1e-10. When the function is not positive at
        tau² = 0 the estimate is 0 (the boundary).

        **Confidence interval** (``ci``): ``"z"`` uses ``estimate ± z * sqrt(1 / Σw)``. ``"hksj"`` is the
    Hartung-Knapp-Sidik-Jonkman method exactly as metafor's ``test="knha"``: the variance
        ``Σw(y - μ̂)² / ((k - 1) Σw)`` with Student's t on k - 1 degrees of freedom, without truncating the
        adjustment factor ``Σw(y - μ̂)² / (k - 1)`` at 1 (so the interval can be narrower than the z one). The
        test statistic and its p-value follow the same distribution. ``"hksj_adhoc"`` applies the ad hoc rule of
        Knapp & Hartung (2003) (metafor's ``test="adhoc"``): the factor is truncated at 1, so the interval is never
        narrower than the model-based one with the same t quantile; with few, similar studies the plain HKSJ
        interval can be implausibly narrow (Röver, Knapp & Friede 2015; Cochrane Handbook 10.10.4.2).

        **Prediction interval** (``pi_method``), for random-effects models only (NaN for ``"EE"``):

        - ``"hts"`` (default): Higgins, Thompson & Spiegelhalter (2009), as in the Cochrane Handbook section
          10.10.4.3 and Riley et al. (2011): ``estimate ± t_{k-2} * sqrt(tau² + SE²)`` with the model-based
          ``SE² = 1 / Σw`` whatever ``ci`` is (the Hartung-Knapp factor is not applied: the t_{k-2} quantile
          already allows for the uncertainty in tau²). Undefined (NaN) for k < 3.
        - ``"metafor"``: metafor's default ``predict.rma``: ``estimate ± c * sqrt(tau² + se²)`` with the same
          critical value and ``se`` as the confidence interval (normal with the model-based se for ``"z"``;
          t_{k-1} with the Hartung-Knapp se for ``"hksj"``), so it equals the CI when tau² = 0. Offered to
          reproduce metafor's published output.

        **Heterogeneity**: Q uses the equal-effect weights ``1 / v``, with k - 1 degrees of freedom. I² and H²
        follow metafor's general definitions so that they match its published values for every estimator:
        ``I² = 100 * tau² / (tau² + s²)`` and ``H² = (tau² + s²) / s²`` with the "typical" within-study variance
        ``s² = (k - 1) Σw / ((Σw)² - Σw²)`` (w = 1 / v; Higgins & Thompson 2002). For DL this equals the familiar
        ``100 * max(0, (Q - df) / Q)``. For the equal-effect model (no tau²) I² is that Q-based value and
        ``H² = Q / df``, as metafor reports.

        **k = 1**: the single estimate with its own normal confidence interval; tau², I², H² and the
        prediction interval are NaN and ``note`` says so. Identical estimates (Q = 0) and equal variances are
        handled without numerical warnings.

        Args:
            effects: The k estimates (1-D, finite).
            variances: Their sampling variances (1-D, finite, positive).
            method: Estimator of tau², one of :data:`TAU2_METHODS`.
            ci: Confidence-interval method, ``"z"`` or ``"hksj"``.
            level: Confidence and prediction level in percent.
            pi_method: Prediction-interval method, ``"hts"`` or ``"metafor"``.

        Returns:
            A :class:`MetaAnalysisResult`.

        Raises:
            ValueError: For an unknown method, mismatched or non-finite inputs, or non-positive variances.

        Examples:
            >>> res = meta_analysis([0.1, 0.3, 0.5], [0.01, 0.02, 0.04], method="EE", ci="z")
            >>> round(res.estimate, 4), round(res.se, 4), res.tau2
            (0.2143, 0.0756, 0.0)
    """
    y, v = _validate_inputs(effects, variances, method, ci, level, pi_method)
    k = int(y.size)
    if k == 1:
        return _single_study(float(y[0]), float(v[0]), method, ci, float(level), pi_method)

    w_fixed = 1.0 / v
    df_q = k - 1
    q = _cochran_q(y, w_fixed)
    from scipy import stats as sps

    p_q = float(sps.chi2.sf(q, df_q))

    tau2 = _estimate_tau2(y, v, method)
    w = 1.0 / (v + tau2)
    sum_w = float(np.sum(w))
    estimate = _weighted_mean(y, w)
    model_variance = 1.0 / sum_w
    prob = np.asarray(0.5 + level / 200.0)
    if ci == "z":
        df = None
        variance = model_variance
    else:
        df = k - 1
        factor = float(np.sum(w * (y - estimate) ** 2)) / df
        if ci == "hksj_adhoc":  # never narrower than the model-based variance (Knapp & Hartung 2003's ad hoc rule)
            factor = max(1.0, factor)
        variance = factor * model_variance
    se = math.sqrt(variance)
    critical = float(_upper_quantile(prob, df))
    statistic = _test_statistic(estimate, se)

    typical_variance = df_q * float(np.sum(w_fixed)) / float(np.sum(w_fixed) ** 2 - np.sum(w_fixed**2))
    if method == "EE":
        i2 = 100.0 * (q - df_q) / q if q > df_q else 0.0
        h2 = q / df_q
    else:
        i2 = 100.0 * tau2 / (tau2 + typical_variance)
        h2 = (tau2 + typical_variance) / typical_variance

    pi_low = pi_high = math.nan
    note = ""
    if method == "EE":
        note = "Equal-effect model: no between-study distribution, so no prediction interval."
    elif pi_method == "hts":
        if k >= 3:
            half = float(_upper_quantile(prob, k - 2)) * math.sqrt(tau2 + model_variance)
            pi_low, pi_high = estimate - half, estimate + half
        else:
            note = "k < 3: the prediction interval (t with k - 2 degrees of freedom) is undefined."
    else:
        half = critical * math.sqrt(tau2 + variance)
        pi_low, pi_high = estimate - half, estimate + half

    return MetaAnalysisResult(
        estimate=estimate,
        se=se,
        ci_low=estimate - critical * se,
        ci_high=estimate + critical * se,
        tau2=tau2,
        tau2_se=_tau2_se(v, tau2, method),
        i2=i2,
        h2=h2,
        q=q,
        df_q=df_q,
        p_q=p_q,
        pi_low=pi_low,
        pi_high=pi_high,
        k=k,
        method=method,
        ci_method=ci,
        pi_method=pi_method,
        level=float(level),
        z_or_t=statistic,
        df=df,
        p_value=_two_sided_p(statistic, df),
        note=note,
    )


def meta_analysis_groups(effects, variances, groups, level: float = 95, ci: str = "hksj_adhoc") -> pd.DataFrame:
    """Many independent meta-analyses at once: REML, Hartung-Knapp-Sidik-Jonkman CI, HTS prediction interval.

    The same definitions as :func:`meta_analysis` with ``method="REML", pi_method="hts"`` and ``ci`` (a test
    compares the two on random data), computed for every group together with segment sums, so that a Summary
    of Findings over thousands of cells stays fast. tau² is found by Fisher scoring from the DerSimonian-Laird
    value, clamped at 0, to a relative change below 1e-12. A group of one estimate gets that estimate with its
    normal interval and NaN heterogeneity, as in :func:`meta_analysis`.

    Returns:
        One row per group (index: the group labels, sorted) with ``k, estimate, se, ci_low, ci_high, tau2, i2,
        q, pi_low, pi_high``.

    Examples:
        >>> frame = meta_analysis_groups([0.1, 0.3, 0.5, -0.2], [0.01, 0.02, 0.04, 0.05], ["a", "a", "a", "b"])
        >>> int(frame.loc["a", "k"]), round(float(frame.loc["b", "estimate"]), 2)
        (3, -0.2)
    """
    if ci not in ("hksj", "hksj_adhoc"):
        raise ValueError(f"ci must be 'hksj' or 'hksj_adhoc', not {ci!r}")
    y = _as_float_array("effects", effects)
    v = _as_float_array("variances", variances)
    if np.any(v <= 0):
        raise ValueError("sampling variances must be positive")
    labels, codes = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = len(labels)

    def total(values):
        return np.bincount(codes, weights=values, minlength=n_groups)

    k = np.bincount(codes, minlength=n_groups).astype(float)
    w0 = 1.0 / v
    sw0 = total(w0)
    mu0 = total(w0 * y) / sw0
    q = total(w0 * (y - mu0[codes]) ** 2)

    def score_and_information(tau2):
        w = 1.0 / (v + tau2[codes])
        sw, sw2, sw3 = total(w), total(w**2), total(w**3)
        mu = total(w * y) / sw
        score = total(w**2 * (y - mu[codes]) ** 2) - (sw - sw2 / sw)
        return score, sw2 - 2.0 * sw3 / sw + sw2**2 / sw**2

    # Safeguarded Newton (Fisher scoring) on the REML score equation, vectorised over groups: each group keeps
    # a bracket [low, high] around its root, and a step that leaves the bracket is replaced by bisection.
    zero = np.zeros(n_groups)
    score0, _ = score_and_information(zero)
    active = (k > 1) & (score0 > 0)
    low = zero.copy()
    high = np.where(active, np.maximum(1.0, total(y**2) / np.maximum(k, 1)), 0.0)
    for _ in range(200):
        score_high, _ = score_and_information(high)
        widen = active & (score_high > 0)
        if not widen.any():
            break
        low = np.where(widen, high, low)
        high = np.where(widen, high * 2.0, high)
    tau2 = np.where(active, (low + high) / 2.0, 0.0)
    for _ in range(300):
        score, information = score_and_information(tau2)
        low = np.where(active & (score > 0), tau2, low)
        high = np.where(active & (score < 0), tau2, high)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = tau2 + score / information
        outside = ~np.isfinite(newton) | (newton <= low) | (newton >= high)
        new = np.where(active, np.where(outside, (low + high) / 2.0, newton), 0.0)
        converged = np.abs(new - tau2) <= 1e-13 * np.maximum(1.0, np.abs(new))
        tau2 = new
        if np.all(converged | ~active):
            break
    w = 1.0 / (v + tau2[codes])
    sw = total(w)
    estimate = total(w * y) / sw
    model_variance = 1.0 / sw
    prob = 0.5 + level / 200.0
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = total(w * (y - estimate[codes]) ** 2) / (k - 1)
        if ci == "hksj_adhoc":
            factor = np.maximum(1.0, factor)
        hk_variance = factor * model_variance
        variance = np.where(k > 1, hk_variance, model_variance)
        se = np.sqrt(variance)
        from scipy import stats as sps

        critical = np.where(k > 1, sps.t.ppf(prob, np.maximum(k - 1, 1)), float(_upper_quantile(np.asarray(prob))))
        typical = (k - 1) * sw0 / (sw0**2 - total(w0**2))
        i2 = np.where(k > 1, 100.0 * tau2 / (tau2 + typical), np.nan)
        half = sps.t.ppf(prob, np.maximum(k - 2, 1)) * np.sqrt(tau2 + model_variance)
    pi_low = np.where(k >= 3, estimate - half, np.nan)
    pi_high = np.where(k >= 3, estimate + half, np.nan)
    return pd.DataFrame(
        {
            "k": k.astype(int),
            "estimate": estimate,
            "se": se,
            "ci_low": estimate - critical * se,
            "ci_high": estimate + critical * se,
            "tau2": np.where(k > 1, tau2, np.nan),
            "i2": i2,
            "q": np.where(k > 1, q, np.nan),
            "pi_low": pi_low,
            "pi_high": pi_high,
        },
        index=pd.Index(labels, name="group"),
    )
