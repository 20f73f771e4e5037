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


def test_evidence_map_encodes_cells_and_names_sources(view):
    spec = charts.build_evidence_map(view).to_dict()
    rows = values_of(spec)
    expected_cells = view[["intervention_code", "outcome_code"]].drop_duplicates()
    assert len(rows) == len(expected_cells)
    assert sum(r["n_findings"] for r in rows) == len(view)
    enc = spec["encoding"]
    assert (enc["x"]["field"], enc["y"]["field"], enc["size"]["field"], enc["color"]["field"]) == (
        "outcome_label",
        "intervention_label",
        "n_findings",
        "main_direction",
    )
    assert tooltip_titles(enc) >= PROVENANCE
    assert all(
        r["sources"] and ("PMID" in r["sources"] or "DOI" in r["sources"] or "URL" in r["sources"]) for r in rows
    )
    assert spec["description"].startswith("Evidence map")


def test_evidence_map_colours_by_level_and_rejects_other_choices(view):
    spec = charts.build_evidence_map(view, colour_by="level").to_dict()
    assert spec["encoding"]["color"]["field"] == "best_level"
    with pytest.raises(ValueError, match="colour_by"):
        charts.build_evidence_map(view, colour_by="rainbow")


def test_direction_plot_counts_every_finding_once(view):
    spec = charts.build_direction_plot(view).to_dict()
    rows = values_of(spec)
    assert sum(r["n_findings"] for r in rows) == len(view)
    assert len(rows) == len(view[["evidence_level", "direction"]].drop_duplicates())
    assert tooltip_titles(spec["encoding"]) >= PROVENANCE


def test_forest_plot_never_mixes_measures_on_one_axis(view):
    spec = charts.build_forest_plot(view, max_rows=500).to_dict()
    table = charts.forest_table(view, max_rows=500)
    assert len(spec["vconcat"]) == table["panel"].nunique()
    shown = view[view["effect_standardised"].notna()]
    for panel_spec in spec["vconcat"]:
        rows = values_of(spec, panel_spec["layer"][1])
        panels = {r["panel"] for r in rows}
        assert len(panels) == 1, panels
        ids = {r["row_label"] for r in rows}
        assert len(ids) == len(rows), "one row per estimate"
    # every reported estimate with a signed number is drawn; measures per panel are one measure
    assert (table["kind"] == "reported").sum() == len(shown)
    for panel in table["panel"].unique():
        assert panel.split(",")[0] in charts.MEASURE_LABELS.values()


def test_forest_plot_tooltips_carry_provenance(view):
    spec = charts.build_forest_plot(view).to_dict()
    for unit in all_units(spec["vconcat"][0]):
        if "tooltip" in unit.get("encoding", {}):
            assert {"Study", "PMID/DOI", "Read in", "Verification"} <= tooltip_titles(unit["encoding"])


def test_forest_plot_caps_rows_and_says_so(view):
    spec = charts.build_forest_plot(view, max_rows=5).to_dict()
    n_total = int(view["effect_standardised"].notna().sum())
    assert spec["title"] == f"Reported effects (5 of {n_total} estimates shown, strongest evidence first)"
    table = charts.forest_table(view, max_rows=5)
    assert (table["kind"] == "reported").sum() == 5
    assert table["evidence_level"].dropna().is_monotonic_increasing


def test_forest_plot_adds_a_pooled_row_only_for_comparable_estimates(view):
    base = view[view["finding_id"] == "beba2022_f03"]  # TNF-α WMD -0.22 (-0.33 to -0.10) pg/ml
    fake = pd.concat([base, base], ignore_index=True)
    fake["study_id"] = ["primary_a", "primary_b"]
    fake["finding_id"] = ["primary_a_f01", "primary_b_f01"]
    fake["is_review"] = False
    table = charts.forest_table(fake)
    assert (table["kind"] == "pooled").sum() == 1
    assert table.loc[table["kind"] == "pooled", "effect"].iloc[0] == pytest.approx(-0.22, abs=1e-9)
    real_reviews_only = charts.forest_table(view[view["outcome_code"] == "tnf"])
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
    assert {"Claim", "Why", "Studies (PMID/DOI)"} <= tooltip_titles(verdict["encoding"])
    links = package.claim_evidence.groupby("claim_id")["study_id"].nunique()
    by_id = table.set_index("claim_id")
    for claim_id, n in links.items():
        assert by_id.at[claim_id, "n_studies"] == n


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
