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

import functools

import altair as alt
import numpy as np
import pandas as pd

from helpers import evidence, synthesis

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
#: Width of a forest panel and of the per-outcome bars, in pixels (phones scale the whole chart down).
FOREST_WIDTH = 440
#: The evidence ladder draws one mark per study up to this many studies, then aggregates.
LADDER_MAX_POINTS = 300


#: The house style, built once: set on each chart in place (``configure_*`` would deep-copy the whole chart).
HOUSE_CONFIG = alt.Config(
    font=FONT,
    axis=alt.AxisConfig(labelFontSize=11, titleFontSize=12, labelLimit=260),
    legend=alt.LegendConfig(labelFontSize=11, titleFontSize=12),
    title=alt.TitleConfig(fontSize=15, anchor="start"),
    view=alt.ViewConfig(strokeWidth=0),
)


def _finish(chart: alt.TopLevelMixin, description: str) -> alt.TopLevelMixin:
    """Apply the house style and an accessible description (read by screen readers), in place."""
    chart.description = description
    chart.config = HOUSE_CONFIG
    return chart


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


# -------------------------------------------------------------------------------- shared meaning
#: Effect on health (helpers.synthesis): colour-blind-safe, and always named in words in tooltips and tables.
EFFECT_COLOURS = {
    "benefit": "#009E73",
    "harm": "#D55E00",
    "mixed": "#CC79A7",
    "no_effect": "#7F7F7F",
    "unclear": "#BFBFBF",
}
EFFECT_LABELS = {"benefit": "benefit", "harm": "harm", "mixed": "mixed", "no_effect": "no effect", "unclear": "unclear"}
CERTAINTY_LABELS = {"high": "high", "moderate": "moderate", "low": "low", "very_low": "very low"}
CERTAINTY_OPACITY = {"high": 1.0, "moderate": 0.78, "low": 0.52, "very_low": 0.28}


def _effect_colour(field: str = "health_effect", title: str = "Effect on health") -> alt.Color:
    return alt.Color(
        f"{field}:N",
        title=title,
        scale=alt.Scale(domain=list(EFFECT_COLOURS), range=list(EFFECT_COLOURS.values())),
        legend=alt.Legend(labelExpr=_label_expr(EFFECT_LABELS)),
    )


def _outcome_order(table: pd.DataFrame, label: str = "outcome_label") -> list[str]:
    """Outcome labels in their intended order: by kind (cytokines first, as MARKER_CLASS_ORDER), then by name."""
    rank = {c: i for i, c in enumerate(MARKER_CLASS_ORDER)}
    ordered = table.assign(_rank=table["marker_class"].astype(str).map(rank).fillna(len(rank)))
    return ordered.sort_values(["_rank", label])[label].astype(str).drop_duplicates().tolist()


def summary_table(view: pd.DataFrame, overrides: pd.DataFrame | None = None) -> pd.DataFrame:
    """The Summary of Findings of ``view`` (helpers.synthesis), most certain first: the charts' text alternative."""
    sof = synthesis.summary_of_findings(view, overrides)
    order = {c: i for i, c in enumerate(reversed(synthesis.CERTAINTY))}
    return (
        sof.assign(_c=sof["certainty"].map(order))
        .sort_values(["_c", "intervention_label", "outcome_label"])
        .drop(columns="_c")
    )


def certainty_overview(sof: pd.DataFrame) -> pd.DataFrame:
    """Summary-of-Findings cells counted by certainty (rows, most certain first) and effect on health (columns)."""
    table = pd.crosstab(
        pd.Categorical(sof["certainty"], categories=list(reversed(synthesis.CERTAINTY))),
        pd.Categorical(sof["health_effect"], categories=list(EFFECT_COLOURS)),
        margins=True,
        margins_name="total",
        dropna=False,
    )
    table.index = [CERTAINTY_LABELS.get(i, i) for i in table.index]
    table.columns = [f"effect on health: {EFFECT_LABELS.get(c, c)}" if c != "total" else c for c in table.columns]
    return table.rename_axis("certainty").reset_index()


# ------------------------------------------------------------------------------------ evidence map
def evidence_map_table(view: pd.DataFrame, sof: pd.DataFrame | None = None) -> pd.DataFrame:
    """One mark per intervention × outcome: the most certain of its Summary-of-Findings cells (human first).

    The other cells of the pair (other timeframes, animal evidence) are named in ``other_cells``.
    """
    sof = synthesis.summary_of_findings(view) if sof is None else sof
    if sof.empty:
        return sof
    rank = {c: i for i, c in enumerate(synthesis.CERTAINTY)}
    ranked = sof.assign(
        _human=sof["species_group"].astype(str) == "human",
        _certainty=sof["certainty"].map(rank),
    ).sort_values(["_human", "_certainty", "k", "n_studies"], ascending=False, kind="stable")
    pair = ["intervention_code", "outcome_code"]
    text = (
        ranked["timeframe_group"].astype(str)
        + ", "
        + ranked["species_group"].astype(str)
        + ": "
        + ranked["health_effect"].astype(str).map(EFFECT_LABELS)
        + ", "
        + ranked["certainty"].astype(str).map(CERTAINTY_LABELS)
    )
    rest = ranked.duplicated(pair)  # every cell but the one shown, in rank order
    others = text[rest].groupby([ranked.loc[rest, c] for c in pair], observed=True).agg("; ".join)
    table = ranked.drop_duplicates(pair).merge(others.rename("other_cells").reset_index(), on=pair, how="left")
    table["other_cells"] = table["other_cells"].fillna("")
    table["certainty_label"] = table["certainty"].map(CERTAINTY_LABELS)
    table["effect_label"] = table["health_effect"].map(EFFECT_LABELS)
    table["opacity"] = table["certainty"].map(CERTAINTY_OPACITY)
    table["cell"] = table["timeframe_group"].astype(str) + ", " + table["species_group"].astype(str)
    return table.drop(columns=["_human", "_certainty"]).reset_index(drop=True)


def _intervention_categories(view: pd.DataFrame) -> pd.Series:
    return view.drop_duplicates("intervention_code").set_index("intervention_code")["intervention_category"].astype(str)


def build_evidence_map(view: pd.DataFrame, title: str | None = None, sof: pd.DataFrame | None = None) -> alt.Chart:
    """Interventions × outcomes: colour = effect on health, opacity = GRADE certainty, size = studies."""
    table = evidence_map_table(view, sof)
    if table.empty:
        return _empty("No findings match this selection.")
    tooltip = [
        alt.Tooltip("intervention_label:N", title="Intervention"),
        alt.Tooltip("outcome_label:N", title="Outcome"),
        alt.Tooltip("cell:N", title="Cell shown"),
        alt.Tooltip("effect_label:N", title="Effect on health"),
        alt.Tooltip("certainty_label:N", title="Certainty (GRADE)"),
        alt.Tooltip("statement:N", title="In words"),
        alt.Tooltip("effect_text:N", title="Effect"),
        alt.Tooltip("n_studies:Q", title="Studies"),
        alt.Tooltip("n_participants:Q", title="Participants (counted once)", format=",.0f"),
        alt.Tooltip("studies:N", title="Evidence used"),
        alt.Tooltip("other_cells:N", title="Other cells"),
    ]
    outcomes = _outcome_order(table)
    category = {"exercise": 0, "nutrition": 1, "hydrogen": 2, "experimental": 3, "exposure": 4}
    by_category = table.assign(
        _c=table["intervention_code"].astype(str).map(_intervention_categories(view)).map(category)
    )
    interventions = by_category.sort_values(["_c", "intervention_label"])["intervention_label"].drop_duplicates()
    data = _encoded_only(
        table, tooltip, ["outcome_label", "intervention_label", "n_studies", "health_effect", "opacity", "certainty"]
    )
    points = (
        alt.Chart(data)
        .mark_circle(stroke="#333", strokeWidth=0.6)
        .encode(
            # Interventions across (fewer, angled labels), outcomes down (many, readable horizontal labels).
            x=alt.X(
                "intervention_label:N",
                title="Intervention (exercise, nutrition, hydrogen, experimental, exposures)",
                sort=interventions.tolist(),
                axis=alt.Axis(labelAngle=-50, labelLimit=200, orient="top"),
            ),
            y=alt.Y(
                "outcome_label:N",
                title="Outcome (by kind: cytokines first)",
                sort=outcomes,
                axis=alt.Axis(labelLimit=220),
            ),
            size=alt.Size("n_studies:Q", title="Studies", scale=alt.Scale(range=[50, 600])),
            color=_effect_colour(),
            opacity=alt.Opacity(
                "certainty:N",
                title="Certainty",
                scale=alt.Scale(domain=list(CERTAINTY_OPACITY), range=list(CERTAINTY_OPACITY.values())),
                legend=alt.Legend(labelExpr=_label_expr(CERTAINTY_LABELS)),
            ),
            tooltip=tooltip,
        )
    )
    chart = points.properties(
        title=title
        or f"Evidence map: {len(table)} intervention × outcome pairs from {view['study_id'].nunique()} studies",
        width=alt.Step(22),
        height=alt.Step(16),
    )
    return _finish(
        chart,
        "Evidence map: interventions by outcomes; colour is the effect on health (benefit, harm, no effect, mixed, "
        "unclear), opacity the GRADE certainty, circle size the number of studies. The Summary of Findings table "
        "gives the same in words.",
    )


def _label_expr(labels: dict[str, str]) -> str:
    cases = " : ".join(f"datum.label == '{k}' ? '{v}'" for k, v in labels.items())
    return f"{cases} : datum.label"


# ------------------------------------------------------------------------ effects per outcome
def effects_by_outcome_table(view: pd.DataFrame) -> pd.DataFrame:
    """Studies per outcome and effect on health (each study's first finding per outcome): counted within an
    outcome, never across outcomes."""
    columns = ["outcome_label", "marker_class", "health_effect", "n_studies", "sources"]
    if view.empty:
        return pd.DataFrame(columns=columns)
    per_study = view.sort_values(["evidence_level", "finding_id"]).drop_duplicates(["outcome_code", "study_id"])
    by = ["outcome_code", "health_effect"]
    counts = per_study.groupby(by, observed=True).agg(
        n_studies=("study_id", "nunique"),
        outcome_label=("outcome_label", "first"),
        marker_class=("marker_class", "first"),
    )
    table = counts.reset_index().merge(evidence.summarise_provenance(per_study, by), on=by)
    table["effect_label"] = table["health_effect"].astype(str).map(EFFECT_LABELS)
    table["effect_order"] = table["health_effect"].astype(str).map({e: i for i, e in enumerate(EFFECT_COLOURS)})
    return table


def build_direction_plot(view: pd.DataFrame, title: str | None = None) -> alt.Chart:
    """Per outcome: how many studies found a benefit, a harm, no effect or an unclear result (never summed across
    outcomes: a fall in CRP and a fall in strength are not the same kind of result)."""
    table = effects_by_outcome_table(view)
    if table.empty:
        return _empty("No findings match this selection.")
    bars = (
        alt.Chart(table)
        .mark_bar()
        .encode(
            y=alt.Y("outcome_label:N", title=None, sort=_outcome_order(table), axis=alt.Axis(labelLimit=220)),
            x=alt.X(
                "n_studies:Q", title="Studies (one per study and outcome)", stack="zero", axis=alt.Axis(tickMinStep=1)
            ),
            color=_effect_colour(),
            order=alt.Order("effect_order:Q"),
            tooltip=[
                alt.Tooltip("outcome_label:N", title="Outcome"),
                alt.Tooltip("effect_label:N", title="Effect on health"),
                alt.Tooltip("n_studies:Q", title="Studies"),
                *_provenance_tooltip(),
            ],
        )
    )
    chart = bars.properties(title=title or "Effect on health, per outcome", width=FOREST_WIDTH, height=alt.Step(16))
    return _finish(
        chart,
        "Stacked bars per outcome: the number of studies whose finding was a benefit, a harm, no effect or unclear. "
        "Outcomes are never added together.",
    )


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
    "eta_squared": "Eta squared",
    "fold_change": "Fold change (log)",
    "or": "Odds ratio (log)",
    "rr": "Risk ratio (log)",
    "hr": "Hazard ratio (log)",
}


def _favours(favourable: str) -> tuple[str, str]:
    """Axis end labels: which side favours the intervention, following the outcome's favourable direction."""
    if favourable == "decrease":
        return "← favours intervention", "favours comparator →"
    if favourable == "increase":
        return "← favours comparator", "favours intervention →"
    return "← lower with intervention", "higher with intervention →"


def forest_table(
    view: pd.DataFrame, max_rows: int = FOREST_MAX_ROWS, pooled: bool = True, sof: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Rows of the forest plot: each estimate on a common scale, grouped by outcome (and scale), plus pooled rows.

    Estimates come from :func:`helpers.synthesis.effect_sizes` (computed SMDs included); a pooled row is added for
    every cell whose Summary of Findings pools independent primary studies (never reviews with their trials).
    Each row also carries its panel's "favours" labels (from the outcome's favourable direction) and a symmetric
    x range around zero (``edge_low``/``edge_high``).
    """
    columns = [
        "panel", "outcome_label", "favourable_direction", "row_label", "kind", "effect", "ci_low", "ci_high",
        "pi_low", "pi_high", "effect_text", "short_cite", "intervention_label", "identifier", "outcome_detail",
        "evidence_label", "evidence_level", "source_location", "verification_status", "effect_label", "es_origin",
        "es_method", "order", "stats_text", "link", "health_effect",
    ]  # fmt: skip
    shown = view[view["es_value"].notna()].copy()
    has_scale = shown["es_scale"].astype(str) != ""
    other = view[view["es_value"].isna() & view["effect_standardised"].notna()].copy()
    if shown.empty and other.empty:
        return pd.DataFrame(columns=columns)
    other["es_scale"] = other["effect_measure"].astype(str).map(MEASURE_LABELS)
    other["es_value"] = other["effect_standardised"]
    other["es_ci_low"], other["es_ci_high"] = other["ci_low_standardised"], other["ci_high_standardised"]
    shown.loc[~has_scale, "es_scale"] = shown.loc[~has_scale, "effect_measure"].astype(str).map(MEASURE_LABELS)
    frame = pd.concat([shown, other])
    frame = frame.sort_values(["evidence_level", "outcome_label", "year", "finding_id"]).head(max_rows).copy()
    frame["panel"] = frame["outcome_label"].astype(str) + " — " + frame["es_scale"].astype(str)
    detail = frame["outcome_detail"].astype("object").fillna("").astype(str).str.slice(0, 40)
    subgroup = frame["subgroup"].astype("object").fillna("").astype(str)
    frame["row_label"] = (
        frame["intervention_label"].astype(str)
        + " · "
        + frame["short_cite"].astype(str)
        + np.where(subgroup != "", " [" + subgroup.str.slice(0, 28) + "]", "")
        + np.where(detail != "", " · " + detail, "")
        + " #"
        + frame["finding_id"].astype(str).str.extract(r"_f(\d+)$")[0]
    )
    frame["kind"] = "reported"
    frame["effect"], frame["ci_low"], frame["ci_high"] = frame["es_value"], frame["es_ci_low"], frame["es_ci_high"]
    frame["pi_low"] = frame["pi_high"] = np.nan
    frame["effect_text"] = [
        (f"{v:.2f} ({lo:.2f} to {hi:.2f})" if pd.notna(lo) else f"{v:.2f}") + f" {scale}"
        for v, lo, hi, scale in zip(
            frame["es_value"], frame["es_ci_low"], frame["es_ci_high"], frame["es_scale"], strict=True
        )
    ]
    frame["effect_label"] = frame["health_effect"].astype(str).map(EFFECT_LABELS)
    frame["stats_text"] = frame["es_method"].astype("object").fillna("")
    frame["link"] = [_study_link(p, d, u) for p, d, u in zip(frame["pmid"], frame["doi"], frame["url"], strict=True)]
    frame["order"] = np.arange(len(frame), dtype=float)
    rows = [frame]
    if pooled and len(shown):
        rows.append(_pooled_rows(view, frame, sof))
    table = pd.concat(rows, ignore_index=True).reindex(columns=columns)
    sides = table["favourable_direction"].astype(str).map(_favours)
    table["favours_left"], table["favours_right"] = sides.str[0], sides.str[1]
    table["panel_first"] = ~table["panel"].duplicated()  # the row that carries the panel's "favours" labels
    spread = table[["effect", "ci_low", "ci_high", "pi_low", "pi_high"]].abs().max(axis=1)
    edge = spread.groupby(table["panel"], sort=False).transform("max").fillna(1.0) * 1.05
    table["edge_low"], table["edge_high"] = -edge, edge  # a symmetric x range around zero in every panel
    table["has_ci"] = table["ci_low"].notna()
    return table


def _study_link(pmid: object, doi: object, url: object) -> str:
    from helpers import render

    return render.doi_url(doi) or render.pubmed_url(pmid) or render.safe_url(url) or ""


def _pooled_rows(view: pd.DataFrame, shown: pd.DataFrame, sof: pd.DataFrame | None) -> pd.DataFrame:
    sof = synthesis.summary_of_findings(view) if sof is None else sof
    pooled = sof[sof["basis"] == "primary pooled"].reset_index(drop=True)
    # Each pooled cell's findings among the rows shown, in one merge (a filter per cell took seconds at 100k):
    # the cell's panel is that of its first row shown, and its diamond goes under its last.
    used = pooled["finding_ids"].str.split().explode().dropna().rename("finding_id").rename_axis("cell").reset_index()
    members = shown[["finding_id", "panel", "order"]].reset_index(drop=True).merge(used, on="finding_id")
    placed = members.groupby("cell", sort=False).agg(panel=("panel", "first"), order=("order", "max"))
    rows = []
    for cell in pooled.itertuples():
        if cell.Index not in placed.index:
            continue
        stats_text = f"k = {cell.k}, I² = {cell.i2:.0f} %, τ² = {cell.tau2:.3f}"
        pi = f"; prediction interval {cell.pi_low:.2f} to {cell.pi_high:.2f}" if pd.notna(cell.pi_low) else ""
        rows.append(
            {
                "panel": placed.at[cell.Index, "panel"],
                "outcome_label": cell.outcome_label,
                "favourable_direction": cell.favourable_direction,
                "row_label": f"Pooled ({cell.intervention_label}, {cell.timeframe_group}): {stats_text}",
                "kind": "pooled",
                "effect": cell.estimate,
                "ci_low": cell.ci_low,
                "ci_high": cell.ci_high,
                "pi_low": cell.pi_low,
                "pi_high": cell.pi_high,
                "effect_text": f"{cell.estimate:.2f} ({cell.ci_low:.2f} to {cell.ci_high:.2f}){pi}",
                "short_cite": "REML + Hartung-Knapp-Sidik-Jonkman pool of " + cell.studies,
                "intervention_label": cell.intervention_label,
                "identifier": "computed by helpers.synthesis",
                "evidence_label": f"certainty: {CERTAINTY_LABELS[cell.certainty]}",
                "source_location": "computed",
                "verification_status": "computed",
                "effect_label": EFFECT_LABELS.get(cell.health_effect, cell.health_effect),
                "health_effect": cell.health_effect,
                "stats_text": stats_text,
                "link": "",
                "order": placed.at[cell.Index, "order"] + 0.5,
            }
        )
    return pd.DataFrame(rows)


def build_forest_plot(
    view: pd.DataFrame,
    max_rows: int = FOREST_MAX_ROWS,
    pooled: bool = True,
    title: str | None = None,
    sof: pd.DataFrame | None = None,
) -> alt.VConcatChart | alt.Chart:
    """Estimates with 95 % CIs, one panel per outcome (and scale); each row names intervention and study.

    Axis ends say which side favours the intervention, following the outcome's favourable direction. A pooled
    diamond (REML, Hartung-Knapp-Sidik-Jonkman CI) with its prediction interval (thin line) appears where
    independent primary studies are pooled; k, I² and τ² are printed in its row. Colour = effect on health.
    """
    table = forest_table(view, max_rows=max_rows, pooled=pooled, sof=sof)
    if table.empty:
        return _empty("No effect estimates in this selection.")
    n_total = int(
        view["es_value"].notna().sum() + (view["es_value"].isna() & view["effect_standardised"].notna()).sum()
    )
    n_shown = int((table["kind"] == "reported").sum())
    chart = _forest_skeleton().copy(deep=False)  # the top level only: data and title are this view's
    chart.data = table
    chart.title = title or f"Effects on a common scale ({n_shown} of {n_total} estimates, strongest evidence first)"
    return chart


_NO_ROWS = alt.InlineData(values=[])  # a facet needs data at build time; each chart sets its own


@functools.cache
def _forest_skeleton() -> alt.FacetChart:
    """The forest plot without its data and title, built once per process.

    Building the layered, faceted Altair objects costs ~45 ms (Altair deep-copies its spec objects at every step);
    nothing in them depends on the data, so a redraw copies the top level and sets data and title. Nobody mutates
    the shared parts: the chart is only serialised.
    """
    tooltip = [
        alt.Tooltip("intervention_label:N", title="Intervention"),
        alt.Tooltip("short_cite:N", title="Study"),
        alt.Tooltip("identifier:N", title="PMID/DOI"),
        alt.Tooltip("outcome_detail:N", title="Measured"),
        alt.Tooltip("effect_text:N", title="Effect (95 % CI)"),
        alt.Tooltip("effect_label:N", title="Effect on health"),
        alt.Tooltip("stats_text:N", title="How obtained"),
        alt.Tooltip("evidence_label:N", title="Evidence"),
        alt.Tooltip("source_location:N", title="Read in"),
        alt.Tooltip("verification_status:N", title="Verification"),
    ]
    # One faceted layer chart for all panels (not one chart per panel): Altair's cost grows with the number of
    # chart objects, and this keeps a redraw in tens of milliseconds however many outcomes are in view.
    x_scale = alt.Scale(nice=False, zero=True)
    y = alt.Y("row_label:N", title=None, sort=alt.EncodingSortField("order", op="min"), axis=alt.Axis(labelLimit=420))
    base = alt.Chart().encode(y=y)
    frame = base.mark_rule(opacity=0).encode(x=alt.X("edge_low:Q", scale=x_scale, title=None), x2="edge_high:Q")
    favoured = alt.Chart().transform_filter("datum.panel_first").mark_text(fontSize=11, color="#444", dy=-9)
    favours_left = favoured.encode(x="edge_low:Q", y=alt.value(0), text="favours_left:N").mark_text(align="left")
    favours_right = favoured.encode(x="edge_high:Q", y=alt.value(0), text="favours_right:N").mark_text(align="right")
    zero = alt.Chart().mark_rule(color="#666", strokeDash=[4, 3]).encode(x=alt.datum(0))  # spans the panel
    prediction = (
        base.transform_filter("datum.kind == 'pooled' && isValid(datum.pi_low)")
        .mark_rule(strokeWidth=1, color="#000", strokeDash=[2, 2])
        .encode(x="pi_low:Q", x2="pi_high:Q")
    )
    error_bars = (
        base.transform_filter("datum.has_ci")
        .mark_rule(strokeWidth=1.6, color="#333")
        .encode(x="ci_low:Q", x2="ci_high:Q", tooltip=tooltip)
    )
    points = (
        base.transform_filter("datum.kind == 'reported'")
        .mark_point(filled=True, size=80, stroke="#333", strokeWidth=0.5)
        .encode(x="effect:Q", color=_effect_colour(), href="link:N", tooltip=tooltip)
    )
    diamonds = (
        base.transform_filter("datum.kind == 'pooled'")
        .mark_point(shape="diamond", size=260, filled=True, color="#000")
        .encode(x="effect:Q", tooltip=tooltip)
    )
    header = alt.Header(
        title=None, labelAngle=0, labelOrient="top", labelAnchor="start", labelAlign="left", labelFontSize=13,
        labelFontWeight="bold", labelLimit=0, labelPadding=16,
    )  # fmt: skip
    chart = (
        alt.layer(frame, zero, favours_left, favours_right, prediction, error_bars, points, diamonds, data=_NO_ROWS)
        .properties(width=FOREST_WIDTH, height=alt.Step(22))
        .facet(row=alt.Row("panel:N", header=header, sort=alt.EncodingSortField("order", op="min")), spacing=18)
        .resolve_scale(x="independent", y="independent")
        .resolve_axis(x="independent", y="independent")
    )
    return _finish(
        chart,
        "Forest plot: estimates with 95 % confidence intervals, one panel per outcome; each row names the intervention "
        "and the study; a black diamond is a pooled estimate with its prediction interval (dashed).",
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
def claim_cells(package, view: pd.DataFrame, sof: pd.DataFrame | None = None) -> pd.DataFrame:
    """For each claim, the Summary-of-Findings cells that its linked findings fall in (one row per claim × cell)."""
    sof = synthesis.summary_of_findings(view, package.certainty_overrides) if sof is None else sof
    keys = synthesis.ROW_KEYS
    linked = package.claim_evidence.dropna(subset=["finding_id"])[["claim_id", "finding_id", "relation"]]
    located = linked.merge(view[["finding_id", *keys]].astype({k: "str" for k in keys}), on="finding_id")
    cells = located.drop_duplicates(["claim_id", *keys])
    return cells.merge(sof.astype({k: "str" for k in keys}), on=keys)[
        ["claim_id", *keys, "intervention_label", "outcome_label", "health_effect", "certainty", "statement"]
    ]


def claims_table(package, view: pd.DataFrame | None = None, sof: pd.DataFrame | None = None) -> pd.DataFrame:
    """Claims with their verdicts, the evidence linked to them (counts, strongest level, sources) and the
    Summary-of-Findings cells that bear on them (``cells``: each cell's statement and certainty)."""
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
    cells = claim_cells(package, view, sof)
    rank = {c: i for i, c in enumerate(synthesis.CERTAINTY)}
    cells = cells.assign(_rank=cells["certainty"].map(rank)).sort_values(["claim_id", "_rank"], ascending=[True, False])
    listed = cells.groupby("claim_id").apply(
        lambda g: (
            " | ".join(f"{r.statement} [{CERTAINTY_LABELS[r.certainty]}]" for r in g.head(4).itertuples())
            + (f" | +{len(g) - 4} more cells" if len(g) > 4 else "")
        ),
        include_groups=False,
    )
    best = cells.groupby("claim_id")["certainty"].first()
    table["n_cells"] = table["claim_id"].map(cells.groupby("claim_id").size()).fillna(0).astype("int64")
    table["cells"] = table["claim_id"].map(listed).fillna("")
    table["best_cell_certainty"] = table["claim_id"].map(best).map(CERTAINTY_LABELS).fillna("")
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
        alt.Tooltip("cells:N", title="Cells bearing on it (GRADE)"),
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
    cell_count = (
        unlabelled.mark_text(align="left", fontSize=11)
        .encode(x=alt.value(0), text="best_cell_certainty:N", tooltip=tooltip)
        .properties(width=110, height=22 * len(table), title=alt.TitleParams("Best cell (GRADE)", fontSize=11))
    )
    chart = alt.hconcat(
        verdict.properties(width=420, height=22 * len(table)), certainty, evidence_count, cell_count, spacing=6
    ).properties(title=title or f"Claims versus evidence ({len(table)} claims)")
    return _finish(chart, "Claims board: each claim with its verdict, certainty and the number of linked studies.")


def verdict_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Claims counted by verdict (rows) and article (columns), with totals."""
    verdicts = list(VERDICT_COLOURS)
    counts = pd.crosstab(table["verdict"], table["article_id"], margins=True, margins_name="total")
    order = [v for v in verdicts if v in counts.index] + ["total"]
    return counts.reindex(order).rename(index=lambda v: v.replace("_", " "))
