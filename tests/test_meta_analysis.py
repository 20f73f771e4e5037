"""The meta-analysis engine against published reference values, plus properties and edge cases.

Every expected number below was read from a stored copy of its source; the source is named next to it.
Abbreviations for the sources (GitHub repository wviechtb/metafor, https://github.com/wviechtb/metafor):

- README: ``README.md`` (dat.bcg table with yi/vi; REML model with ``test="knha"``; its prediction).
- RMA_UNI_DOC: ``docs/reference/rma.uni.html`` (REML model on dat.bcg, z tests).
- PREDICT_DOC: ``docs/reference/predict.rma.html`` (prediction interval of the REML model on dat.bcg).
- METAN_BCG: ``tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r`` (EE and DL on dat.bcg, checked
  there against Stata's metan).
- RMA_UNI_TEST: ``tests/testthat/test_misc_rma_uni.r`` (iterated DL / SJ on dat.bcg: the Paule-Mandel value).
- FITSTATS_TEST: ``tests/testthat/test_misc_fitstats.r`` (ML fit of dat.bcg: log-likelihood, deviance, AIC).
- DK2007_TEST: ``tests/testthat/test_analysis_example_dersimonian2007.r`` (DerSimonian & Kacker 2007,
  Tables 3-4, CLASP trials: PM, HE ("CA"), DL, ML, REML).
- V2005_TEST: ``tests/testthat/test_analysis_example_viechtbauer2005.r`` (Viechtbauer 2005, pp. 271-272).
- NORMAND_DOC: ``docs/reference/dat.normand1999.html`` (data, REML on mean differences and on SMDs).
- ESCALC_TEST: ``tests/testthat/test_misc_escalc.r`` (metafor's SMD for dat.normand1999 rows 1-4).
- BORENSTEIN: Borenstein et al. (2009), *Introduction to Meta-Analysis*, ch. 4 worked example, as reproduced in
  the lecture notes "Effect Sizes Means" (H. Zhang), stored at https://www.scribd.com/document/788557251/EffectSizesMeans
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from helpers import stats
from helpers.stats import meta_analysis, sd_from_se, se_from_ci, se_from_p, standardised_mean_difference

# dat.bcg 2x2 counts (README): TB+ / TB- among vaccinated (tpos, tneg) and controls (cpos, cneg).
TPOS = np.array([4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27], dtype=float)
TNEG = np.array([119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886], dtype=float)
CPOS = np.array([11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29], dtype=float)
CNEG = np.array([128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825], dtype=float)

# Log risk ratios and their variances (standard large-sample formulas, as metafor's escalc(measure="RR")).
YI = np.log((TPOS / (TPOS + TNEG)) / (CPOS / (CPOS + CNEG)))
VI = 1 / TPOS - 1 / (TPOS + TNEG) + 1 / CPOS - 1 / (CPOS + CNEG)

# CLASP trials (DK2007_TEST): log odds ratios.
CLASP_N1 = np.array([156, 303, 565, 1570, 103, 4659], dtype=float)
CLASP_N2 = np.array([74, 303, 477, 1565, 105, 4650], dtype=float)
CLASP_A = np.array([5, 5, 12, 69, 9, 313], dtype=float)
CLASP_C = np.array([8, 17, 9, 94, 11, 352], dtype=float)
CLASP_Y = np.log(CLASP_A * (CLASP_N2 - CLASP_C) / ((CLASP_N1 - CLASP_A) * CLASP_C))
CLASP_V = 1 / CLASP_A + 1 / (CLASP_N1 - CLASP_A) + 1 / CLASP_C + 1 / (CLASP_N2 - CLASP_C)

# dat.normand1999 (NORMAND_DOC): length of stay, specialised (1) vs routine (2) care.
NORMAND = {
    "n1": np.array([155, 31, 75, 18, 8, 57, 34, 110, 60], dtype=float),
    "m1": np.array([55, 27, 64, 66, 14, 19, 52, 21, 30], dtype=float),
    "sd1": np.array([47, 7, 17, 20, 8, 7, 45, 16, 27], dtype=float),
    "n2": np.array([156, 32, 71, 18, 13, 52, 33, 183, 52], dtype=float),
    "m2": np.array([75, 29, 119, 137, 18, 18, 41, 31, 23], dtype=float),
    "sd2": np.array([64, 4, 29, 48, 11, 4, 34, 27, 20], dtype=float),
}

# Viechtbauer (2005) examples 1 and 2 (V2005_TEST): (yi, vi).
# fmt: off
V2005 = {
    1: (
        [-0.581, 0.530, 0.771, 1.031, 0.553, 0.295, 0.078, 0.573, -0.176, -0.232],
        [0.023, 0.052, 0.060, 0.115, 0.095, 0.203, 0.200, 0.211, 0.051, 0.040],
    ),
    2: (
        [0.100, -0.162, -0.090, -0.049, -0.046, -0.010, -0.431, -0.261, 0.134,
         0.019, 0.175, 0.056, 0.045, 0.103, 0.121, -0.482, 0.290, 0.342],
        [0.016, 0.015, 0.050, 0.050, 0.032, 0.052, 0.036, 0.024, 0.034,
         0.033, 0.031, 0.034, 0.039, 0.167, 0.134, 0.096, 0.016, 0.035],
    ),
}
# fmt: on

DP4 = 5e-5  # a value published to 4 decimals
DP3 = 5e-4
DP2 = 5e-3


def close(expected: float, decimals: float = DP4):
    """Equal to a published value rounded to that many decimals (tiny slack for binary rounding)."""
    return pytest.approx(expected, abs=decimals + 1e-12)


# --------------------------------------------------------------------------------------------------
# dat.bcg: every estimator
# --------------------------------------------------------------------------------------------------


def test_bcg_log_risk_ratios_match_the_published_table():
    # README: the yi and vi columns printed by escalc(measure="RR", ...) for dat.bcg.
    published_yi = [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209, 0.0120, -0.4694, -1.3713]
    published_yi += [-0.3394, 0.4459, -0.0173]
    published_vi = [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040, 0.0564, 0.0730, 0.0124]
    published_vi += [0.5325, 0.0714]
    np.testing.assert_allclose(YI, published_yi, atol=DP4 + 1e-12)
    np.testing.assert_allclose(VI, published_vi, atol=DP4 + 1e-12)


def test_equal_effect_model_on_bcg():
    res = meta_analysis(YI, VI, method="EE", ci="z")
    assert res.estimate == close(-0.4303)  # METAN_BCG
    assert res.ci_low == close(-0.5097)  # METAN_BCG
    assert res.ci_high == close(-0.3509)  # METAN_BCG
    assert res.z_or_t == close(-10.6247)  # METAN_BCG
    assert res.q == close(152.2330)  # METAN_BCG; also README and RMA_UNI_DOC
    assert math.exp(res.estimate) == close(0.6503)  # METAN_BCG (predict(res, transf=exp))
    assert math.exp(res.ci_low) == close(0.6007)  # METAN_BCG
    assert math.exp(res.ci_high) == close(0.7040)  # METAN_BCG
    assert res.tau2 == 0.0 and res.df_q == 12 and res.k == 13
    assert math.isnan(res.pi_low) and math.isnan(res.pi_high), "no prediction interval without tau²"


def test_dersimonian_laird_on_bcg():
    res = meta_analysis(YI, VI, method="DL", ci="z")
    assert res.estimate == close(-0.7141)  # METAN_BCG
    assert res.ci_low == close(-1.0644)  # METAN_BCG
    assert res.ci_high == close(-0.3638)  # METAN_BCG
    assert res.z_or_t == close(-3.9952)  # METAN_BCG
    assert res.tau2 == close(0.3088)  # METAN_BCG
    assert res.i2 == close(92.1173)  # METAN_BCG
    assert math.exp(res.estimate) == close(0.4896)  # METAN_BCG
    assert math.exp(res.ci_low) == close(0.3449)  # METAN_BCG
    assert math.exp(res.ci_high) == close(0.6950)  # METAN_BCG
    # For DL, metafor's general I² equals the Q-based one.
    assert res.i2 == pytest.approx(100 * (res.q - res.df_q) / res.q, rel=1e-12)


def test_reml_with_normal_intervals_on_bcg():
    res = meta_analysis(YI, VI, method="REML", ci="z")
    assert res.tau2 == close(0.3132)  # RMA_UNI_DOC
    assert res.tau2_se == close(0.1664)  # RMA_UNI_DOC
    assert math.sqrt(res.tau2) == close(0.5597)  # RMA_UNI_DOC
    assert res.i2 == close(92.22, DP2)  # RMA_UNI_DOC
    assert res.h2 == close(12.86, DP2)  # RMA_UNI_DOC
    assert res.q == close(152.2330)  # RMA_UNI_DOC
    assert res.p_q < 1e-4  # RMA_UNI_DOC: "p-val < .0001"
    assert res.estimate == close(-0.7145)  # RMA_UNI_DOC
    assert res.se == close(0.1798)  # RMA_UNI_DOC
    assert res.z_or_t == close(-3.9744)  # RMA_UNI_DOC
    assert res.p_value < 1e-4  # RMA_UNI_DOC: "<.0001"
    assert res.ci_low == close(-1.0669)  # RMA_UNI_DOC
    assert res.ci_high == close(-0.3622)  # RMA_UNI_DOC
    assert res.df is None and res.ci_method == "z"


def test_reml_with_hartung_knapp_on_bcg():
    res = meta_analysis(YI, VI)  # REML and HKSJ are the defaults
    assert (res.method, res.ci_method) == ("REML", "hksj")
    assert res.estimate == close(-0.7145)  # README
    assert res.se == close(0.1808)  # README
    assert res.z_or_t == close(-3.9522)  # README (tval)
    assert res.df == 12  # README (df)
    assert res.p_value == close(0.0019)  # README (pval)
    assert res.ci_low == close(-1.1084)  # README
    assert res.ci_high == close(-0.3206)  # README
    assert res.tau2 == close(0.3132) and res.i2 == close(92.22, DP2) and res.h2 == close(12.86, DP2)  # README


def test_paule_mandel_on_bcg():
    # RMA_UNI_TEST: rma(method="DLIT") and rma(method="SJIT") both give tau² = 0.3181. Iterating the
    # DerSimonian-Laird (or Sidik-Jonkman) step to its fixed point solves Q(tau²) = k - 1, the
    # Paule-Mandel equation (DerSimonian & Kacker 2007), so this is the PM estimate.
    res = meta_analysis(YI, VI, method="PM", ci="z")
    assert res.tau2 == close(0.3181)  # RMA_UNI_TEST
    w = 1 / (VI + res.tau2)
    generalised_q = np.sum(w * (YI - np.sum(w * YI) / np.sum(w)) ** 2)
    assert generalised_q == pytest.approx(len(YI) - 1, abs=1e-9)


def test_maximum_likelihood_on_bcg():
    res = meta_analysis(YI, VI, method="ML", ci="z")

    def log_lik(mu, tau2):
        total = VI + tau2
        return float(np.sum(-0.5 * np.log(2 * np.pi * total) - 0.5 * (YI - mu) ** 2 / total))

    ll = log_lik(res.estimate, res.tau2)
    saturated = float(np.sum(-0.5 * np.log(2 * np.pi * VI)))
    assert ll == close(-12.6651)  # FITSTATS_TEST: logLik(res1)
    assert -2 * (ll - saturated) == close(37.1160)  # FITSTATS_TEST: deviance(res1)
    assert -2 * ll + 2 * 2 == close(29.3302)  # FITSTATS_TEST: AIC(res1)
    for tau2 in (res.tau2 * 0.99, res.tau2 * 1.01):  # and it is the maximum
        w = 1 / (VI + tau2)
        assert log_lik(float(np.sum(w * YI) / np.sum(w)), tau2) < ll
    assert res.tau2_se == pytest.approx(math.sqrt(2 / np.sum((1 / (VI + res.tau2)) ** 2)), rel=1e-12)


def test_hedges_estimator_on_bcg_is_the_unweighted_moment_estimator():
    # No published HE fit of dat.bcg was found in the stored sources: this checks the definition (Hedges 1983);
    # the published HE values are checked on the CLASP and Viechtbauer (2005) data below.
    res = meta_analysis(YI, VI, method="HE", ci="z")
    expected = np.sum((YI - YI.mean()) ** 2) / (len(YI) - 1) - VI.mean()
    assert res.tau2 == pytest.approx(expected, rel=1e-12)
    # Without truncation of the adjustment factor (as metafor's test="knha"), the HKSJ standard error can be
    # *smaller* than the model-based one: here the factor is below 1.
    assert meta_analysis(YI, VI, method="HE", ci="hksj").se < res.se


# --------------------------------------------------------------------------------------------------
# Other published examples: every estimator, I² and H² for each, large scales
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "tau", "mu", "se"),
    [
        ("PM", 0.3681, -0.3811, 0.2060),  # DK2007_TEST, column "PM"
        ("HE", 0.4410, -0.4035, 0.2327),  # DK2007_TEST, column "CA" (fitted there with method="HE")
        ("DL", 0.2323, -0.3240, 0.1540),  # DK2007_TEST, column "DL"
        ("REML", 0.1843, -0.2980, 0.1343),  # DK2007_TEST, column "REML"
    ],
)
def test_clasp_trials_dersimonian_kacker_2007(method, tau, mu, se):
    res = meta_analysis(CLASP_Y, CLASP_V, method=method, ci="z")
    assert math.sqrt(res.tau2) == close(tau)
    assert res.estimate == close(mu)
    assert res.se == close(se)


def test_clasp_trials_maximum_likelihood_is_on_the_boundary():
    # DK2007_TEST lists ML: tau 0.0023, mu -0.1974, se 0.0694. The ML score is clearly negative at tau² = 0
    # (the likelihood decreases from 0), so the exact maximum is tau² = 0; metafor's Fisher scoring stops once
    # a step is below 1e-5 and reports tau² ≈ 5e-6 (tau 0.0023). The estimate then differs in the 4th decimal.
    res = meta_analysis(CLASP_Y, CLASP_V, method="ML", ci="z")
    assert res.tau2 == 0.0
    assert stats._ml_score(CLASP_Y, CLASP_V, 0.0) < 0
    assert res.tau2 < 0.0023**2 + DP4
    assert res.estimate == close(-0.1974, 2e-4)
    assert res.se == close(0.0694)


@pytest.mark.parametrize(
    ("example", "method", "tau2", "i2", "h2"),
    [
        (1, "HE", 0.148, 68.80, 3.21),  # V2005_TEST, example 1 (paper p. 271)
        (1, "DL", 0.277, 80.44, 5.11),
        (1, "ML", 0.197, 74.51, 3.92),
        (1, "REML", 0.223, 76.84, 4.32),
        (2, "HE", 0.000, 0.00, 1.00),  # V2005_TEST, example 2 (paper p. 272): HE truncated at 0
        (2, "DL", 0.013, 27.53, 1.38),
        (2, "ML", 0.013, 28.45, 1.40),
        (2, "REML", 0.016, 32.02, 1.47),
    ],
)
def test_viechtbauer_2005_estimators_with_i2_and_h2(example, method, tau2, i2, h2):
    res = meta_analysis(*V2005[example], method=method)
    assert res.tau2 == close(tau2, DP3)
    assert res.i2 == close(i2, DP2)
    assert res.h2 == close(h2, DP2)


def test_reml_on_mean_differences_in_days_normand_1999():
    """Variances in the hundreds: the root finding is scale-free."""
    d = NORMAND
    yi = d["m1"] - d["m2"]
    vi = d["sd1"] ** 2 / d["n1"] + d["sd2"] ** 2 / d["n2"]
    published_vi = [40.5080, 2.0806, 15.6984, 150.2222, 17.3077, 1.1673, 94.5891, 6.3109, 19.8423]  # NORMAND_DOC
    np.testing.assert_allclose(vi, published_vi, atol=DP4 + 1e-12)
    res = meta_analysis(yi, vi, method="REML", ci="z")
    assert res.tau2 == close(684.6462)  # NORMAND_DOC
    assert res.tau2_se == close(359.7541)  # NORMAND_DOC
    assert res.i2 == close(98.97, DP2) and res.h2 == close(97.21, DP2)  # NORMAND_DOC
    assert res.q == close(238.9158)  # NORMAND_DOC
    assert res.estimate == close(-15.1060) and res.se == close(8.9466)  # NORMAND_DOC
    assert res.z_or_t == close(-1.6885) and res.p_value == close(0.0913)  # NORMAND_DOC
    assert res.ci_low == close(-32.6409) and res.ci_high == close(2.4289)  # NORMAND_DOC


def test_reml_on_standardised_mean_differences_normand_1999():
    d = NORMAND
    g, _ = standardised_mean_difference(d["m1"], d["sd1"], d["n1"], d["m2"], d["sd2"], d["n2"], exact_correction=True)
    # metafor's escalc(measure="SMD") variance (large-sample, vtype="LS"): 1/n1 + 1/n2 + g²/(2(n1 + n2)).
    vi = 1 / d["n1"] + 1 / d["n2"] + g**2 / (2 * (d["n1"] + d["n2"]))
    np.testing.assert_allclose(vi[:4], [0.0131, 0.0645, 0.0458, 0.1606], atol=DP4 + 1e-12)  # ESCALC_TEST
    res = meta_analysis(g, vi, method="REML", ci="z")
    assert res.tau2 == close(0.7908) and res.tau2_se == close(0.4281)  # NORMAND_DOC
    assert res.i2 == close(95.49, DP2) and res.h2 == close(22.20, DP2)  # NORMAND_DOC
    assert res.q == close(123.7293)  # NORMAND_DOC
    assert res.estimate == close(-0.5371) and res.se == close(0.3087)  # NORMAND_DOC
    assert res.z_or_t == close(-1.7401) and res.p_value == close(0.0818)  # NORMAND_DOC
    assert res.ci_low == close(-1.1421) and res.ci_high == close(0.0679)  # NORMAND_DOC


# --------------------------------------------------------------------------------------------------
# Prediction intervals
# --------------------------------------------------------------------------------------------------


def test_prediction_interval_as_metafor_with_normal_intervals():
    res = meta_analysis(YI, VI, method="REML", ci="z", pi_method="metafor")
    assert math.exp(res.estimate) == close(0.4894)  # PREDICT_DOC
    assert math.exp(res.ci_low) == close(0.3441) and math.exp(res.ci_high) == close(0.6962)  # PREDICT_DOC
    assert math.exp(res.pi_low) == close(0.1546)  # PREDICT_DOC
    assert math.exp(res.pi_high) == close(1.5490)  # PREDICT_DOC


def test_prediction_interval_as_metafor_with_hartung_knapp():
    res = meta_analysis(YI, VI, method="REML", ci="hksj", pi_method="metafor")
    # README: predict(res, transf=exp, digits=2) for the test="knha" fit: 0.49 [0.33, 0.73], PI [0.14, 1.76].
    assert math.exp(res.estimate) == close(0.49, DP2)
    assert math.exp(res.ci_low) == close(0.33, DP2) and math.exp(res.ci_high) == close(0.73, DP2)
    assert math.exp(res.pi_low) == close(0.14, DP2) and math.exp(res.pi_high) == close(1.76, DP2)


def test_higgins_thompson_spiegelhalter_prediction_interval():
    """estimate ± t_{k-2} sqrt(tau² + SE²), SE the model-based one, from the published REML fit (RMA_UNI_DOC)."""
    from scipy import stats as sps

    published_estimate, published_se, published_tau2 = -0.7145, 0.1798, 0.3132  # RMA_UNI_DOC
    half = sps.t.ppf(0.975, 13 - 2) * math.sqrt(published_tau2 + published_se**2)
    for ci in ("z", "hksj"):  # the same interval whatever the CI method
        res = meta_analysis(YI, VI, method="REML", ci=ci)
        assert res.pi_method == "hts"
        # Error budget: the published inputs are rounded to 4 decimals.
        assert res.pi_low == pytest.approx(published_estimate - half, abs=5e-4)
        assert res.pi_high == pytest.approx(published_estimate + half, abs=5e-4)
    exact = meta_analysis(YI, VI, method="REML", ci="z")
    exact_half = sps.t.ppf(0.975, 11) * math.sqrt(exact.tau2 + exact.se**2)
    assert (exact.pi_low, exact.pi_high) == (
        pytest.approx(exact.estimate - exact_half, rel=1e-12),
        pytest.approx(exact.estimate + exact_half, rel=1e-12),
    )


def test_prediction_interval_needs_three_studies_with_t_k_minus_2():
    two = [3, 7]  # Hart & Sutherland and TPT Madras: clearly heterogeneous
    res = meta_analysis(YI[two], VI[two], method="REML")
    assert res.tau2 > 0
    assert math.isnan(res.pi_low) and math.isnan(res.pi_high) and "k < 3" in res.note
    res = meta_analysis(YI[two], VI[two], method="REML", pi_method="metafor")
    assert res.pi_low < res.ci_low < res.ci_high < res.pi_high


# --------------------------------------------------------------------------------------------------
# Cross-check with statsmodels
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "method_re"), [("DL", "dl"), ("PM", "pm")])
def test_dersimonian_laird_and_paule_mandel_agree_with_statsmodels(method, method_re):
    from statsmodels.stats.meta_analysis import combine_effects

    reference = combine_effects(np.asarray(YI), np.asarray(VI), method_re=method_re)
    intervals = reference.conf_int(alpha=0.05, use_t=False)
    res = meta_analysis(YI, VI, method=method, ci="z")
    assert res.tau2 == pytest.approx(reference.tau2, rel=1e-8)
    assert res.estimate == pytest.approx(reference.mean_effect_re, rel=1e-8)
    assert res.se == pytest.approx(reference.sd_eff_w_re, rel=1e-8)
    assert (res.ci_low, res.ci_high) == (pytest.approx(intervals[1][0], rel=1e-8), pytest.approx(intervals[1][1]))
    assert res.q == pytest.approx(reference.q, rel=1e-12)
    hksj = meta_analysis(YI, VI, method=method, ci="hksj")
    assert hksj.se == pytest.approx(reference.sd_eff_w_re_hksj, rel=1e-8)


# --------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", stats.TAU2_METHODS)
@pytest.mark.parametrize("ci", stats.CI_METHODS)
def test_results_do_not_depend_on_the_order_of_the_studies(method, ci):
    order = np.random.default_rng(20240611).permutation(len(YI))
    a, b = meta_analysis(YI, VI, method=method, ci=ci), meta_analysis(YI[order], VI[order], method=method, ci=ci)
    for field in ("estimate", "se", "ci_low", "ci_high", "tau2", "i2", "q", "pi_low", "pi_high", "p_value"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-9, abs=1e-12, nan_ok=True), field


@pytest.mark.parametrize("method", stats.TAU2_METHODS)
def test_estimates_are_scale_and_location_equivariant(method):
    base = meta_analysis(YI, VI, method=method)
    moved = meta_analysis(3.0 * YI + 1.5, 9.0 * VI, method=method)
    assert moved.estimate == pytest.approx(3.0 * base.estimate + 1.5, rel=1e-9)
    assert moved.tau2 == pytest.approx(9.0 * base.tau2, rel=1e-9, abs=1e-15)
    assert moved.se == pytest.approx(3.0 * base.se, rel=1e-9)
    assert moved.i2 == pytest.approx(base.i2, rel=1e-9, abs=1e-12)


def test_equal_effect_and_reml_coincide_when_tau2_is_zero():
    y, v = np.array([0.10, 0.12, 0.09, 0.11]), np.array([0.04, 0.05, 0.03, 0.06])
    ee, reml = meta_analysis(y, v, method="EE", ci="z"), meta_analysis(y, v, method="REML", ci="z")
    assert reml.tau2 == 0.0 and reml.i2 == 0.0
    for field in ("estimate", "se", "ci_low", "ci_high", "q"):
        assert getattr(reml, field) == pytest.approx(getattr(ee, field), rel=1e-12), field


@pytest.mark.parametrize("method", ["ML", "REML", "PM"])
def test_iterative_estimators_solve_their_equations_to_1e_10(method):
    res = meta_analysis(YI, VI, method=method)
    equation = {"ML": stats._ml_score, "REML": stats._reml_score, "PM": stats._pm_equation}[method]
    assert abs(equation(YI, VI, res.tau2)) < 1e-10


# --------------------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ci", stats.CI_METHODS)
def test_a_single_study_is_returned_as_it_is(ci):
    res = meta_analysis([0.4], [0.04], method="REML", ci=ci)
    assert res.k == 1 and res.estimate == 0.4 and res.se == pytest.approx(0.2)
    assert res.ci_low == pytest.approx(0.4 - 1.959964 * 0.2, abs=1e-6)
    assert math.isnan(res.tau2) and math.isnan(res.i2) and math.isnan(res.pi_low) and math.isnan(res.pi_high)
    assert "k = 1" in res.note


@pytest.mark.parametrize("method", stats.TAU2_METHODS)
@pytest.mark.parametrize("ci", stats.CI_METHODS)
def test_identical_estimates_and_equal_variances_raise_no_warning(method, ci):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = meta_analysis([-0.22, -0.22, -0.22], [0.01, 0.01, 0.01], method=method, ci=ci)
        equal_variances = meta_analysis([-0.3, -0.1, -0.2], [0.02, 0.02, 0.02], method=method, ci=ci)
    assert same.q == 0.0 and same.tau2 == 0.0 and same.i2 == 0.0 and same.estimate == pytest.approx(-0.22)
    assert math.isfinite(equal_variances.estimate) and equal_variances.estimate == pytest.approx(-0.2)
    if ci == "hksj":  # the adjusted variance of identical estimates is exactly 0
        assert same.se == 0.0 and same.ci_low == same.ci_high and same.p_value == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "SJ"}, "method must be one of"),
        ({"ci": "t"}, "ci must be one of"),
        ({"pi_method": "riley"}, "pi_method must be one of"),
        ({"level": 100}, "strictly between 0 and 100"),
    ],
)
def test_unknown_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        meta_analysis(YI, VI, **kwargs)


@pytest.mark.parametrize(
    ("effects", "variances", "message"),
    [
        ([0.1, 0.2], [0.01], "equal length"),
        ([], [], "at least one"),
        ([0.1, 0.2], [0.01, 0.0], "positive"),
        ([0.1, float("nan")], [0.01, 0.02], "finite"),
    ],
)
def test_invalid_data_are_refused(effects, variances, message):
    with pytest.raises(ValueError, match=message):
        meta_analysis(effects, variances)


# --------------------------------------------------------------------------------------------------
# Effect sizes and standard errors
# --------------------------------------------------------------------------------------------------


def test_hedges_g_borenstein_worked_example():
    # BORENSTEIN: S_within 5.0249, d 0.5970, Vd 0.0418, J 0.9923, g 0.5924, Vg 0.0411, SE_g 0.2028.
    # (0.0396, sometimes quoted for this example, is not in the source: J² Vd = 0.9923² x 0.0418 = 0.0411.)
    g, variance = standardised_mean_difference(103, 5.5, 50, 100, 4.5, 50)
    assert g == close(0.5924)  # BORENSTEIN
    assert variance == close(0.0411)  # BORENSTEIN
    assert math.sqrt(variance) == close(0.2028)  # BORENSTEIN
    j = 1 - 3 / (4 * 98 - 1)
    assert j == close(0.9923)  # BORENSTEIN
    assert g / j == close(0.5970)  # BORENSTEIN: d
    assert variance / j**2 == close(0.0418)  # BORENSTEIN: Vd


def test_hedges_g_with_the_exact_correction_matches_metafor():
    d = NORMAND
    g, _ = standardised_mean_difference(d["m1"], d["sd1"], d["n1"], d["m2"], d["sd2"], d["n2"], exact_correction=True)
    np.testing.assert_allclose(g[:4], [-0.3552, -0.3479, -2.3176, -1.8880], atol=DP4 + 1e-12)  # ESCALC_TEST


def test_hedges_g_sign_follows_the_intervention_group_and_broadcasts():
    g, v = standardised_mean_difference(np.array([103.0, 100.0]), 5.5, 50, np.array([100.0, 103.0]), 4.5, 50)
    assert isinstance(g, np.ndarray) and g.shape == (2,)
    assert g[0] > 0 and g[1] == pytest.approx(-g[0]) and v[0] == pytest.approx(v[1])
    assert isinstance(standardised_mean_difference(1, 1, 10, 0, 1, 10)[0], float)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, 1, 1, 0, 1, 10), "at least 2"),
        ((1, 0, 10, 0, 1, 10), "positive"),
        ((1, -1, 10, 0, 1, 10), "positive"),
        ((float("nan"), 1, 10, 0, 1, 10), "finite"),
        (("1", 1, 10, 0, 1, 10), "not text"),
    ],
)
def test_hedges_g_refuses_invalid_input(args, message):
    with pytest.raises(ValueError, match=message):
        standardised_mean_difference(*args)


def test_standard_errors_and_deviations_from_reported_statistics():
    assert sd_from_se(0.5, 100) == 5.0
    np.testing.assert_allclose(sd_from_se(np.array([1.0, 2.0]), np.array([4, 9])), [2.0, 6.0])
    # Normal and t critical values: 1.959964 and t(24, 0.975) = 2.063899.
    assert se_from_ci(0.2 - 1.959964 * 0.3, 0.2 + 1.959964 * 0.3) == pytest.approx(0.3, rel=1e-6)
    assert se_from_ci(1.0, 1.0 + 2 * 2.063899, df=24) == pytest.approx(1.0, rel=1e-6)
    assert se_from_p(0.5, 0.05) == pytest.approx(0.5 / 1.959964, rel=1e-6)
    assert se_from_p(-0.5, 0.05, df=24) == pytest.approx(0.5 / 2.063899, rel=1e-6)
    lows, highs = np.array([-1.0, 0.0]), np.array([1.0, 2.0])
    np.testing.assert_allclose(se_from_ci(lows, highs), [1 / 1.959964] * 2, rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: se_from_p(0.5, "<0.05"), "exact p-value"),
        (lambda: se_from_p(0.5, "0.03"), "exact p-value"),
        (lambda: se_from_p(np.array([0.5]), np.array(["<0.001"])), "exact p-value"),
        (lambda: se_from_p(0.5, 1.0), "strictly between 0 and 1"),
        (lambda: se_from_p(0.0, 0.5), "effect of exactly 0"),
        (lambda: se_from_ci(1.0, 0.0), "below the lower"),
        (lambda: se_from_ci(0.0, 1.0, level_pct=0), "strictly between 0 and 100"),
        (lambda: se_from_ci(0.0, 1.0, df=0), "positive"),
        (lambda: sd_from_se(-1.0, 10), "negative"),
        (lambda: sd_from_se(1.0, 1), "at least 2"),
    ],
)
def test_helpers_refuse_invalid_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
