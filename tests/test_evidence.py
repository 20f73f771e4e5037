"""Filters and summaries, checked against counts computed independently from the CSV files."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import evidence, paths

DATA = paths.data_dir()


@pytest.fixture(scope="module")
def raw():
    """The CSVs read directly with pandas, independent of helpers.data."""
    read = lambda name: pd.read_csv(DATA / f"{name}.csv", dtype=str, keep_default_na=False)  # noqa: E731
    return {name: read(name) for name in ["findings", "studies", "interventions", "outcomes", "species", "designs"]}


@pytest.fixture(scope="module")
def view(package):
    return evidence.build_evidence_view(package)


def test_view_has_one_row_per_finding_with_study_and_lookups(view, raw):
    assert len(view) == len(raw["findings"])
    assert view["finding_id"].is_unique
    assert (
        view[["short_cite", "identifier", "intervention_label", "outcome_label", "evidence_level"]].notna().all().all()
    )


def test_filter_by_intervention_category_matches_the_csv(view, raw):
    nutrition = set(raw["interventions"].query("intervention_category == 'nutrition'")["intervention_code"])
    expected = raw["findings"][raw["findings"]["intervention_code"].isin(nutrition)]
    got = evidence.filter_findings(view, intervention_categories="nutrition")
    assert set(got["finding_id"]) == set(expected["finding_id"])
    assert len(got) > 0


def test_filter_by_outcome_species_and_timeframe_combine_with_and(view, raw):
    findings, studies = raw["findings"], raw["studies"].set_index("study_id")
    species_group = raw["species"].set_index("species_code")["species_group"]
    group = findings["study_id"].map(studies["species_code"]).map(species_group)
    expected = findings[(findings["outcome_code"] == "il6") & (group == "human") & (findings["timeframe"] == "acute")]
    got = evidence.filter_findings(view, outcomes="il6", species_groups="human", timeframes="acute")
    assert set(got["finding_id"]) == set(expected["finding_id"])


def test_minimum_evidence_level_keeps_only_stronger_designs(view):
    strong = evidence.filter_findings(view, max_evidence_level=2)
    assert set(strong["evidence_level"].unique()) <= {1, 2}
    # hand-checked: the Fedewa 2017 meta-analysis (level 1) stays, the Dimitrov 2017 pre/post study (level 4) goes
    assert "fedewa2017" in set(strong["study_id"]) and "dimitrov2017" not in set(strong["study_id"])
    with pytest.raises(ValueError, match="between 1 and 7"):
        evidence.FindingFilter(max_evidence_level=0)


def test_filter_by_verification_status(view, raw):
    partial = evidence.filter_findings(view, verification_statuses="partial")
    assert set(partial["finding_id"]) == set(raw["findings"].query("verification_status == 'partial'")["finding_id"])


def test_summary_of_one_cell_by_hand(view, raw):
    """Tart cherry x IL-6: counted from the CSV rows themselves."""
    rows = raw["findings"].query("intervention_code == 'tart_cherry' and outcome_code == 'il6'")
    studies = raw["studies"].set_index("study_id")
    summary = (
        evidence.summarise_cells(view).set_index(["intervention_code", "outcome_code"]).loc[("tart_cherry", "il6")]
    )
    assert summary["n_findings"] == len(rows)
    assert summary["n_studies"] == rows["study_id"].nunique()
    assert summary["n_decrease"] == (rows["direction"] == "decrease").sum()
    known_n = [
        int(studies.at[s, "n_participants"]) for s in rows["study_id"].unique() if studies.at[s, "n_participants"]
    ]
    assert summary["total_n"] == sum(known_n)
    # Hill 2021 is a meta-analysis (level 1): the best level in the cell
    assert summary["best_level"] == 1
    assert summary["main_direction"] == rows["direction"].mode().iloc[0]


def test_direction_agreement_and_ties():
    view = pd.DataFrame(
        {
            "intervention_code": ["a", "a", "a", "b", "b"],
            "outcome_code": ["x", "x", "x", "y", "y"],
            "finding_id": list("12345"),
            "study_id": ["s1", "s2", "s3", "s4", "s5"],
            "evidence_level": [2, 4, 1, 3, 3],
            "direction": ["decrease", "decrease", "no_change", "increase", "decrease"],
            "n_participants": pd.array([10, None, 30, 5, 5], dtype="Int64"),
            "verification_status": ["verified"] * 5,
            "short_cite": list("ABCDE"),
            "year": [2000, 2001, 2002, 2003, 2004],
        }
    )
    summary = evidence.summarise_cells(view).set_index("intervention_code")
    assert summary.at["a", "main_direction"] == "decrease"
    assert summary.at["a", "agreement"] == pytest.approx(2 / 3)
    assert summary.at["a", "total_n"] == 40 and summary.at["a", "n_studies_without_n"] == 1
    assert summary.at["a", "best_level"] == 1
    assert summary.at["a", "studies"] == "C; A; B"  # strongest first
    assert summary.at["b", "main_direction"] == "mixed"  # a 1-1 tie is not a direction


def test_standardised_effect_flips_reversed_sign_conventions(view):
    fedewa = view.set_index("finding_id").loc["fedewa2017_f01"]
    assert fedewa["effect_value"] == 0.26 and fedewa["effect_sign"] == "reversed"
    assert fedewa["effect_standardised"] == -0.26
    assert (fedewa["ci_low_standardised"], fedewa["ci_high_standardised"]) == (-0.34, -0.18)


def test_describe_selection_counts(view):
    text = evidence.describe_selection(evidence.filter_findings(view, topics="twenty_minute_walk"))
    dimitrov = view[view["topic_code"] == "twenty_minute_walk"]
    assert text.startswith(f"{len(dimitrov)} findings from 1 studies, strongest evidence at level 4")
