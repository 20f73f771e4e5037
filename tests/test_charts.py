"""Chart specs, tested through to_dict(): encodings, tooltips with provenance, row counts."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import pytest

from helpers import charts, evidence

PROVENANCE = {"Studies (PMID/DOI)", "Read in", "Verification"}


@pytest.fixture(scope="module")
def view(package):
    return evidence.build_evidence_view(package)


def datasets(spec: dict) -> dict[str, list[dict]]:
    return spec.get("datasets", {})


def values_of(spec: dict, sub: dict | None = None) -> list[dict]:
    """Rows of the (sub)chart's inline data."""
    holder = sub if sub is not None and "data" in sub else spec  # shared data is hoisted to the top
    name = holder["data"]["name"]
    return datasets(spec)[name]


def tooltip_titles(encoding: dict) -> set[str]:
    return {t.get("title", t.get("field")) for t in encoding.get("tooltip", [])}


def all_units(spec: dict):
    """Every unit (single-view) chart inside a layered/concatenated spec."""
    if "mark" in spec:
        yield spec
    for key in ("layer", "vconcat", "hconcat", "concat"):
        for child in spec.get(key, []):
            yield from all_units(child)


def test_evidence_map_colours_by_effect_on_health_and_shows_certainty(view):
    sof = evidence.summary_of_findings(view)
    spec = charts.build_evidence_map(view, sof=sof).to_dict()
    rows = values_of(spec)
    assert len(rows) == len(view[["intervention_code", "outcome_code"]].drop_duplicates())
    enc = spec["encoding"]
    assert (enc["x"]["field"], enc["y"]["field"], enc["color"]["field"], enc["opacity"]["field"]) == (
        "intervention_label",
        "outcome_label",
        "health_effect",
        "certainty",
    )
    assert enc["color"]["scale"]["domain"] == list(charts.EFFECT_COLOURS)
    assert {"Certainty (GRADE)", "In words", "Evidence used", "Effect on health"} <= tooltip_titles(enc)
    assert spec["description"].startswith("Evidence map")


def test_evidence_map_orders_outcomes_by_kind_cytokines_first(view):
    spec = charts.build_evidence_map(view).to_dict()
    order = spec["encoding"]["y"]["sort"]
    kinds = view.drop_duplicates("outcome_label").set_index("outcome_label")["marker_class"].astype(str)
    ranks = [charts.MARKER_CLASS_ORDER.index(kinds[o]) for o in order]
    assert ranks == sorted(ranks), "outcome kinds in their intended order"
    assert kinds[order[0]] == "pro_inflammatory_cytokine"
    assert order != sorted(order), "not alphabetical"


def test_evidence_map_shows_the_most_certain_human_cell(view):
    table = charts.evidence_map_table(view)
    row = table[(table["intervention_code"] == "tart_cherry") & (table["outcome_code"] == "crp")].iloc[0]
    assert (row["certainty"], row["species_group"]) == ("moderate", "human")


def test_effects_plot_counts_within_each_outcome_never_across(view):
    spec = charts.build_direction_plot(view).to_dict()
    rows = values_of(spec)
    per_study = view.drop_duplicates(["outcome_code", "study_id"])
    assert sum(r["n_studies"] for r in rows) == len(per_study)
    by_outcome = {}
    for r in rows:
        by_outcome[r["outcome_label"]] = by_outcome.get(r["outcome_label"], 0) + r["n_studies"]
    crp = view[view["outcome_code"] == "crp"]
    assert by_outcome[crp["outcome_label"].iloc[0]] == crp["study_id"].nunique()
    assert spec["encoding"]["y"]["field"] == "outcome_label" and spec["encoding"]["color"]["field"] == "health_effect"
    assert tooltip_titles(spec["encoding"]) >= PROVENANCE


def test_forest_plot_is_grouped_by_outcome_and_names_intervention_and_study(view):
    spec = charts.build_forest_plot(view, max_rows=500).to_dict()
    table = charts.forest_table(view, max_rows=500)
    assert spec["facet"]["row"]["field"] == "panel", "one panel per outcome and scale"
    assert spec["resolve"]["scale"] == {"x": "independent", "y": "independent"}
    panels = {row["panel"] for row in values_of(spec)}
    assert panels == set(table["panel"]) and len(panels) > 5
    reported = table[table["kind"] == "reported"]
    for panel, rows in reported.groupby("panel"):
        assert rows["outcome_label"].nunique() == 1, panel
    merged = reported.merge(view[["intervention_label", "short_cite"]].drop_duplicates(), how="left")
    assert all(r.intervention_label in r.row_label and r.short_cite in r.row_label for r in merged.itertuples())


def test_forest_plot_axis_says_which_side_favours_the_intervention(view):
    crp = view[(view["outcome_code"] == "crp") & view["es_value"].notna()]
    strength = view[(view["outcome_code"] == "strength") & view["es_value"].notna()]
    for selection, left, right in [
        (crp, "← favours intervention", "favours comparator →"),
        (strength, "← favours comparator", "favours intervention →"),
    ]:
        spec = charts.build_forest_plot(selection).to_dict()
        labelled = [r for r in values_of(spec) if r["panel_first"]]
        assert labelled and all((r["favours_left"], r["favours_right"]) == (left, right) for r in labelled)
        texts = [u for u in all_units(spec["spec"]) if u["mark"]["type"] == "text"]
        assert {u["encoding"]["text"]["field"] for u in texts} == {"favours_left", "favours_right"}
        assert all(u["encoding"]["x"]["field"] in ("edge_low", "edge_high") for u in texts), "at the panel's ends"
    table = charts.forest_table(crp)
    assert (table["edge_low"] == -table["edge_high"]).all(), "zero sits in the middle of every panel"
    assert (table["edge_high"] >= table[["effect", "ci_high"]].abs().max(axis=1)).all()


def test_forest_plot_tooltips_carry_provenance(view):
    spec = charts.build_forest_plot(view).to_dict()
    units = [u for u in all_units(spec["spec"]) if "tooltip" in u.get("encoding", {})]
    assert len(units) >= 3
    for unit in units:
        assert {"Study", "PMID/DOI", "Read in", "Verification", "How obtained"} <= tooltip_titles(unit["encoding"])


def test_forest_plot_caps_rows_and_says_so(view):
    spec = charts.build_forest_plot(view, max_rows=5).to_dict()
    assert spec["title"].startswith("Effects on a common scale (5 of ")
    table = charts.forest_table(view, max_rows=5)
    assert (table["kind"] == "reported").sum() == 5
    assert table["evidence_level"].dropna().is_monotonic_increasing


def test_forest_plot_pools_independent_primary_studies_only(view):
    base = view[view["finding_id"] == "beba2022_f03"]  # TNF-α WMD -0.22 (-0.33 to -0.10) pg/ml
    fake = pd.concat([base, base, base], ignore_index=True)
    fake["study_id"] = pd.Categorical(["primary_a", "primary_b", "primary_c"])
    fake["finding_id"] = ["primary_a_f01", "primary_b_f01", "primary_c_f01"]
    fake["short_cite"] = ["A 2020", "B 2021", "C 2022"]
    fake["is_review"] = False
    table = charts.forest_table(fake)
    pooled = table[table["kind"] == "pooled"]
    assert len(pooled) == 1
    assert pooled["effect"].iloc[0] == pytest.approx(-0.22, abs=1e-9)
    assert "k = 3" in pooled["row_label"].iloc[0] and "I² = 0 %" in pooled["row_label"].iloc[0]
    assert pooled["pi_low"].notna().iloc[0], "three studies: a prediction interval"
    real_reviews_only = charts.forest_table(view[(view["outcome_code"] == "tnf") & view["is_review"]])
    assert (real_reviews_only["kind"] == "pooled").sum() == 0, "reviews are never pooled"


def test_evidence_ladder_has_one_mark_per_study(view):
    spec = charts.build_evidence_ladder(view).to_dict()
    rows = values_of(spec)
    assert len(rows) == view["study_id"].nunique()
    assert {"Study", "PMID/DOI", "Verification"} <= tooltip_titles(spec["encoding"])


def test_claims_board_has_one_row_per_claim_with_verdict_colours(package, view):
    table = charts.claims_table(package, view)
    spec = charts.build_claims_board(table).to_dict()
    verdict = spec["hconcat"][0]
    assert len(values_of(spec, verdict)) == len(package.claims)
    assert verdict["encoding"]["color"]["scale"]["range"] == list(charts.VERDICT_COLOURS.values())
    assert {"Claim", "Why", "Studies (PMID/DOI)", "Cells bearing on it (GRADE)"} <= tooltip_titles(verdict["encoding"])
    links = package.claim_evidence.groupby("claim_id")["study_id"].nunique()
    by_id = table.set_index("claim_id")
    for claim_id, n in links.items():
        assert by_id.at[claim_id, "n_studies"] == n
    assert "probably reduces" in by_id.at["peloton_01", "cells"], "the cells bearing on a claim are named"


def test_charts_stay_under_altairs_row_limit_at_scale(view):
    """100 copies of the curated findings (21k rows): every chart aggregates first."""
    copies = []
    for i in range(100):
        copy = view.copy()
        copy["finding_id"] = copy["finding_id"].astype(str) + f"_{i}"
        copy["study_id"] = copy["study_id"].astype(str) + f"_{i}"
        copies.append(copy)
    big = pd.concat(copies, ignore_index=True)
    assert len(big) > 5000
    for chart in [
        charts.build_evidence_map(big),
        charts.build_direction_plot(big),
        charts.build_forest_plot(big),
        charts.build_evidence_ladder(big),
    ]:
        spec = chart.to_dict()  # would raise MaxRowsError if more than 5000 rows were embedded
        assert all(len(rows) <= charts.FOREST_MAX_ROWS * 10 + 2000 for rows in datasets(spec).values())


def test_specs_survive_a_json_round_trip(view):
    chart = charts.build_evidence_map(view)
    spec = chart.to_dict()
    assert json.loads(chart.to_json()) == spec
    assert alt.Chart.from_dict(spec).to_dict() == spec


def test_empty_selection_gives_a_message_not_an_error(view):
    empty = view.iloc[0:0]
    for build in [
        charts.build_evidence_map,
        charts.build_direction_plot,
        charts.build_forest_plot,
        charts.build_evidence_ladder,
    ]:
        spec = build(empty).to_dict()
        assert "No " in values_of(spec)[0]["message"]


def test_forest_plots_of_two_selections_keep_their_own_data_and_title(view):
    """The forest plot reuses one skeleton of Altair objects; each chart still owns its data and title."""
    omega3 = evidence.filter_findings(view, interventions="omega3")
    first = charts.build_forest_plot(omega3)
    before = first.to_dict()
    second = charts.build_forest_plot(view, title="Everything")
    assert first.to_dict() == before, "building another chart changed the first"
    assert second.to_dict()["title"] == "Everything" != before["title"]
    assert len(next(iter(datasets(second.to_dict()).values()))) > len(next(iter(datasets(before).values())))
    second.to_dict(validate=True)  # a valid Vega-Lite spec (raises otherwise)


def test_each_pooled_diamond_sits_in_its_own_panel_under_its_last_study(view):
    """Two cells, each of three primary studies: each diamond in its outcome's panel, right after its studies."""
    first = view[view["finding_id"] == "beba2022_f03"]
    other = view[view["es_value"].notna() & view["es_se"].notna() & (view["outcome_code"] != "tnf")].head(1)
    frames = []
    for base, prefix in [(first, "tnf"), (other, "other")]:
        fake = pd.concat([base] * 3, ignore_index=True)
        fake["finding_id"] = [f"{prefix}_{i}_f01" for i in range(3)]
        fake["study_id"] = [f"{prefix}_{i}" for i in range(3)]
        fake["short_cite"] = [f"{prefix.title()} {2020 + i}" for i in range(3)]
        fake["is_review"] = False
        frames.append(fake)
    fake = pd.concat(frames, ignore_index=True)
    fake["study_id"] = pd.Categorical(fake["study_id"])
    table = charts.forest_table(fake)
    pooled = table[table["kind"] == "pooled"]
    assert len(pooled) == 2 and pooled["panel"].nunique() == 2
    for _, diamond in pooled.iterrows():
        studies = table[(table["kind"] == "reported") & (table["panel"] == diamond["panel"])]
        assert len(studies) == 3, "the diamond is in the panel of its own three studies"
        assert diamond["order"] == studies["order"].max() + 0.5
