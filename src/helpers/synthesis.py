"""Evidence synthesis: does it help, by how much, and how sure are we — per intervention × outcome cell.

Four steps, each a documented rule (README "Methods"; Cochrane Handbook chapters 6, 10 and 14; GRADE Handbook):

1. **Meaning** (:func:`health_effect`): each finding's reported direction, read against the outcome's favourable
   direction and the finding's significance, is a benefit, a harm, no effect, or unclear.
2. **A common scale** (:func:`effect_sizes`): Hedges' g computed from arm-level statistics where both arms are
   complete; otherwise the reported effect on its own scale (SMD; MD within one unit; ratios on the log scale),
   with its standard error from the reported CI or SE, or from an exact p-value. Every derived number says how it
   was derived and from what.
3. **No double counting** (:func:`choose_evidence`): in a cell with review estimates, one review is used (the one
   pooling the most studies, then the most recent); the other reviews and the primary studies, which the reviews
   may include, are shown but not pooled. Without a review, independent primary studies (one estimate each) are
   pooled with REML and Hartung-Knapp-Sidik-Jonkman intervals. Participants are counted once.
4. **Certainty** (:func:`grade_certainty`): GRADE's domains, each downgrade with its reason; curators may override
   a domain in ``certainty_overrides.csv`` (both values stay visible).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from helpers import stats

# ---------------------------------------------------------------------------------- 1. meaning
HEALTH_EFFECTS = ("benefit", "harm", "no_effect", "unclear")
HEALTH_EFFECT_LABELS = {"benefit": "benefit", "harm": "harm", "no_effect": "no effect", "unclear": "unclear"}


def health_effect(direction: str, favourable: str, is_significant: object) -> str:
    """What a finding means for health.

    The rule, in order:

    1. direction ``no_change`` -> ``no_effect``; ``mixed`` or ``not_reported`` -> ``unclear``;
    2. a reported rise or fall that the source says is not significant -> ``no_effect``;
    3. an outcome whose favourable direction is ``context`` (e.g. IL-6, which rises in healthy exercise) -> ``unclear``;
    4. otherwise the change is a ``benefit`` when it goes the favourable way, else a ``harm``.

    The reported direction itself is kept beside it (``decrease`` / ``increase``): this is its reading.

    Examples:
        >>> health_effect("decrease", "decrease", True)
        'benefit'
        >>> health_effect("decrease", "increase", True)
        'harm'
        >>> health_effect("increase", "decrease", False)
        'no_effect'
        >>> health_effect("increase", "context", True)
        'unclear'
    """
    if direction == "no_change":
        return "no_effect"
    if direction not in ("decrease", "increase"):
        return "unclear"
    if is_significant is False or (isinstance(is_significant, str) and is_significant == "false"):
        return "no_effect"
    if favourable not in ("decrease", "increase"):
        return "unclear"
    return "benefit" if direction == favourable else "harm"


def add_health_effects(view: pd.DataFrame) -> pd.DataFrame:
    """``view`` with a ``health_effect`` column (see :func:`health_effect`)."""
    significant = view["is_significant"].astype("object").where(view["is_significant"].notna(), None)
    effects = [
        health_effect(str(d), str(f), s)
        for d, f, s in zip(view["direction"], view["favourable_direction"], significant, strict=True)
    ]
    return view.assign(health_effect=pd.Categorical(effects, categories=list(HEALTH_EFFECTS)))


# ------------------------------------------------------------------------------ 2. common scale
#: Measures that can be pooled, and the scale they are pooled on (MDs only within one unit).
SCALES = {"smd": "SMD", "md": "MD", "wmd": "MD", "or": "log OR", "rr": "log RR", "hr": "log HR"}
FORMULA_SMD = "Hedges' g with its variance (Borenstein et al. 2009, ch. 4; Cochrane Handbook 6.5.1.2)"
FORMULA_SE_CI = "SE = (upper - lower) / (2 × z) (Cochrane Handbook 6.5.2.2; ratios on the log scale, 6.3.2)"
FORMULA_SE_P = "SE = |effect| / z(p/2) from an exact two-sided p (Cochrane Handbook 6.3.2)"
FORMULA_SD_SE = "SD = SE × √n (Cochrane Handbook 6.5.2.2)"


def _arm_smd(arms: pd.DataFrame) -> pd.DataFrame:
    """Hedges' g per finding from complete two-arm statistics (post values preferred, else change scores)."""
    complete = arms[arms["mean"].notna() & arms["n"].notna() & (arms["sd"].notna() | arms["se"].notna())].copy()
    if complete.empty:
        return pd.DataFrame(columns=["finding_id", "g", "g_variance", "g_basis", "g_inputs", "g_used_se"])
    complete["sd_used"] = complete["sd"].astype("float64")
    from_se = complete["sd"].isna()
    if from_se.any():
        complete.loc[from_se, "sd_used"] = stats.sd_from_se(
            complete.loc[from_se, "se"].to_numpy(float), complete.loc[from_se, "n"].to_numpy(float)
        )
    rows = []
    for finding_id, group in complete.groupby("finding_id", sort=True):
        for stage in ("post", "change"):
            pair = group[group["stage"] == stage].set_index("arm")
            if {"intervention", "comparator"} <= set(pair.index):
                i, c = pair.loc["intervention"], pair.loc["comparator"]
                if float(i["n"]) < 2 or float(c["n"]) < 2 or float(i["sd_used"]) <= 0 or float(c["sd_used"]) <= 0:
                    continue
                g, variance = stats.standardised_mean_difference(
                    float(i["mean"]),
                    float(i["sd_used"]),
                    int(i["n"]),
                    float(c["mean"]),
                    float(c["sd_used"]),
                    int(c["n"]),
                )
                inputs = (
                    f"{stage}: intervention {float(i['mean']):g} (SD {float(i['sd_used']):.3g}, n {int(i['n'])}) vs "
                    f"comparator {float(c['mean']):g} (SD {float(c['sd_used']):.3g}, n {int(c['n'])}) {i['unit']}"
                )
                used_se = bool(pd.isna(i["sd"]) or pd.isna(c["sd"]))
                rows.append((finding_id, float(g), float(variance), stage, inputs, used_se))
                break
    return pd.DataFrame(rows, columns=["finding_id", "g", "g_variance", "g_basis", "g_inputs", "g_used_se"])


def canonical_unit(unit: object) -> str:
    """One spelling per unit, so that the same unit pools together ("mg/l" and "mg/L" are the same unit).

    Examples:
        >>> canonical_unit("pg/ml"), canonical_unit("mg/dl"), canonical_unit("IU/L")
        ('pg/mL', 'mg/dL', 'IU/L')
    """
    text = str(unit).strip()
    return re.sub(r"/(m|d)?l\b", lambda m: "/" + (m.group(1) or "") + "L", text)


def effect_sizes(view: pd.DataFrame, arms: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every finding's effect on a common scale, with its standard error and how both were obtained.

    Columns: ``es_scale`` (``SMD``, ``MD (unit)``, ``log RR``...; blank when not poolable), ``es_value`` (positive =
    outcome higher with the intervention), ``es_se``, ``es_ci_low``/``es_ci_high`` (95 %), ``es_origin``
    (``reported`` / ``computed``), ``es_method`` (the formula and its source) and ``es_inputs`` (the numbers used).
    """
    frame = view[["finding_id"]].copy()
    measure = view["effect_measure"].astype(str)
    unit = view["value_unit"].astype("object").fillna("unit not reported").map(canonical_unit)
    scale = measure.map(SCALES)
    scale = scale.where(scale != "MD", "MD (" + unit.astype(str) + ")")
    value = view["effect_standardised"].astype("float64")
    low, high = view["ci_low_standardised"].astype("float64"), view["ci_high_standardised"].astype("float64")
    level = view["ci_level_pct"].astype("float64").fillna(95.0)
    with np.errstate(invalid="ignore"):
        se_ci = (high - low) / (2 * stats._upper_quantile(0.5 + level.to_numpy() / 200.0))
    ratio = measure.isin(["or", "rr", "hr"])
    se_reported = view["effect_se"].astype("float64")
    se_reported = se_reported.where(~ratio)  # a printed SE of a ratio is rarely on the log scale: not used
    p_value = view["p_value"].astype("float64")
    exact_p = (
        (view["p_value_operator"].astype(str) == "=")
        & p_value.gt(0)
        & p_value.lt(1)
        & value.notna()
        & (value != 0)
        & measure.isin(list(SCALES))
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        se_p = pd.Series(np.nan, index=view.index)
        if exact_p.any():
            se_p[exact_p] = stats.se_from_p(
                value[exact_p].abs().to_numpy(), view.loc[exact_p, "p_value"].to_numpy(float)
            )
    se = se_ci.where(se_ci.notna() & (se_ci > 0), se_reported)
    method = pd.Series(np.where(se_ci.notna() & (se_ci > 0), FORMULA_SE_CI, ""), index=view.index)
    method = method.where(method != "", np.where(se_reported.notna(), "SE as reported", ""))
    use_p = se.isna() & se_p.notna() & (se_p > 0)
    se = se.where(~use_p, se_p)
    method = method.where(~use_p, FORMULA_SE_P)
    frame["es_scale"] = scale.where(scale.notna() & value.notna(), "")
    frame["es_value"] = value
    frame["es_se"] = se.where(frame["es_scale"] != "")
    frame["es_origin"] = np.where(value.notna(), "reported", "")
    frame["es_method"] = method.where(frame["es_scale"] != "", "")
    frame["es_inputs"] = ""
    if arms is not None and len(arms):
        computed = _arm_smd(arms).set_index("finding_id")
        take = frame["finding_id"].isin(computed.index) & (measure != "smd")
        ids = frame.loc[take, "finding_id"]
        frame.loc[take, "es_scale"] = "SMD"
        frame.loc[take, "es_value"] = computed.loc[ids, "g"].to_numpy()
        frame.loc[take, "es_se"] = np.sqrt(computed.loc[ids, "g_variance"].to_numpy())
        frame.loc[take, "es_origin"] = "computed"
        methods = np.where(computed.loc[ids, "g_used_se"], FORMULA_SMD + "; " + FORMULA_SD_SE, FORMULA_SMD)
        frame.loc[take, "es_method"] = methods
        frame.loc[take, "es_inputs"] = computed.loc[ids, "g_inputs"].to_numpy()
    z = 1.959963984540054
    computed_rows = frame["es_origin"] == "computed"
    frame["es_ci_low"] = (frame["es_value"] - z * frame["es_se"]).where(computed_rows | low.isna(), low)
    frame["es_ci_high"] = (frame["es_value"] + z * frame["es_se"]).where(computed_rows | high.isna(), high)
    frame["es_ci_low"] = frame["es_ci_low"].where(
        frame["es_ci_low"].notna() | frame["es_se"].isna(), frame["es_value"] - z * frame["es_se"]
    )
    frame["es_ci_high"] = frame["es_ci_high"].where(
        frame["es_ci_high"].notna() | frame["es_se"].isna(), frame["es_value"] + z * frame["es_se"]
    )
    return frame.set_index("finding_id")


# ---------------------------------------------------------------------------- 3. which evidence
TIMEFRAME_GROUPS = {
    "acute": "single session",
    "short_term": "repeated (days to months)",
    "chronic": "repeated (days to months)",
    "varied": "repeated (days to months)",
    "cross_sectional": "habitual (observational)",
}
ROW_KEYS = ["intervention_code", "outcome_code", "timeframe_group", "species_group"]
#: Participants below which an estimate is imprecise (GRADE's rule of thumb for the optimal information size).
OPTIMAL_INFORMATION_SIZE = 400
CERTAINTY = ["very_low", "low", "moderate", "high"]
DOMAINS = ["risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias"]
RANDOMISED_DESIGNS = ("rct", "rct_crossover")
SERIOUS_ROB = ("high_risk", "serious_risk", "critical_risk", "critically_low_confidence", "low_confidence")
BASIS_TEXT = {
    "review": "one review used: the whole-review estimate (before subgroups), verified before secondary copies, "
    "pooling the most studies, then the most recent; other reviews and primary studies of this cell may overlap "
    "with it, so they are shown and not pooled",
    "primary pooled": "independent primary studies, one estimate each (the first listed), pooled with REML and a "
    "Hartung-Knapp-Sidik-Jonkman interval",
    "single study": "one primary study with an estimate",
    "directions only": "no estimate with a standard error: the findings' directions are described, not pooled",
}
NEEDED_COLUMNS = [
    "finding_id",
    "study_id",
    "short_cite",
    "year",
    "title",
    "population",
    "design_code",
    "evidence_level",
    "is_review",
    "finding_type",
    "subgroup",
    "verification_status",
    "n_studies",
    "n_analysed",
    "n_participants",
    "reported_certainty",
    "i2_pct",
    "rob_overall",
    "health_effect",
    "intervention_label",
    "outcome_label",
    "marker_class",
    "favourable_direction",
    "es_scale",
    "es_value",
    "es_se",
    "species_group",
]


def _randomised_text(frame: pd.DataFrame) -> pd.Series:
    """A review counts as pooling randomised trials only when its title or population says so."""
    text = frame["title"].astype("object").fillna("") + " " + frame["population"].astype("object").fillna("")
    return text.str.contains(r"random|\bRCTs?\b", case=False, regex=True)


def choose_evidence(v: pd.DataFrame) -> pd.DataFrame:
    """The estimates used per cell (column ``cell``), with ``basis``: the no-double-counting rule, vectorised.

    Cells with review estimates use one review (see :data:`BASIS_TEXT`); the others pool independent primary
    studies on the scale most studies share, one estimate per study.
    """
    poolable = v[(v["es_scale"] != "") & v["es_se"].gt(0)]
    order = poolable.assign(
        _overall=poolable["subgroup"].isna(),
        _verified=poolable["verification_status"].astype(str) == "verified",
        _k=poolable["n_studies"].astype("float64").fillna(0),
        _year=poolable["year"].astype("float64").fillna(0),
    )
    reviews = order[order["is_review"].astype(bool)]
    reviews = reviews.sort_values(
        ["cell", "_overall", "_verified", "_k", "_year", "finding_id"],
        ascending=[True, False, False, False, False, True],
        kind="stable",
    ).drop_duplicates("cell")
    primary = order[~order["is_review"].astype(bool) & ~order["cell"].isin(reviews["cell"])]
    if len(primary):
        per_scale = (
            primary.groupby(["cell", "es_scale"], observed=True)["study_id"].nunique().rename("_n").reset_index()
        )
        per_scale = per_scale.sort_values(["cell", "_n", "es_scale"], ascending=[True, False, True]).drop_duplicates(
            "cell"
        )
        primary = primary.merge(per_scale[["cell", "es_scale"]], on=["cell", "es_scale"])
        primary = primary.sort_values(["cell", "_overall", "finding_id"], ascending=[True, False, True], kind="stable")
        primary = primary.drop_duplicates(["cell", "study_id"])
    used = pd.concat([reviews.assign(basis="review"), primary.assign(basis="primary")], ignore_index=True)
    return used.drop(columns=["_overall", "_verified", "_k", "_year"])


def _participants(v: pd.DataFrame, used: pd.DataFrame, cells: pd.Index) -> pd.Series:
    """Participants per cell, each counted once: the chosen review's, or the sum over distinct primary studies."""
    total = pd.Series(np.nan, index=cells)
    review = used[used["basis"] == "review"].set_index("cell")
    n_review = review["n_analysed"].astype("float64").fillna(review["n_participants"].astype("float64"))
    total.loc[n_review.index] = n_review
    primary_cells = v[~v["cell"].isin(review.index) & ~v["is_review"].astype(bool)]
    used_studies = used[used["basis"] == "primary"][["cell", "study_id"]]
    pooled_cells = set(used_studies["cell"])
    in_pool = primary_cells.merge(used_studies, on=["cell", "study_id"]) if len(used_studies) else primary_cells[:0]
    others = primary_cells[~primary_cells["cell"].isin(pooled_cells)]
    frame = pd.concat([in_pool, others], ignore_index=True)
    if len(frame):
        per_study = frame.groupby(["cell", "study_id"], observed=True).agg(
            n=("n_analysed", lambda s: s.astype("float64").max()), fallback=("n_participants", "first")
        )
        per_study["n"] = per_study["n"].fillna(per_study["fallback"].astype("float64"))
        sums = per_study.groupby(level="cell")["n"].sum(min_count=1)
        total.loc[sums.index] = sums
    return total


# -------------------------------------------------------------------------------- 4. certainty
def _lower(level: str, steps: int) -> str:
    return CERTAINTY[max(0, CERTAINTY.index(level) - int(steps))]


def _egger_p(values: np.ndarray, ses: np.ndarray) -> float:
    """Egger's regression test for small-study effects: two-sided p of the intercept (statsmodels OLS)."""
    import statsmodels.api as sm

    model = sm.OLS(values / ses, sm.add_constant(1.0 / ses)).fit()
    return float(model.pvalues[0])


def _grade(cell: pd.DataFrame, v: pd.DataFrame, used: pd.DataFrame, pooled: pd.DataFrame) -> pd.DataFrame:
    """GRADE start and downgrades per cell (vectorised), each with its reason."""
    out = pd.DataFrame(index=cell.index)
    review = used[used["basis"] == "review"].set_index("cell")
    reported = review["reported_certainty"].dropna().astype(str)
    # start
    start = pd.Series("low", index=cell.index, dtype=object)
    start_reason = pd.Series("non-randomised or uncontrolled studies", index=cell.index, dtype=object)
    rev_random = _randomised_text(review)
    start.loc[review.index] = np.where(rev_random, "high", "low")
    start_reason.loc[review.index] = np.where(
        rev_random, "a review of randomised trials", "a review whose pooled designs are not stated as randomised"
    )
    primary = used[used["basis"] == "primary"]
    if len(primary):
        all_random = primary.groupby("cell")["design_code"].agg(lambda s: set(map(str, s)) <= set(RANDOMISED_DESIGNS))
        start.loc[all_random.index] = np.where(all_random, "high", "low")
        start_reason.loc[all_random.index] = np.where(all_random, "randomised trials", "non-randomised studies")
    directions = cell.index[cell["basis"] == "directions only"]
    if len(directions):
        rows = v[v["cell"].isin(directions)]
        best = rows.groupby("cell")["evidence_level"].min()
        randomised_primary = (
            rows[~rows["is_review"].astype(bool)]
            .groupby("cell")["design_code"]
            .agg(lambda s: set(map(str, s)) <= set(RANDOMISED_DESIGNS))
        )
        review_random = rows[rows["is_review"].astype(bool)].assign(_r=_randomised_text).groupby("cell")["_r"].any()
        for c in directions:
            level = best.get(c)
            if pd.notna(level) and int(level) == 5:
                start[c], start_reason[c] = "very_low", "narrative reviews, abstracts or statements only"
            elif bool(review_random.get(c, False)) or bool(randomised_primary.get(c, False)):
                start[c], start_reason[c] = "high", "randomised trials or reviews of them (directions only)"
    start.loc[reported.index] = reported
    start_reason.loc[reported.index] = "as rated by the review's authors (GRADE " + reported.str.replace("_", " ") + ")"
    out["certainty_start"], out["start_reason"] = start, start_reason
    # indirectness
    species = cell["species_group"].astype(str) if "species_group" in cell else pd.Series("human", index=cell.index)
    out["indirectness"] = np.select([species.isin(["animal", "cells"]), species == "mixed"], [2, 1], 0)
    out["indirectness_reason"] = np.select(
        [species.isin(["animal", "cells"]), species == "mixed"],
        ["animal or cell evidence for a human question", "a review mixing human and animal studies"],
        "human participants",
    )
    # risk of bias: of the studies used (all studies of the cell when no estimate is used)
    basis_rows = pd.concat([used[["cell", "rob_overall"]], v[v["cell"].isin(directions)][["cell", "rob_overall"]]])
    judged = (
        basis_rows.assign(
            _assessed=basis_rows["rob_overall"].astype(str) != "not_assessed",
            _serious=basis_rows["rob_overall"].astype(str).isin(SERIOUS_ROB),
        )
        .groupby("cell")[["_assessed", "_serious"]]
        .mean()
        .reindex(cell.index)
    )
    none_assessed = judged["_assessed"].fillna(0) == 0
    serious = (judged["_serious"].fillna(0) / judged["_assessed"].where(judged["_assessed"] > 0)).fillna(0) >= 0.5
    out["risk_of_bias"] = np.where(none_assessed | serious, 1, 0)
    out["risk_of_bias_reason"] = np.select(
        [none_assessed, serious],
        ["not assessed for any study used", "most studies used at high risk of bias"],
        "studies used mostly at low risk or some concerns",
    )
    # inconsistency
    i2 = pooled["i2"].reindex(cell.index)
    i2 = i2.where(cell["basis"] != "review", review["i2_pct"].astype("float64").reindex(cell.index))
    spans = (pooled["pi_low"] < 0) & (pooled["pi_high"] > 0)
    spans = spans.astype(bool).reindex(cell.index, fill_value=False)
    effect_rows = pd.concat([used, v[v["cell"].isin(directions)]], ignore_index=True)
    effect_rows = effect_rows[(effect_rows["finding_type"].astype(str) == "effect") & effect_rows["subgroup"].isna()]
    effects_of = effect_rows["health_effect"].astype(str)
    benefit = effects_of.eq("benefit").groupby(effect_rows["cell"]).any()
    harm = effects_of.eq("harm").groupby(effect_rows["cell"]).any()
    both = (benefit & harm).reindex(cell.index, fill_value=False).astype(bool)
    out["inconsistency"] = np.select([(i2 >= 75) & spans, i2 >= 50, both], [2, 1, 1], 0)
    out["inconsistency_reason"] = [
        f"I² = {x:.0f} % and the prediction interval spans no effect"
        if d == 2 and pd.notna(x)
        else f"I² = {x:.0f} %"
        if pd.notna(x) and x >= 50
        else "findings show both benefit and harm"
        if b
        else (f"I² = {x:.0f} %" if pd.notna(x) else "no conflicting findings")
        for x, b, d in zip(i2, both, out["inconsistency"], strict=True)
    ]
    # imprecision
    has_estimate = cell["k"] > 0
    crosses = (cell["ci_low"] <= 0) & (cell["ci_high"] >= 0)
    small = cell["n_participants"].isna() | (cell["n_participants"] < OPTIMAL_INFORMATION_SIZE)
    out["imprecision"] = np.minimum(2, (~has_estimate).astype(int) + (has_estimate & crosses).astype(int) + small)
    reasons = []
    for estimate, cross, little, n in zip(has_estimate, crosses, small, cell["n_participants"], strict=True):
        parts = []
        if not estimate:
            parts.append("no effect estimate with a confidence interval")
        elif cross:
            parts.append("the confidence interval includes no effect")
        if little:
            size = "unknown" if pd.isna(n) else str(int(n))
            parts.append(f"{size} participants, below an optimal information size of {OPTIMAL_INFORMATION_SIZE}")
        reasons.append("; ".join(parts) or "precise enough")
    out["imprecision_reason"] = reasons
    # publication bias: Egger's test where at least 10 primary studies are pooled
    out["publication_bias"], out["publication_bias_reason"] = 0, "not assessed: fewer than 10 pooled studies"
    for c in cell.index[(cell["basis"] == "primary pooled") & (cell["k"] >= 10)]:
        rows = primary[primary["cell"] == c]
        p = _egger_p(rows["es_value"].to_numpy(float), rows["es_se"].to_numpy(float))
        out.loc[c, "publication_bias"] = int(p < 0.10)
        out.loc[c, "publication_bias_reason"] = f"Egger's test p = {p:.2f}"
    # the review's own rating already covers the other domains
    rated = reported.index
    for domain in ("risk_of_bias", "inconsistency", "imprecision", "publication_bias"):
        out.loc[rated, domain] = 0
        out.loc[rated, f"{domain}_reason"] = "included in the review's own rating"
    return out


# --------------------------------------------------------------------------------- 5. statement
def _verb(estimate: float, low: float, high: float, outcome: str, scale: str, certainty: str) -> str:
    if low <= 0 <= high:
        return {
            "high": f"results in little to no difference in {outcome}",
            "moderate": f"probably results in little to no difference in {outcome}",
            "low": f"may result in little to no difference in {outcome}",
        }[certainty]
    verb = "reduces" if estimate < 0 else "increases"
    slightly = " slightly" if scale == "SMD" and abs(estimate) < 0.5 else ""
    return {
        "high": f"{verb}{slightly} {outcome}",
        "moderate": f"probably {verb}{slightly} {outcome}",
        "low": f"may {verb[:-1]}{slightly} {outcome}",
    }[certainty]


def _in_sentence(label: str) -> str:
    return label[:1].lower() + label[1:] if len(label) > 1 and label[1].islower() else label


def plain_statement(
    intervention: str,
    outcome: str,
    certainty: str,
    estimate: float,
    low: float,
    high: float,
    scale: str,
    only_no_effect: bool,
) -> str:
    """GRADE's standard wording (Santesso et al. 2020) for one cell.

    Examples:
        >>> plain_statement("Exercise training", "IL-6", "moderate", -0.17, -0.31, -0.03, "SMD", False)
        'Exercise training probably reduces slightly IL-6.'
        >>> plain_statement("Omega-3", "IL-6", "very_low", -0.2, -0.5, 0.1, "SMD", False)
        'The evidence is very uncertain about the effect of omega-3 on IL-6.'
    """
    outcome = _in_sentence(outcome)
    if certainty == "very_low":
        subject = _in_sentence(intervention)
        return f"The evidence is very uncertain about the effect of {subject} on {outcome}."
    if pd.isna(estimate):
        if only_no_effect:
            return f"{intervention} " + _verb(0.0, -1.0, 1.0, outcome, "", certainty) + "."
        return f"{intervention} may or may not change {outcome}: no study gives an estimate with its uncertainty."
    return f"{intervention} " + _verb(estimate, low, high, outcome, scale, certainty) + "."


# ---------------------------------------------------------------------------- 6. the SoF table
def summary_of_findings(
    view: pd.DataFrame, overrides: pd.DataFrame | None = None, by: list[str] | None = None
) -> pd.DataFrame:
    """One Summary-of-Findings row per cell (default: intervention × outcome × timeframe group × species group).

    ``view`` is :func:`helpers.evidence.build_evidence_view`'s output (it carries the effect sizes, risk of bias
    and health effects). ``overrides`` is ``package.certainty_overrides``; ``by`` may add population columns
    (``condition_code``, ``age_group``, ``training_status``...).
    """
    keys = list(by or ROW_KEYS)
    columns = list(dict.fromkeys([*keys, *NEEDED_COLUMNS]))
    if view.empty:
        return pd.DataFrame(columns=list(dict.fromkeys([*keys, *SOF_COLUMNS])))
    v = view[columns].copy()
    for column in [
        "year",
        "evidence_level",
        "n_studies",
        "n_analysed",
        "n_participants",
        "i2_pct",
        "es_value",
        "es_se",
    ]:
        v[column] = v[column].to_numpy(dtype="float64", na_value=np.nan)
    for column in ["health_effect", "species_group", "design_code", "rob_overall", "verification_status", "es_scale"]:
        v[column] = v[column].astype("object").where(v[column].notna(), "").astype("str")
    v["cell"] = v.groupby(keys, observed=True, sort=True).ngroup()
    first = v.drop_duplicates("cell").set_index("cell").sort_index()
    cell = first[
        [
            c
            for c in [*keys, "intervention_label", "outcome_label", "marker_class", "favourable_direction"]
            if c in first
        ]
    ].copy()
    if "species_group" not in cell:
        cell["species_group"] = v.groupby("cell")["species_group"].agg(
            lambda s: "mixed" if s.nunique() > 1 else s.iloc[0]
        )
    grouped = v.groupby("cell")
    cell["n_studies"] = grouped["study_id"].nunique()
    cell["n_findings"] = grouped.size()
    cell["best_level"] = grouped["evidence_level"].min().astype("Int64")
    used = choose_evidence(v)
    pooled = (
        stats.meta_analysis_groups(
            used["es_value"].to_numpy(float), np.square(used["es_se"].to_numpy(float)), used["cell"]
        )
        if len(used)
        else pd.DataFrame(columns=["k", "estimate", "se", "ci_low", "ci_high", "tau2", "i2", "q", "pi_low", "pi_high"])
    )
    pooled = pooled.reindex(cell.index)
    cell["k"] = pooled["k"].fillna(0).astype(int)
    for column in ["estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2"]:
        cell[column] = pooled[column].astype("float64")
    review_cells = set(used.loc[used["basis"] == "review", "cell"])
    cell["basis"] = np.select(
        [cell.index.isin(review_cells), cell["k"] >= 2, cell["k"] == 1],
        ["review", "primary pooled", "single study"],
        "directions only",
    )
    cell.loc[cell["basis"] == "review", ["tau2", "i2"]] = np.nan
    cell["basis_reason"] = cell["basis"].map(BASIS_TEXT)
    scale = used.drop_duplicates("cell").set_index("cell")["es_scale"]
    cell["scale"] = scale.reindex(cell.index).fillna("")
    cell["n_participants"] = _participants(v, used, cell.index)
    cell["participants_note"] = np.where(
        cell["basis"] == "review",
        "participants of the chosen review only",
        "distinct primary studies, each counted once",
    )
    # benefit / harm
    per_study = v.sort_values("finding_id").drop_duplicates(["cell", "study_id"])
    counts = per_study.groupby(["cell", "health_effect"], observed=False).size().unstack(fill_value=0)
    for effect in HEALTH_EFFECTS:
        cell[f"n_{effect}"] = counts[effect].reindex(cell.index).fillna(0).astype(int) if effect in counts else 0
    lower = cell["estimate"] < 0
    favour = cell["favourable_direction"].astype(str)
    crosses = (cell["ci_low"] <= 0) & (cell["ci_high"] >= 0)
    from_estimate = np.select(
        [crosses, ~favour.isin(["decrease", "increase"]), lower == (favour == "decrease")],
        ["no_effect", "unclear", "benefit"],
        "harm",
    )
    share = cell[[f"n_{e}" for e in HEALTH_EFFECTS]]
    top = share.idxmax(axis=1).str.slice(2)
    majority = share.max(axis=1) > share.sum(axis=1) - share.max(axis=1)
    from_counts = np.where((cell["n_benefit"] > 0) & (cell["n_harm"] > 0), "mixed", np.where(majority, top, "mixed"))
    cell["health_effect"] = np.where(cell["k"] > 0, from_estimate, from_counts)
    # certainty
    grade = _grade(cell, v, used, pooled)
    cell["certainty_start"] = grade["certainty_start"]
    total = grade[DOMAINS].sum(axis=1)
    cell["certainty_computed"] = [_lower(s, n) for s, n in zip(grade["certainty_start"], total, strict=True)]
    applied = {}
    if overrides is not None and len(overrides):
        merged = (
            overrides.merge(cell.reset_index()[["cell", *ROW_KEYS]], on=ROW_KEYS)
            if set(ROW_KEYS) <= set(cell)
            else overrides[:0]
        )
        for o in merged.itertuples():
            applied.setdefault(o.cell, {})[o.domain] = (int(o.downgrade), str(o.rationale))
    finals, texts, shorts = [], [], []
    domain_levels = {d: grade[d].astype(int).tolist() for d in DOMAINS}
    domain_reasons = {d: grade[f"{d}_reason"].tolist() for d in DOMAINS}
    starts, start_reasons = grade["certainty_start"].tolist(), grade["start_reason"].tolist()
    for i, c in enumerate(cell.index):
        effective, parts, lowered = 0, [], []
        for domain in DOMAINS:
            levels, reason = domain_levels[domain][i], domain_reasons[domain][i]
            name = domain.replace("_", " ")
            text = f"{name}: " + (f"-{levels} ({reason})" if levels else f"no downgrade ({reason})")
            if domain in applied.get(c, {}):
                new, why = applied[c][domain]
                text += f"; curator override to -{new}: {why}"
                lowered.append(f"{name} -{new} (curator: {why})")
                levels = new
            elif levels:
                lowered.append(f"{name} -{levels} ({reason})")
            effective += levels
            parts.append(text)
        finals.append(_lower(starts[i], effective))
        start = f"{starts[i].replace('_', ' ')} ({start_reasons[i]})"
        texts.append(f"start {start}; " + "; ".join(parts))
        shorts.append(f"Starts {start}; " + ("; ".join(lowered) if lowered else "no downgrade") + ".")
    cell["certainty"] = finals
    cell["downgrades"] = texts
    #: The same, naming only the domains that lowered the certainty (for tables; ``downgrades`` has every domain).
    cell["downgrades_short"] = shorts
    cell["overridden"] = [c in applied for c in cell.index]
    cell["effect_text"] = [
        _effect_text(b, s, k, e, lo, hi, pl, ph, i, t)
        for b, s, k, e, lo, hi, pl, ph, i, t in zip(
            cell["basis"],
            cell["scale"],
            cell["k"],
            cell["estimate"],
            cell["ci_low"],
            cell["ci_high"],
            cell["pi_low"],
            cell["pi_high"],
            cell["i2"],
            cell["tau2"],
            strict=True,
        )
    ]
    cell["statement"] = [
        plain_statement(str(i), str(o), c, e, lo, hi, s, n_no > 0 and n_b + n_h == 0)
        for i, o, c, e, lo, hi, s, n_no, n_b, n_h in zip(
            cell["intervention_label"],
            cell["outcome_label"],
            cell["certainty"],
            cell["estimate"],
            cell["ci_low"],
            cell["ci_high"],
            cell["scale"],
            cell["n_no_effect"],
            cell["n_benefit"],
            cell["n_harm"],
            strict=True,
        )
    ]
    cites = used.groupby("cell")["short_cite"].agg(lambda s: "; ".join(dict.fromkeys(map(str, s))))
    listed = (
        v.sort_values(["cell", "evidence_level"])
        .groupby("cell")["short_cite"]
        .agg(lambda s: "; ".join(list(dict.fromkeys(map(str, s)))[:5]))
    )
    cell["studies"] = cites.reindex(cell.index).fillna(listed)
    cell["finding_ids"] = used.groupby("cell")["finding_id"].agg(" ".join).reindex(cell.index).fillna("")
    return cell.reset_index(drop=True)[[*keys, *[c for c in SOF_COLUMNS if c not in keys]]]


class CellMemo:
    """:func:`summary_of_findings` for a panel whose filters change: each cell computed once per set of findings.

    A cell's row depends only on the findings in that cell (and the overrides): no estimate, participant count or
    rating looks across cells. So a filter that keeps or drops whole cells (intervention, outcome, species) needs
    no new synthesis, and one that changes what a cell holds (population, evidence level) recomputes those cells
    only. A cell's findings are recognised by their count and two independent 40-bit hash sums of their ids.
    """

    def __init__(self, overrides: pd.DataFrame | None = None):
        self.overrides = overrides
        self._rows: pd.DataFrame | None = None  # indexed by ROW_KEYS + the signature

    @staticmethod
    def _signatures(view: pd.DataFrame) -> pd.DataFrame:
        ids = view["finding_id"].astype("str")
        frame = view[ROW_KEYS].copy()
        for column, key in [("_h1", "exinf-cell-memo-1"), ("_h2", "exinf-cell-memo-2")]:
            hashed = pd.util.hash_pandas_object(ids, index=False, hash_key=key.ljust(16)[:16])
            frame[column] = (hashed.to_numpy() >> np.uint64(24)).astype("int64")  # 40 bits: sums never overflow
        grouped = frame.groupby(ROW_KEYS, observed=True, sort=True)
        return grouped[["_h1", "_h2"]].sum().assign(_n=grouped.size())

    def __call__(self, view: pd.DataFrame) -> pd.DataFrame:
        if view.empty:
            return summary_of_findings(view, self.overrides)
        signatures = self._signatures(view)
        wanted = pd.MultiIndex.from_frame(signatures.reset_index())
        known = self._rows.index if self._rows is not None else wanted[:0]
        missing = wanted[~wanted.isin(known)]
        if len(missing):
            cells = signatures.index[~wanted.isin(known)]
            in_missing = pd.MultiIndex.from_frame(view[ROW_KEYS]).isin(cells)
            fresh = summary_of_findings(view[in_missing], self.overrides)
            fresh.index = pd.MultiIndex.from_frame(
                fresh[ROW_KEYS].merge(signatures.reset_index(), on=ROW_KEYS, how="left")[wanted.names]
            )
            self._rows = fresh if self._rows is None else pd.concat([self._rows, fresh])
        return self._rows.loc[wanted].reset_index(drop=True)


SOF_COLUMNS = [
    "intervention_label",
    "outcome_label",
    "marker_class",
    "favourable_direction",
    "species_group",
    "n_studies",
    "n_findings",
    "n_participants",
    "participants_note",
    "best_level",
    "basis",
    "basis_reason",
    "scale",
    "k",
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "i2",
    "tau2",
    "effect_text",
    "health_effect",
    *(f"n_{e}" for e in HEALTH_EFFECTS),
    "certainty_start",
    "certainty_computed",
    "certainty",
    "downgrades",
    "downgrades_short",
    "overridden",
    "statement",
    "studies",
    "finding_ids",
]


def _effect_text(basis, scale, k, estimate, low, high, pi_low, pi_high, i2, tau2) -> str:
    if basis == "directions only" or pd.isna(estimate):
        return "no estimate with a confidence interval"
    text = f"{scale} {estimate:.2f} (95 % CI {low:.2f} to {high:.2f})"
    if k >= 3 and pd.notna(pi_low):
        text += f"; prediction interval {pi_low:.2f} to {pi_high:.2f}"
    if k >= 2:
        text += f"; k = {k}, I² = {i2:.0f} %, τ² = {tau2:.3f}"
    if scale.startswith("log"):
        text += f" (ratio {math.exp(estimate):.2f}, {math.exp(low):.2f} to {math.exp(high):.2f})"
    return text
