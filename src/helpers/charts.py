"""Altair charts: pure functions ``DataFrame + parameters -> alt.Chart``.

Every chart is drawn from data aggregated in pandas first (so it stays far below Altair's row limit
at any data size, and the aggregation is tested), every mark's tooltip names the studies, their
PMID/DOI, where the numbers were read and how far they were verified, and each chart has a table
alternative built from the same data (the ``*_table`` functions).

Colours come from the Okabe-Ito palette, which stays distinguishable with the common colour-vision
deficiencies; every mark's tooltip and each chart's table alternative also name the direction and
verification status in words, so nothing depends on colour alone.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from helpers import evidence, stats

#: Okabe-Ito colours by role.
DIRECTION_COLOURS = {"decrease": "#0072B2", "increase": "#D55E00", "no_change": "#999999", "mixed": "#CC79A7"}
DIRECTION_LABELS = {"decrease": "decrease", "increase": "increase", "no_change": "no change", "mixed": "mixed"}
VERDICT_COLOURS = {
    "supported": "#009E73",
    "partly_supported": "#56B4E9",
    "overstated": "#E69F00",
    "not_supported": "#D55E00",
    "unverifiable": "#999999",
}
VERIFICATION_COLOURS = {"verified": "#009E73", "partial": "#E69F00", "unverified": "#999999"}
LEVEL_SCHEME = "viridis"
FONT = "Helvetica Neue, Helvetica, Arial, sans-serif"

#: Order of outcome kinds on the evidence map: inflammation markers first, then the rest.
MARKER_CLASS_ORDER = [
    "pro_inflammatory_cytokine",
    "anti_inflammatory_cytokine",
    "other_cytokine",
    "chemokine",
    "acute_phase_protein",
    "other_inflammatory_marker",
    "immune_cell",
    "signalling",
    "muscle_damage",
    "oxidative_stress",
    "metabolic",
    "hormone",
    "perception",
    "performance",
    "clinical_score",
]

#: Forest plots show at most this many rows (strongest evidence first); the rest are counted.
FOREST_MAX_ROWS = 60
#: The evidence ladder draws one mark per study up to this many studies, then aggregates.
LADDER_MAX_POINTS = 300


def _finish(chart: alt.TopLevelMixin, description: str) -> alt.TopLevelMixin:
    """Apply the house style and an accessible description (read by screen readers)."""
    return (
        chart.properties(description=description)
        .configure(font=FONT)
        .configure_axis(labelFontSize=11, titleFontSize=12, labelLimit=260)
        .configure_legend(labelFontSize=11, titleFontSize=12)
        .configure_title(fontSize=15, anchor="start")
        .configure_view(strokeWidth=0)
    )


def _empty(message: str) -> alt.Chart:
    frame = pd.DataFrame({"message": [message]})
    chart = alt.Chart(frame).mark_text(fontSize=14, color="#555").encode(text="message:N")
    return _finish(chart.properties(width=420, height=60), message)


def _ordered(table: pd.DataFrame, label: str, key: str) -> list[str]:
    """The labels of ``table`` in the order of ``key``: an explicit sort, since Vega-Lite's sort by
    field aggregates (sums) the field over the rows of each label."""
    return table.sort_values(key)[label].drop_duplicates().tolist()


def _provenance_tooltip() -> list[alt.Tooltip]:
    """Tooltip lines naming the sources of an aggregated mark (see evidence.summarise_provenance)."""
    return [
        alt.Tooltip("sources:N", title="Studies (PMID/DOI)"),
        alt.Tooltip("source_locations:N", title="Read in"),
        alt.Tooltip("verification:N", title="Verification"),
    ]


def _verification_colour() -> alt.Color:
    """Verification status in the same colours on every chart."""
    return alt.Color(
        "verification_status:N",
        title="Verification",
        scale=alt.Scale(domain=list(VERIFICATION_COLOURS), range=list(VERIFICATION_COLOURS.values())),
    )


def _encoded_only(table: pd.DataFrame, tooltip: list[alt.Tooltip], fields: list[str]) -> pd.DataFrame:
    """Only the columns a chart encodes or shows in its tooltip: the rest would only weigh down the page."""
    used = dict.fromkeys([*fields, *(t.shorthand.split(":")[0] for t in tooltip)])
    return table[[c for c in used if c in table]]


def _direction_scale() -> alt.Scale:
    return alt.Scale(domain=list(DIRECTION_COLOURS), range=list(DIRECTION_COLOURS.values()))


def _level_label(level: object) -> str:
    if level is None or pd.isna(level):
        return "level unknown"
    return f"{int(level)}. {evidence.EVIDENCE_LEVELS[int(level)]}"


# ------------------------------------------------------------------------------------ evidence map
def evidence_map_table(view: pd.DataFrame) -> pd.DataFrame:
    """The evidence map's data: one row per intervention x outcome cell, with its sources."""
    by = ["intervention_code", "outcome_code"]
    summary = evidence.summarise_cells(view, tuple(by))
    if summary.empty:
        return summary
    labels = view.drop_duplicates(by)[
        [*by, "intervention_label", "intervention_category", "outcome_label", "marker_class"]
    ]
    table = summary.merge(labels, on=by).merge(evidence.summarise_provenance(view, by), on=by)
    table["best_level_label"] = table["best_level"].map(_level_label)
    return table.sort_values(["intervention_category", "intervention_label", "outcome_label"]).reset_index(drop=True)


def build_evidence_map(view: pd.DataFrame, colour_by: str = "direction", title: str | None = None) -> alt.Chart:
    """Intervention x outcome grid; circle size = number of findings, colour = main direction or best level."""
    if colour_by not in ("direction", "level"):
        raise ValueError(f"colour_by must be 'direction' or 'level', got {colour_by!r}")
    table = evidence_map_table(view)
    if table.empty:
        return _empty("No findings match this selection.")
    if colour_by == "direction":
        colour = alt.Color(
            "main_direction:N",
            title="Main direction",
            scale=_direction_scale(),
            legend=alt.Legend(labelExpr=_label_expr(DIRECTION_LABELS)),
        )
    else:
        colour = alt.Color(
            "best_level:O", title="Best evidence level", scale=alt.Scale(scheme=LEVEL_SCHEME, domain=list(range(1, 8)))
        )
    tooltip = [
        alt.Tooltip("intervention_label:N", title="Intervention"),
        alt.Tooltip("outcome_label:N", title="Outcome"),
        alt.Tooltip("n_findings:Q", title="Findings"),
        alt.Tooltip("n_studies:Q", title="Studies"),
        alt.Tooltip("best_level_label:N", title="Best evidence"),
        alt.Tooltip("main_direction:N", title="Main direction"),
        alt.Tooltip("agreement:Q", title="Agreement", format=".0%"),
        alt.Tooltip("total_n:Q", title="Participants (known N)"),
        *_provenance_tooltip(),
    ]
    class_rank = {c: i for i, c in enumerate(MARKER_CLASS_ORDER)}
    table = table.assign(class_rank=table["marker_class"].map(class_rank).fillna(len(class_rank)))
    outcome_sort = table.sort_values(["class_rank", "outcome_label"])["outcome_label"].drop_duplicates().tolist()
    n_outcomes = table["outcome_label"].nunique()
    n_interventions = table["intervention_label"].nunique()
    points = (
        alt.Chart(
            _encoded_only(
                table, tooltip, ["outcome_label", "intervention_label", "n_findings", "main_direction", "best_level"]
            )
        )
        .mark_circle(opacity=0.85, stroke="#333", strokeWidth=0.5)
        .encode(
            x=alt.X(
                "outcome_label:N",
                title="Outcome (grouped by kind: cytokines first)",
                sort=outcome_sort,
                axis=alt.Axis(labelAngle=-45),
            ),
            y=alt.Y("intervention_label:N", title="Intervention", sort=sorted(table["intervention_label"].unique())),
            size=alt.Size("n_findings:Q", title="Findings", scale=alt.Scale(range=[40, 900])),
            color=colour,
            tooltip=tooltip,
        )
    )
    chart = points.properties(
        title=title
        or f"Evidence map: {int(table['n_findings'].sum())} findings from {view['study_id'].nunique()} studies",
        width=max(320, 22 * n_outcomes),
        height=max(120, 24 * n_interventions),
    )
    return _finish(
        chart,
        "Evidence map: interventions by outcomes; circle size is the number of findings, "
        f"colour is the {'main direction' if colour_by == 'direction' else 'best evidence level'}.",
    )


def _label_expr(labels: dict[str, str]) -> str:
    cases = " : ".join(f"datum.label == '{k}' ? '{v}'" for k, v in labels.items())
    return f"{cases} : datum.label"


# ------------------------------------------------------------------------ effect-direction plot
def direction_by_level_table(view: pd.DataFrame) -> pd.DataFrame:
    """Findings counted by evidence level and direction, with their sources."""
    by = ["evidence_level", "direction"]
    if view.empty:
        return pd.DataFrame(columns=[*by, "n_findings", "n_studies", "level_label", "sources"])
    counts = view.groupby(by, observed=True).agg(n_findings=("finding_id", "size"), n_studies=("study_id", "nunique"))
    table = counts.reset_index().merge(evidence.summarise_provenance(view, by), on=by)
    table["level_label"] = table["evidence_level"].map(_level_label)
    table["direction_label"] = table["direction"].map(DIRECTION_LABELS)
    table["direction_order"] = table["direction"].map({d: i for i, d in enumerate(DIRECTION_COLOURS)})
    return table.sort_values(["evidence_level", "direction_order"]).reset_index(drop=True)


def build_direction_plot(view: pd.DataFrame, title: str | None = None) -> alt.Chart:
    """Stacked bars: how many findings went each way, at each evidence level."""
    table = direction_by_level_table(view)
    if table.empty:
        return _empty("No findings match this selection.")
    bars = (
        alt.Chart(table)
        .mark_bar()
        .encode(
            y=alt.Y("level_label:N", title=None, sort=_ordered(table, "level_label", "evidence_level")),
            x=alt.X("n_findings:Q", title="Findings", stack="zero"),
            color=alt.Color(
                "direction:N",
                title="Direction",
                scale=_direction_scale(),
                legend=alt.Legend(labelExpr=_label_expr(DIRECTION_LABELS)),
            ),
            order=alt.Order("direction_order:Q"),
            tooltip=[
                alt.Tooltip("level_label:N", title="Evidence level"),
                alt.Tooltip("direction_label:N", title="Direction"),
                alt.Tooltip("n_findings:Q", title="Findings"),
                alt.Tooltip("n_studies:Q", title="Studies"),
                *_provenance_tooltip(),
            ],
        )
    )
    chart = bars.properties(
        title=title or "Direction of findings by evidence level",
        width=480,
        height=max(80, 34 * table["evidence_level"].nunique()),
    )
    return _finish(chart, "Stacked bar chart of findings by evidence level, split by the direction of the effect.")


# ------------------------------------------------------------------------------------ forest plot
def _effect_text(value: float, low: float, high: float) -> str:
    if pd.isna(value):
        return ""
    if pd.isna(low):
        return f"{value:g}"
    return f"{value:g} ({low:g} to {high:g})"


MEASURE_LABELS = {
    "smd": "Standardised mean difference (SMD)",
    "wmd": "Weighted mean difference (WMD)",
    "md": "Mean difference (MD)",
    "es": "Effect size (ES)",
    "pct_change": "Percent change",
    "median_change": "Change in median",
    "r": "Correlation (r)",
    "eta": "Eta",
}


def _panel_key(frame: pd.DataFrame) -> pd.Series:
    """One panel per effect measure, and per unit for measures in natural units."""
    unit = frame["value_unit"].fillna("")
    needs_unit = frame["effect_measure"].isin(["md", "wmd", "median_change"])
    suffix = np.where(needs_unit & (unit != ""), ", " + unit, np.where(needs_unit, ", unit not reported", ""))
    return frame["effect_measure"].map(MEASURE_LABELS) + suffix


def forest_table(view: pd.DataFrame, max_rows: int = FOREST_MAX_ROWS, pooled: bool = True) -> pd.DataFrame:
    """Rows of the forest plot: reported estimates (standardised sign) grouped by measure, plus pooled rows.

    Only findings with a signed effect value are drawn; each panel holds one effect measure (and,
    for mean differences, one unit), so different scales never share an axis.
    """
    frame = view[view["effect_standardised"].notna()].copy()
    columns = [
        "panel",
        "row_label",
        "kind",
        "effect",
        "ci_low",
        "ci_high",
        "effect_text",
        "short_cite",
        "identifier",
        "outcome_label",
        "outcome_detail",
        "evidence_label",
        "evidence_level",
        "source_location",
        "verification_status",
        "p_text",
        "note",
        "order",
    ]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.sort_values(["evidence_level", "outcome_label", "year", "finding_id"]).head(max_rows)
    frame["panel"] = _panel_key(frame)
    detail = frame["outcome_detail"].fillna(frame["outcome_label"])
    subgroup = frame["subgroup"].fillna("")
    frame["row_label"] = (
        frame["short_cite"]
        + " · "
        + detail.str.slice(0, 48)
        + np.where(subgroup != "", " [" + subgroup.str.slice(0, 30) + "]", "")
    )
    frame["row_label"] = frame["row_label"] + " #" + frame["finding_id"].str.extract(r"_f(\d+)$")[0]
    frame["kind"] = "reported"
    frame["effect"] = frame["effect_standardised"]
    frame["ci_low"] = frame["ci_low_standardised"]
    frame["ci_high"] = frame["ci_high_standardised"]
    # The text shows the effect as reported (its own sign), not the standardised one drawn.
    frame["effect_text"] = [
        _effect_text(v, lo, hi)
        for v, lo, hi in zip(
            frame["effect_value"], view.loc[frame.index, "ci_low"], view.loc[frame.index, "ci_high"], strict=True
        )
    ]
    frame["p_text"] = np.where(
        frame["p_value"].notna(), "p " + frame["p_value_operator"].fillna("") + " " + frame["p_value"].astype(str), ""
    )
    frame["order"] = np.arange(len(frame))
    rows = [frame]
    if pooled:
        rows.append(_pooled_rows(view, frame))
    table = pd.concat(rows, ignore_index=True)
    return table[columns]


def _pooled_rows(view: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    # Only groups with a row on screen can get a pooled row: pool just those (at most one per row).
    keys = stats.pool_keys(view)
    shown_keys = set(stats.pool_keys(shown))
    estimates = stats.pool_random_effects(view[keys.isin(shown_keys).to_numpy()])
    rows = []
    for estimate in estimates:
        member = shown[
            shown["study_id"].isin(estimate.study_ids)
            & (shown["outcome_code"] == estimate.outcome_code)
            & (shown["effect_measure"] == estimate.effect_measure)
        ]
        if member.empty:
            continue
        label = member["outcome_label"].iloc[0]
        rows.append(
            {
                "panel": member["panel"].iloc[0],
                "row_label": f"Pooled, random effects (k={estimate.k}): {label}",
                "kind": "pooled",
                "effect": estimate.estimate,
                "ci_low": estimate.ci_low,
                "ci_high": estimate.ci_high,
                "effect_text": _effect_text(
                    round(estimate.estimate, 3), round(estimate.ci_low, 3), round(estimate.ci_high, 3)
                ),
                "short_cite": "DerSimonian-Laird pool of " + ", ".join(estimate.study_ids),
                "identifier": "computed by helpers.stats (DerSimonian-Laird)",
                "outcome_label": label,
                "outcome_detail": f"tau² = {estimate.tau2:.3f}; I² = {estimate.i2:.0%}",
                "evidence_label": "pooled estimate",
                "evidence_level": np.nan,
                "source_location": "computed",
                "verification_status": "computed",
                "p_text": "",
                "note": "",
                "order": member["order"].max() + 0.5,
            }
        )
    return pd.DataFrame(rows)


def build_forest_plot(
    view: pd.DataFrame, max_rows: int = FOREST_MAX_ROWS, pooled: bool = True, title: str | None = None
) -> alt.VConcatChart | alt.Chart:
    """Reported estimates with confidence intervals, one panel per effect measure.

    The x axis is the effect on a common sign: negative = the outcome was lower with the
    intervention (sources that use the opposite convention are re-signed, see ``effect_sign``).
    Hollow points have no reported interval. A random-effects pooled row (diamond) is added only
    where findings are comparable and independent (see :mod:`helpers.stats`).
    """
    table = forest_table(view, max_rows=max_rows, pooled=pooled)
    if table.empty:
        return _empty("No reported effect estimates in this selection.")
    n_total = int(view["effect_standardised"].notna().sum())
    n_shown = int((table["kind"] == "reported").sum())
    panels = []
    tooltip = [
        alt.Tooltip("short_cite:N", title="Study"),
        alt.Tooltip("identifier:N", title="PMID/DOI"),
        alt.Tooltip("outcome_label:N", title="Outcome"),
        alt.Tooltip("outcome_detail:N", title="Measured"),
        alt.Tooltip("effect_text:N", title="Effect as reported"),
        alt.Tooltip("p_text:N", title="p"),
        alt.Tooltip("evidence_label:N", title="Evidence"),
        alt.Tooltip("source_location:N", title="Read in"),
        alt.Tooltip("verification_status:N", title="Verification"),
    ]
    for panel, rows in table.groupby("panel", sort=True):
        rows = rows.copy()
        rows["has_ci"] = rows["ci_low"].notna()
        rows["ci_text"] = np.where(rows["has_ci"], "reported", "not reported")
        base = alt.Chart(rows).encode(
            y=alt.Y("row_label:N", title=None, sort=_ordered(rows, "row_label", "order"), axis=alt.Axis(labelLimit=360))
        )
        x_title = f"{panel}: negative = lower with the intervention"
        rule = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#666", strokeDash=[4, 3]).encode(x="zero:Q")
        error_bars = (
            base.transform_filter("datum.has_ci")
            .mark_rule(strokeWidth=1.5, color="#333")
            .encode(x=alt.X("ci_low:Q", title=x_title), x2="ci_high:Q", tooltip=tooltip)
        )
        points = (
            base.transform_filter("datum.kind == 'reported'")
            .mark_point(filled=True, size=70)
            .encode(
                x=alt.X("effect:Q", title=x_title),
                color=_verification_colour(),
                shape=alt.Shape(
                    "ci_text:N",
                    title="Confidence interval",
                    scale=alt.Scale(domain=["reported", "not reported"], range=["circle", "square"]),
                ),
                tooltip=tooltip,
            )
        )
        diamonds = (
            base.transform_filter("datum.kind == 'pooled'")
            .mark_point(shape="diamond", size=220, filled=True, color="#000")
            .encode(x=alt.X("effect:Q", title=x_title), tooltip=tooltip)
        )
        panels.append(
            alt.layer(rule, error_bars, points, diamonds).properties(
                title=str(panel), width=420, height=max(40, 22 * len(rows))
            )
        )
    chart = (
        alt.vconcat(*panels)
        .resolve_scale(x="independent", color="shared", shape="shared")
        .properties(
            title=title or f"Reported effects ({n_shown} of {n_total} estimates shown, strongest evidence first)"
        )
    )
    return _finish(
        chart, "Forest plot of reported effect estimates with confidence intervals, one panel per effect measure."
    )


# --------------------------------------------------------------------------------- evidence ladder
def build_evidence_ladder(view: pd.DataFrame, title: str | None = None) -> alt.Chart:
    """Studies placed on the evidence ladder (level 1 at the top), by publication year."""
    ladder = evidence.build_study_ladder(view)
    if ladder.empty:
        return _empty("No studies match this selection.")
    ladder["level_label"] = ladder["evidence_level"].map(_level_label)
    y = alt.Y("level_label:N", title=None, sort=_ordered(ladder, "level_label", "evidence_level"))
    if len(ladder) > LADDER_MAX_POINTS:
        counts = (
            ladder.groupby(["evidence_level", "level_label", "year"], observed=True)
            .agg(n_studies=("study_id", "size"), examples=("short_cite", lambda s: "; ".join(s.head(5))))
            .reset_index()
        )
        marks = (
            alt.Chart(counts)
            .mark_circle(color="#0072B2", opacity=0.7)
            .encode(
                x=alt.X("year:O", title="Year"),
                y=y,
                size=alt.Size("n_studies:Q", title="Studies"),
                tooltip=["level_label:N", "year:O", "n_studies:Q", alt.Tooltip("examples:N", title="e.g.")],
            )
        )
    else:
        marks = (
            alt.Chart(ladder)
            .mark_point(filled=True, size=90, opacity=0.85)
            .encode(
                x=alt.X("year:Q", title="Publication year", scale=alt.Scale(zero=False), axis=alt.Axis(format="d")),
                y=y,
                color=_verification_colour(),
                shape=alt.Shape(
                    "verification_status:N",
                    title="Verification",
                    scale=alt.Scale(domain=list(VERIFICATION_COLOURS), range=["circle", "square", "triangle-up"]),
                ),
                tooltip=[
                    alt.Tooltip("short_cite:N", title="Study"),
                    alt.Tooltip("identifier:N", title="PMID/DOI"),
                    alt.Tooltip("evidence_label:N", title="Evidence"),
                    alt.Tooltip("design_code:N", title="Design"),
                    alt.Tooltip("species_code:N", title="Species"),
                    alt.Tooltip("verification_status:N", title="Verification"),
                ],
            )
        )
    chart = marks.properties(title=title or f"Evidence ladder: {len(ladder)} studies", width=480, height=230)
    return _finish(chart, "Evidence ladder: each study placed at its evidence level, by publication year.")


# ----------------------------------------------------------------------------------- claims board
def claims_table(package, view: pd.DataFrame | None = None) -> pd.DataFrame:
    """Claims with their verdicts and the evidence linked to them (counts, strongest level, sources)."""
    view = view if view is not None else evidence.build_evidence_view(package)
    links = package.claim_evidence.merge(
        evidence.build_study_ladder(package.studies)[["study_id", "short_cite", "identifier", "evidence_level"]],
        on="study_id",
        how="left",
    )
    grouped = links.groupby("claim_id")
    summary = pd.DataFrame(
        {
            "n_studies": grouped["study_id"].nunique(),
            "n_supporting": grouped["relation"].agg(lambda s: int((s == "supports").sum())),
            "n_contradicting": grouped["relation"].agg(lambda s: int((s == "contradicts").sum())),
            "best_level": grouped["evidence_level"].min(),
            "sources": grouped.apply(
                lambda g: "; ".join(
                    dict.fromkeys(f"{c} ({i})" for c, i in zip(g["short_cite"], g["identifier"], strict=True))
                ),
                include_groups=False,
            ),
        }
    ).reset_index()
    table = package.claims.merge(summary, on="claim_id", how="left").merge(
        package.articles[["article_id", "title"]].rename(columns={"title": "article_title"}), on="article_id"
    )
    table["best_level"] = table["best_level"].astype("Int64")
    for column in ("n_studies", "n_supporting", "n_contradicting"):
        table[column] = table[column].fillna(0).astype("int64")
    table["best_level_label"] = table["best_level"].map(_level_label)
    table["verdict_label"] = table["verdict"].str.replace("_", " ")
    table["certainty_label"] = table["certainty"].str.replace("_", " ")
    table["claim_short"] = table["claim"].where(table["claim"].str.len() <= 90, table["claim"].str.slice(0, 87) + "...")
    return table.sort_values("claim_id").reset_index(drop=True)


def build_claims_board(table: pd.DataFrame, title: str | None = None) -> alt.Chart:
    """One row per claim: verdict (colour and text), certainty, and how much evidence is linked."""
    if table.empty:
        return _empty("No claims match this selection.")
    tooltip = [
        alt.Tooltip("claim:N", title="Claim"),
        alt.Tooltip("article_title:N", title="Article"),
        alt.Tooltip("verdict_label:N", title="Verdict"),
        alt.Tooltip("certainty_label:N", title="Certainty"),
        alt.Tooltip("rationale:N", title="Why"),
        alt.Tooltip("best_level_label:N", title="Best evidence"),
        alt.Tooltip("sources:N", title="Studies (PMID/DOI)"),
    ]
    base = alt.Chart(table).encode(
        y=alt.Y(
            "claim_short:N", title=None, sort=_ordered(table, "claim_short", "claim_id"), axis=alt.Axis(labelLimit=520)
        )
    )
    verdict = base.mark_square(size=180).encode(
        x=alt.X(
            "verdict:N",
            title="Verdict",
            scale=alt.Scale(domain=list(VERDICT_COLOURS)),
            axis=alt.Axis(labelAngle=0, labelExpr="replace(datum.label, '_', ' ')", orient="top"),
        ),
        color=alt.Color(
            "verdict:N",
            scale=alt.Scale(domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values())),
            legend=None,
        ),
        tooltip=tooltip,
    )
    unlabelled = alt.Chart(table).encode(
        y=alt.Y("claim_short:N", sort=_ordered(table, "claim_short", "claim_id"), axis=None)
    )
    certainty = (
        unlabelled.mark_text(align="left", fontSize=11)
        .encode(x=alt.value(0), text="certainty_label:N", tooltip=tooltip)
        .properties(width=70, height=22 * len(table), title=alt.TitleParams("Certainty", fontSize=11))
    )
    evidence_count = (
        unlabelled.mark_text(align="left", fontSize=11)
        .encode(x=alt.value(0), text=alt.Text("n_studies:Q", format="d"), tooltip=tooltip)
        .properties(width=50, height=22 * len(table), title=alt.TitleParams("Studies", fontSize=11))
    )
    chart = alt.hconcat(
        verdict.properties(width=420, height=22 * len(table)), certainty, evidence_count, spacing=6
    ).properties(title=title or f"Claims versus evidence ({len(table)} claims)")
    return _finish(chart, "Claims board: each claim with its verdict, certainty and the number of linked studies.")


def verdict_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Claims counted by verdict (rows) and article (columns), with totals."""
    verdicts = list(VERDICT_COLOURS)
    counts = pd.crosstab(table["verdict"], table["article_id"], margins=True, margins_name="total")
    order = [v for v in verdicts if v in counts.index] + ["total"]
    return counts.reindex(order).rename(index=lambda v: v.replace("_", " "))
