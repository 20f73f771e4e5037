"""The synthesis rules, one test per rule: meaning, common scale, no double counting, pooling, GRADE, wording."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import evidence, stats, synthesis


# ------------------------------------------------------------------------------------ 1. meaning
@pytest.mark.parametrize(
    ("direction", "favourable", "significant", "expected"),
    [
        ("decrease", "decrease", True, "benefit"),  # CRP falls
        ("increase", "increase", True, "benefit"),  # strength rises
        ("decrease", "increase", True, "harm"),  # strength falls
        ("increase", "decrease", True, "harm"),  # CRP rises
        ("decrease", "decrease", None, "benefit"),  # a reported fall, significance not stated
        ("decrease", "decrease", False, "no_effect"),  # a fall the source says is not significant
        ("no_change", "decrease", False, "no_effect"),
        ("increase", "context", True, "unclear"),  # IL-6 rises: good or bad depends on the setting
        ("mixed", "decrease", None, "unclear"),
        ("not_reported", "decrease", None, "unclear"),
    ],
)
def test_health_effect_rule(direction, favourable, significant, expected):
    assert synthesis.health_effect(direction, favourable, significant) == expected


def test_every_finding_has_a_health_effect_and_keeps_its_direction(package):
    view = evidence.build_evidence_view(package)
    assert view["health_effect"].notna().all()
    crp_falls = view[
        (view["outcome_code"] == "crp") & (view["direction"] == "decrease") & view["is_significant"].eq(True)
    ]
    assert set(crp_falls["health_effect"]) == {"benefit"}
    assert set(view["direction"].astype(str)) >= {"decrease", "increase"}, "the reported fact stays visible"


# ------------------------------------------------------------------------------------ 2. scale
def finding_frame(**columns) -> pd.DataFrame:
    base = {
        "finding_id": ["s1_f01"],
        "effect_measure": ["none"],
        "value_unit": [None],
        "effect_standardised": [np.nan],
        "ci_low_standardised": [np.nan],
        "ci_high_standardised": [np.nan],
        "ci_level_pct": [np.nan],
        "effect_se": [np.nan],
        "p_value": [np.nan],
        "p_value_operator": [None],
    }
    base.update({k: [v] for k, v in columns.items()})
    return pd.DataFrame(base)


def test_smd_is_computed_from_arm_statistics_with_its_inputs():
    arms = pd.DataFrame(
        {
            "finding_id": ["s1_f01"] * 4,
            "arm": ["intervention", "comparator", "intervention", "comparator"],
            "stage": ["baseline", "baseline", "post", "post"],
            "n": [50, 50, 50, 50],
            "mean": [100.0, 100.0, 103.0, 100.0],
            "sd": [5.0, 5.0, 5.5, 4.5],
            "se": [np.nan] * 4,
            "unit": ["points"] * 4,
        }
    )
    sizes = synthesis.effect_sizes(finding_frame(), arms)
    g, variance = stats.standardised_mean_difference(103, 5.5, 50, 100, 4.5, 50)
    row = sizes.loc["s1_f01"]
    assert (row["es_scale"], row["es_origin"]) == ("SMD", "computed")
    assert row["es_value"] == pytest.approx(g) and row["es_se"] == pytest.approx(np.sqrt(variance))
    assert "post: intervention 103" in row["es_inputs"] and "Hedges' g" in row["es_method"]


def test_sd_is_derived_from_se_when_the_table_prints_se():
    arms = pd.DataFrame(
        {
            "finding_id": ["s1_f01", "s1_f01"],
            "arm": ["intervention", "comparator"],
            "stage": ["post", "post"],
            "n": [25, 25],
            "mean": [2.0, 3.0],
            "sd": [np.nan, np.nan],
            "se": [0.2, 0.2],
            "unit": ["mg/L", "mg/L"],
        }
    )
    row = synthesis.effect_sizes(finding_frame(), arms).loc["s1_f01"]
    g, _ = stats.standardised_mean_difference(2.0, 1.0, 25, 3.0, 1.0, 25)  # SD = 0.2 × √25
    assert row["es_value"] == pytest.approx(g) and "SD = SE × √n" in row["es_method"]


def test_se_from_the_reported_ci_and_from_an_exact_p():
    with_ci = finding_frame(
        effect_measure="smd", effect_standardised=-0.4, ci_low_standardised=-0.6, ci_high_standardised=-0.2
    )
    row = synthesis.effect_sizes(with_ci).loc["s1_f01"]
    assert row["es_se"] == pytest.approx(0.2 / 1.959964, rel=1e-5) and "Cochrane Handbook 6.5.2.2" in row["es_method"]
    with_p = finding_frame(effect_measure="md", value_unit="mg/L", effect_standardised=-1.0, p_value=0.05,
                           p_value_operator="=")  # fmt: skip
    row = synthesis.effect_sizes(with_p).loc["s1_f01"]
    assert row["es_se"] == pytest.approx(1.0 / 1.959964, rel=1e-5) and row["es_scale"] == "MD (mg/L)"
    bounded = finding_frame(effect_measure="md", effect_standardised=-1.0, p_value=0.05, p_value_operator="<")
    assert np.isnan(synthesis.effect_sizes(bounded).loc["s1_f01", "es_se"]), "p < 0.05 gives no SE"


def test_ratios_are_pooled_on_the_log_scale(package):
    view = evidence.build_evidence_view(package)
    cantos = view.set_index("finding_id").loc["ridker2017_f01"]  # HR 0.85 (0.74 to 0.98)
    assert cantos["es_scale"] == "log HR"
    assert cantos["es_value"] == pytest.approx(np.log(0.85))
    assert cantos["es_se"] == pytest.approx((np.log(0.98) - np.log(0.74)) / (2 * 1.959964), rel=1e-4)


# ------------------------------------------------------------------------------ 3-4. cells, GRADE
def rows(n: int, **columns) -> pd.DataFrame:
    """A cell of ``n`` findings (one study each), randomised trials, risk of bias not assessed."""
    base = {
        "finding_id": [f"s{i}_f01" for i in range(n)],
        "study_id": [f"s{i}" for i in range(n)],
        "short_cite": [f"Study {i}" for i in range(n)],
        "year": [2000 + i for i in range(n)],
        "title": ["A randomised trial"] * n,
        "population": ["adults"] * n,
        "design_code": ["rct"] * n,
        "evidence_level": [2] * n,
        "is_review": [False] * n,
        "finding_type": ["effect"] * n,
        "subgroup": [None] * n,
        "verification_status": ["verified"] * n,
        "n_studies": [np.nan] * n,
        "n_analysed": [100] * n,
        "n_participants": [100] * n,
        "reported_certainty": [None] * n,
        "i2_pct": [np.nan] * n,
        "rob_overall": ["not_assessed"] * n,
        "health_effect": ["benefit"] * n,
        "intervention_code": ["omega3"] * n,
        "intervention_label": ["Omega-3"] * n,
        "outcome_code": ["crp"] * n,
        "outcome_label": ["CRP"] * n,
        "marker_class": ["acute_phase_protein"] * n,
        "favourable_direction": ["decrease"] * n,
        "timeframe_group": ["repeated (days to months)"] * n,
        "species_group": ["human"] * n,
        "es_scale": ["SMD"] * n,
        "es_value": [-0.3] * n,
        "es_se": [0.1] * n,
    }
    for key, value in columns.items():
        base[key] = value if isinstance(value, list) else [value] * n
    return pd.DataFrame(base)


def sof_row(frame: pd.DataFrame, overrides: pd.DataFrame | None = None) -> pd.Series:
    table = synthesis.summary_of_findings(frame, overrides)
    assert len(table) == 1
    return table.iloc[0]


def downgrade(row: pd.Series, domain: str) -> str:
    part = next(p for p in row["downgrades"].split("; ") if p.startswith(domain.replace("_", " ")))
    return part


def test_independent_primary_studies_are_pooled_with_reml_hksj():
    frame = rows(4, es_value=[-0.5, -0.2, -0.4, -0.1], es_se=[0.1, 0.15, 0.2, 0.12])
    row = sof_row(frame)
    reference = stats.meta_analysis(frame["es_value"], frame["es_se"] ** 2, method="REML", ci="hksj_adhoc")
    assert row["basis"] == "primary pooled" and row["k"] == 4
    for column in ["estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2"]:
        assert row[column] == pytest.approx(getattr(reference, column), abs=1e-6), column
    assert row["n_participants"] == 400 and row["participants_note"] == "distinct primary studies, each counted once"


def test_one_estimate_per_study_and_participants_counted_once():
    frame = rows(3, study_id=["s0", "s0", "s1"], finding_id=["s0_f01", "s0_f02", "s1_f01"])
    row = sof_row(frame)
    assert row["k"] == 2 and row["finding_ids"] == "s0_f01 s1_f01"
    assert row["n_participants"] == 200


def test_a_review_is_never_pooled_with_trials_or_other_reviews():
    trials = rows(2)
    reviews = rows(
        3,
        study_id=["r_small", "r_big", "r_big_sub"],
        finding_id=["r_small_f01", "r_big_f01", "r_big_f02"],
        is_review=True,
        design_code="sr_ma",
        evidence_level=1,
        n_studies=[5, 30, 40],
        n_analysed=[300, 2000, 2500],
        subgroup=[None, None, "men only"],
        es_value=[-0.9, -0.2, -0.5],
    )
    row = sof_row(pd.concat([trials, reviews], ignore_index=True))
    assert row["basis"] == "review" and row["k"] == 1
    assert row["finding_ids"] == "r_big_f01", "the whole-review estimate pooling most studies, not a subgroup"
    assert row["estimate"] == pytest.approx(-0.2)
    assert row["n_participants"] == 2000, "the chosen review's participants only, not summed over reviews"


def test_verified_reviews_come_before_secondary_copies():
    reviews = rows(2, is_review=True, design_code="sr_ma", evidence_level=1, n_studies=[40, 10],
                   verification_status=["partial", "verified"], es_value=[-0.9, -0.2])  # fmt: skip
    assert sof_row(reviews)["estimate"] == pytest.approx(-0.2)


def test_grade_starts_high_for_randomised_and_low_for_observational():
    assert sof_row(rows(2))["certainty_start"] == "high"
    assert sof_row(rows(2, design_code="cohort", evidence_level=3))["certainty_start"] == "low"
    review = rows(1, is_review=True, design_code="sr_ma", evidence_level=1, title="A meta-analysis")
    assert sof_row(review)["certainty_start"] == "low", "a review not stated to pool randomised trials"
    randomised = rows(1, is_review=True, design_code="sr_ma", evidence_level=1,
                      title="A meta-analysis of randomized controlled trials")  # fmt: skip
    assert sof_row(randomised)["certainty_start"] == "high"


def test_risk_of_bias_domain():
    assert downgrade(sof_row(rows(2)), "risk_of_bias") == "risk of bias: -1 (not assessed for any study used)"
    high = sof_row(rows(2, rob_overall="high_risk"))
    assert downgrade(high, "risk_of_bias") == "risk of bias: -1 (most studies used at high risk of bias)"
    low = sof_row(rows(2, rob_overall="low_risk"))
    assert downgrade(low, "risk_of_bias").startswith("risk of bias: no downgrade")


def test_inconsistency_domain():
    consistent = sof_row(rows(3, es_value=[-0.3, -0.31, -0.29], rob_overall="low_risk"))
    assert downgrade(consistent, "inconsistency").startswith("inconsistency: no downgrade")
    varied = sof_row(rows(4, es_value=[-0.15, -0.5, -0.3, -0.25], es_se=0.08, rob_overall="low_risk"))  # I² 70 %
    assert downgrade(varied, "inconsistency").startswith("inconsistency: -1 (I² =")
    opposite = sof_row(rows(4, es_value=[-1.0, 1.0, -0.9, 0.8], es_se=0.1, rob_overall="low_risk"))
    assert downgrade(opposite, "inconsistency").startswith("inconsistency: -2 (I² =")
    assert "prediction interval spans no effect" in downgrade(opposite, "inconsistency")
    directions = sof_row(rows(2, es_scale="", es_value=np.nan, health_effect=["benefit", "harm"]))
    assert downgrade(directions, "inconsistency") == "inconsistency: -1 (findings show both benefit and harm)"


def test_indirectness_domain():
    assert downgrade(sof_row(rows(2, species_group="animal")), "indirectness") == (
        "indirectness: -2 (animal or cell evidence for a human question)"
    )
    assert downgrade(sof_row(rows(2, species_group="mixed")), "indirectness").startswith("indirectness: -1")
    assert downgrade(sof_row(rows(2)), "indirectness").startswith("indirectness: no downgrade")


def test_the_ad_hoc_hksj_interval_is_never_narrower_than_the_model_based_one():
    identical = stats.meta_analysis([-0.1] * 5, [0.04] * 5, ci="hksj_adhoc")
    plain = stats.meta_analysis([-0.1] * 5, [0.04] * 5, ci="hksj")
    assert plain.se == 0.0 and identical.se == pytest.approx(np.sqrt(0.04 / 5))
    rng = np.random.default_rng(5)
    for _ in range(50):
        y, v = rng.normal(0, 0.3, 4), rng.uniform(0.01, 0.1, 4)
        adhoc, knha, wald = (stats.meta_analysis(y, v, ci=ci) for ci in ("hksj_adhoc", "hksj", "z"))
        assert adhoc.se >= knha.se - 1e-12 and adhoc.se >= wald.se - 1e-12


def test_imprecision_domain():
    precise = sof_row(rows(5, n_analysed=200, es_value=-0.3, es_se=0.05))
    assert downgrade(precise, "imprecision") == "imprecision: no downgrade (precise enough)"
    crosses = sof_row(rows(5, n_analysed=200, es_value=-0.1, es_se=0.2))
    assert downgrade(crosses, "imprecision") == "imprecision: -1 (the confidence interval includes no effect)"
    small = sof_row(rows(2, n_analysed=30, es_value=-0.5, es_se=0.05))
    assert downgrade(small, "imprecision").startswith("imprecision: -1 (60 participants, below an optimal")
    nothing = sof_row(rows(1, es_scale="", es_value=np.nan, n_analysed=30))
    assert downgrade(nothing, "imprecision").startswith("imprecision: -2 (no effect estimate")


def test_publication_bias_is_assessed_only_from_ten_studies():
    few = sof_row(rows(9))
    assert downgrade(few, "publication_bias").endswith("(not assessed: fewer than 10 pooled studies)")
    rng = np.random.default_rng(3)
    se = rng.uniform(0.05, 0.5, 14)
    small_study_effect = -0.1 - 2.5 * se + rng.normal(0, 0.02, 14)  # small studies show larger benefits
    biased = sof_row(rows(14, es_value=list(small_study_effect), es_se=list(se)))
    assert downgrade(biased, "publication_bias").startswith("publication bias: -1 (Egger's test p =")


def test_a_review_with_its_own_grade_rating_is_taken_as_rated():
    review = rows(1, is_review=True, design_code="sr_ma", evidence_level=1, reported_certainty="moderate")
    row = sof_row(review)
    assert row["certainty_start"] == "moderate" and row["certainty"] == "moderate"
    assert "included in the review's own rating" in row["downgrades"]


def test_certainty_is_the_start_minus_the_downgrades():
    row = sof_row(rows(2, n_analysed=30, species_group="animal"))  # high - RoB 1 - indirect 2 - imprecise 1
    assert row["certainty_computed"] == "very_low"
    row = sof_row(rows(5, n_analysed=200, es_se=0.05, rob_overall="low_risk"))
    assert row["certainty"] == "high"


def test_curator_overrides_keep_both_ratings_visible():
    frame = rows(3, n_analysed=30, es_se=0.03, rob_overall="low_risk")  # only imprecision: 90 participants
    overrides = pd.DataFrame(
        {
            "intervention_code": ["omega3"],
            "outcome_code": ["crp"],
            "timeframe_group": ["repeated (days to months)"],
            "species_group": ["human"],
            "domain": ["imprecision"],
            "downgrade": [0],
            "rationale": ["the trials were powered for this outcome"],
        }
    )
    plain, overridden = sof_row(frame), sof_row(frame, overrides)
    assert plain["certainty"] == "moderate" and overridden["certainty"] == "high"
    assert overridden["certainty_computed"] == "moderate", "the computed value stays visible"
    assert overridden["overridden"] and "curator override to -0: the trials were powered" in overridden["downgrades"]


# --------------------------------------------------------------------------------- 5. wording
@pytest.mark.parametrize(
    ("certainty", "estimate", "low", "high", "expected"),
    [
        ("high", -0.6, -0.8, -0.4, "Omega-3 reduces CRP."),
        ("moderate", -0.3, -0.5, -0.1, "Omega-3 probably reduces slightly CRP."),
        ("low", 0.6, 0.2, 1.0, "Omega-3 may increase CRP."),
        ("moderate", -0.1, -0.3, 0.1, "Omega-3 probably results in little to no difference in CRP."),
        ("very_low", -0.6, -0.8, -0.4, "The evidence is very uncertain about the effect of omega-3 on CRP."),
    ],
)
def test_grade_standard_wording(certainty, estimate, low, high, expected):
    assert synthesis.plain_statement("Omega-3", "CRP", certainty, estimate, low, high, "SMD", False) == expected


# ----------------------------------------------------------------------------- vectorised engine
@pytest.mark.parametrize("ci", ["hksj", "hksj_adhoc"])
def test_grouped_meta_analysis_equals_the_reference_engine(ci):
    rng = np.random.default_rng(11)
    effects, variances, groups = [], [], []
    for group in range(120):
        k = int(rng.integers(1, 12))
        effects += list(rng.normal(rng.normal(0, 0.5), rng.uniform(0.01, 0.8), k))
        variances += list(rng.uniform(0.005, 0.4, k))
        groups += [group] * k
    table = stats.meta_analysis_groups(effects, variances, groups, ci=ci)
    effects, variances, groups = np.array(effects), np.array(variances), np.array(groups)
    for group in range(120):
        reference = stats.meta_analysis(effects[groups == group], variances[groups == group], ci=ci)
        row = table.loc[group]
        for column in ["estimate", "ci_low", "ci_high"]:
            assert row[column] == pytest.approx(getattr(reference, column), rel=1e-6, abs=1e-8), (group, column)
        if reference.k > 1:
            assert row["tau2"] == pytest.approx(reference.tau2, rel=1e-6, abs=1e-8)
            assert row["i2"] == pytest.approx(reference.i2, rel=1e-6, abs=1e-6)
        if reference.k > 2:
            assert row["pi_low"] == pytest.approx(reference.pi_low, rel=1e-6, abs=1e-8)


def test_summary_of_findings_on_the_shipped_data(package):
    view = evidence.build_evidence_view(package)
    sof = evidence.summary_of_findings(view, package.certainty_overrides)
    assert set(sof["certainty"]) <= set(synthesis.CERTAINTY) and sof["statement"].str.len().gt(10).all()
    assert (
        sof["downgrades"].str.count("risk of bias|inconsistency|indirectness|imprecision|publication bias") == 5
    ).all()
    cherry = sof[(sof["intervention_code"] == "tart_cherry") & (sof["outcome_code"] == "crp")].iloc[0]
    assert (cherry["basis"], cherry["certainty"]) == ("review", "moderate"), "the review's own GRADE rating"
    assert "Norouzzadeh" in cherry["studies"]


def test_the_cell_memo_gives_the_summary_a_fresh_computation_gives(package):
    """Whole cells dropped (intervention), cells thinned (evidence level, species), then revisited: every answer
    of the memo equals a full :func:`summary_of_findings` of the same findings, row for row."""
    view = evidence.build_evidence_view(package)
    memo = synthesis.CellMemo(package.certainty_overrides)
    levels = view["evidence_level"].dropna()
    selections = [
        {},
        {"interventions": "omega3"},
        {"max_evidence_level": 2},
        {"max_evidence_level": 2, "interventions": "omega3"},
        {"species_groups": "human"},
        {"topics": str(view["topic_code"].dropna().iloc[0])},
        {},
        {"interventions": "omega3"},
    ]
    assert levels.min() <= 2 < levels.max(), "the level filter really thins some cells"
    for selection in selections:
        filtered = evidence.filter_findings(view, **selection)
        expected = synthesis.summary_of_findings(filtered, package.certainty_overrides)
        assert len(expected), selection
        pd.testing.assert_frame_equal(memo(filtered), expected, obj=str(selection))


def test_the_cell_memo_recomputes_a_cell_whose_findings_changed(package):
    view = evidence.build_evidence_view(package)
    memo = synthesis.CellMemo(package.certainty_overrides)
    cells = view.groupby(synthesis.ROW_KEYS, observed=True).ngroup()
    sizes = cells.map(cells.value_counts())
    one_cell = view[cells == cells[sizes >= 3].iloc[0]]
    whole, thinned = memo(one_cell), memo(one_cell.iloc[1:])  # the same cell, then without one finding
    assert len(whole) == len(thinned) == 1
    assert whole["n_findings"].iloc[0] == len(one_cell) and thinned["n_findings"].iloc[0] == len(one_cell) - 1
