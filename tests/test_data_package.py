"""The shipped data package: valid, complete, and honest about where each number comes from."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers import data, paths
from helpers.evidence import EVIDENCE_LEVELS
from tests.conftest import read_rows, write_rows

DATA = paths.data_dir()


def test_shipped_package_has_no_problems():
    problems = data.validate_package(DATA)
    assert problems == [], "\n".join(map(str, problems))


def test_every_resource_has_a_csv_and_a_table_schema(package):
    descriptor = json.loads((DATA / "datapackage.json").read_text(encoding="utf-8"))
    names = [r["name"] for r in descriptor["resources"]]
    assert set(names) >= {
        "studies",
        "findings",
        "claims",
        "claim_evidence",
        "articles",
        "designs",
        "interventions",
        "outcomes",
        "topics",
        "conditions",
        "species",
    }
    for resource in descriptor["resources"]:
        assert (DATA / resource["path"]).is_file()
        assert (DATA / resource["schema"]).is_file(), "one Table Schema file per table"
    assert descriptor["version"], "the package carries a version"


def test_csv_files_are_plain_utf8_lf_without_line_breaks_in_cells():
    for path in DATA.glob("*.csv"):
        content = path.read_bytes()
        assert b"\r" not in content, path.name
        rows = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert not rows.apply(lambda col: col.str.contains("\n")).any().any(), path.name


#: The 39 studies of the 1.0.0 release (the seed articles' citations and the reference notes); never removed.
REFERENCE_STUDIES = [
    "andonian2018",
    "andonian2019",
    "andonian2021",
    "andonian2022",
    "aoki2012",
    "bartlett2018",
    "beba2022",
    "chen2021",
    "chuang2026",
    "dimitrov2017",
    "fang2021",
    "fedewa2017",
    "fitzgerald2012",
    "hammonds2016",
    "hill2021",
    "howatson2010",
    "javorac2019",
    "kasapis2005",
    "kelley2006",
    "kyriakidou2021",
    "langston2023",
    "liu2024",
    "lv2020",
    "mattusch2000",
    "pedersen2008",
    "petersen2005",
    "ramoscampo2020",
    "saedmocheshi2024",
    "starkie2003",
    "steensberg2003",
    "steward2019",
    "tarsitano2024",
    "wang2020",
    "xiao2024",
    "xin2021",
    "yang2026",
    "zheng2021",
    "zhou2023",
    "zhou2024",
]


def test_the_reference_studies_stay_and_the_evidence_base_is_deep_enough(package):
    assert len(REFERENCE_STUDIES) == 39
    assert set(REFERENCE_STUDIES) <= set(package.studies["study_id"])
    assert package.studies["study_id"].is_unique
    assert len(package.studies) >= 75


def test_at_least_180_findings_can_be_compared_on_a_scale(package):
    """An effect with its CI, or both arms' mean, SD/SE and n at one stage (so that an SMD can be computed)."""
    findings, arms = package.findings, package.arm_statistics
    with_ci = set(findings.loc[findings["effect_value"].notna() & findings["ci_low"].notna(), "finding_id"])
    complete = arms[arms["mean"].notna() & (arms["sd"].notna() | arms["se"].notna()) & arms["n"].notna()]
    per_stage = complete.groupby(["finding_id", "stage"])["arm"].nunique()
    two_arms = set(per_stage[per_stage == 2].reset_index()["finding_id"])
    assert len(with_ci | two_arms) >= 180


def test_every_study_says_who_was_studied_and_how_its_bias_was_judged(package):
    studies = package.studies
    for column in ["age_group", "sex", "training_status"]:
        assert studies[column].notna().all(), column
    animals = studies["species_code"].isin(["mouse", "rodent", "human_cells"])
    assert (studies.loc[animals, "age_group"] == "not_applicable").all()
    rob = package.risk_of_bias
    assert set(rob["study_id"]) == set(studies["study_id"])
    assert ((rob["overall"] == "not_assessed") == (rob["judgement_source"] == "none")).all()


def test_every_claim_of_the_audit_is_covered():
    """The 9 claims the audit found missing and the 5 it found partly covered have their own rows (data 2.0.0)."""
    claims = pd.read_csv(DATA / "claims.csv", dtype=str)
    added = {f"zone2_{n}" for n in range(24, 29)} | {f"peloton_{n}" for n in range(17, 26)}
    assert added <= set(claims["claim_id"])
    assert len(claims) >= 53


def test_every_study_can_be_found_or_says_why_not(package):
    studies = package.studies
    has_identifier = studies["pmid"].notna() | studies["doi"].notna()
    explained = studies["url"].notna() & studies["no_identifier_reason"].notna()
    assert (has_identifier | explained).all()


def test_the_two_unlocated_2026_reviews_keep_the_cited_pmids_marked_unverified(package):
    studies = package.studies.set_index("study_id")
    for study_id, cited in [("chuang2026", "42164762"), ("yang2026", "42145827")]:
        row = studies.loc[study_id]
        assert row["cited_pmid"] == cited
        assert pd.isna(row["pmid"]), "an unconfirmed PMID must not sit in the pmid column"
        assert row["verification_status"] == "unverified"


def test_every_finding_names_its_source_and_how_far_it_was_checked(package):
    findings = package.findings
    for column in ["source_location", "source_url", "value_origin", "verification_status", "direction"]:
        assert findings[column].notna().all(), column


def test_findings_are_plentiful_and_include_null_results(package):
    findings = package.findings
    assert len(findings) > 100
    assert (findings["direction"] == "no_change").sum() >= 15
    assert set(findings["timeframe"]) >= {"acute", "chronic"}


def test_claims_cover_both_seed_articles(package):
    claims = package.claims
    assert len(claims) >= 25
    assert set(claims["article_id"]) == set(package.articles["article_id"])
    assert claims["claim"].str.len().gt(20).all()


@pytest.mark.parametrize(
    ("study_id", "level"),
    [
        ("fedewa2017", 1),  # human SR/MA
        ("kasapis2005", 1),  # systematic review without pooling is still level 1
        ("zheng2021", 2),  # randomised, double-blind, parallel groups
        ("javorac2019", 2),  # randomised crossover
        ("mattusch2000", 3),  # non-randomised controlled training study
        ("dimitrov2017", 4),  # 20-minute treadmill bout, pre/post without control
        ("bartlett2018", 4),  # single-arm HIIT pilot
        ("fitzgerald2012", 4),  # cross-sectional
        ("andonian2019", 5),  # conference abstract
        ("pedersen2008", 5),  # narrative review
        ("chuang2026", 5),  # unlocated narrative review, as described
        ("langston2023", 6),  # mice
        ("xiao2024", 6),  # meta-analysis of rodent studies: still animal evidence
        ("chen2021", 7),  # engineered human muscle
    ],
)
def test_evidence_levels_of_hand_checked_studies(package, study_id, level):
    studies = package.studies.set_index("study_id")
    assert studies.at[study_id, "evidence_level"] == level
    assert studies.at[study_id, "evidence_label"] == EVIDENCE_LEVELS[level]


def test_numbers_keep_their_reported_sign_and_ci(package):
    """Golden values read in the sources (see shared/evidence/studies.md)."""
    findings = package.findings.merge(package.studies[["study_id"]], on="study_id")

    def one(study_id: str, outcome: str, measure: str) -> pd.Series:
        rows = findings[
            (findings.study_id == study_id)
            & (findings.outcome_code == outcome)
            & (findings.effect_measure == measure)
            & findings.subgroup.isna()
        ]
        assert len(rows) == 1, (study_id, outcome, measure, len(rows))
        return rows.iloc[0]

    fedewa = one("fedewa2017", "crp", "es")
    assert (fedewa.effect_value, fedewa.ci_low, fedewa.ci_high) == (0.26, 0.18, 0.34)
    assert fedewa.effect_sign == "reversed" and fedewa.direction == "decrease"
    kelley = one("kelley2006", "crp", "md")
    assert (kelley.effect_value, kelley.ci_low, kelley.ci_high) == (-0.11, -0.39, 0.17)
    assert kelley.direction == "no_change"
    hammonds = one("hammonds2016", "crp", "smd")
    assert (hammonds.effect_value, hammonds.ci_low, hammonds.ci_high) == (-0.53, -0.74, -0.33)
    beba = one("beba2022", "tnf", "wmd")
    assert (beba.effect_value, beba.ci_low, beba.ci_high) == (-0.22, -0.33, -0.10)


def test_dimitrov_press_release_figure_is_marked_as_such(package):
    dimitrov = package.findings[package.findings.study_id == "dimitrov2017"]
    press = dimitrov[dimitrov.source_location.str.contains("press", case=False)]
    assert len(press) >= 1
    assert (press.verification_status != "verified").all()
    plasma = dimitrov[(dimitrov.outcome_code == "tnf")]
    assert (plasma.direction == "no_change").any(), "plasma TNF did not change"


def test_a_reused_package_is_read_once_private_to_each_caller_and_read_again_after_an_edit(data_copy, monkeypatch):
    first = data.load_package(data_copy, reuse=True)
    title = first.studies.loc[0, "title"]
    reads = []
    read_fast = data._read_all_fast
    monkeypatch.setattr(data, "_read_all_fast", lambda folder: reads.append(folder) or read_fast(folder))

    second = data.load_package(data_copy, reuse=True)
    assert reads == [], "byte-identical files are not read again"
    pd.testing.assert_frame_equal(second.studies, first.studies)
    second.studies.loc[0, "title"] = "changed by a notebook"
    second.descriptor["version"] = "changed"
    del second.tables["claims"]

    third = data.load_package(data_copy, reuse=True)
    assert reads == []
    assert third.studies.loc[0, "title"] == title == first.studies.loc[0, "title"]
    assert third.version == first.version != "changed"
    assert "claims" in third.tables

    path = data_copy / "studies.csv"
    rows = read_rows(path)
    rows[1][rows[0].index("title")] = "A title edited on disk"
    write_rows(path, rows)
    fourth = data.load_package(data_copy, reuse=True)
    assert reads == [data_copy], "an edited file is read again"
    assert fourth.studies.loc[0, "title"] == "A title edited on disk"
