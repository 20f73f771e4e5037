"""Widget panels driven from Python: set a control, check the data and the chart that result."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile

import pytest

from helpers import explorer


@pytest.fixture
def panel(package):
    return explorer.EvidenceExplorer(package)


def chart_rows(chart) -> list[dict]:
    spec = chart.to_dict()
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


def test_controls_come_from_the_schema_vocabularies(panel, package):
    timeframe_schema = next(f for f in package.schema("findings")["fields"] if f["name"] == "timeframe")
    assert [v for _, v in panel.timeframe.options] == ["", *timeframe_schema["constraints"]["enum"]]
    categories = {v for _, v in panel.intervention_category.options} - {""}
    assert categories == set(package.interventions["intervention_category"])


def test_choosing_a_category_narrows_interventions_data_and_chart(panel, package):
    panel.intervention_category.value = "hydrogen"
    hydrogen = set(package.interventions.query("intervention_category == 'hydrogen'")["intervention_code"])
    assert {v for _, v in panel.intervention.options} - {""} <= hydrogen
    assert set(panel.filtered["intervention_code"]) <= hydrogen
    labels = set(package.interventions.query("intervention_category == 'hydrogen'")["label"])
    assert {row["intervention_label"] for row in chart_rows(panel.chart)} <= labels
    assert f"<b>{len(panel.filtered)}</b> findings" in panel.summary.value


def test_choosing_an_intervention_and_the_forest_plot(panel):
    panel.intervention.value = "omega3"
    panel.chart_kind.value = "forest"
    assert set(panel.filtered["intervention_code"]) == {"omega3"}
    reported = [r for r in chart_rows(panel.chart) if r.get("kind") == "reported"]
    omega3_with_numbers = panel.filtered[panel.filtered["effect_standardised"].notna()]
    assert len(reported) == len(omega3_with_numbers) > 0
    assert len(panel.table) == len(panel.filtered)


def test_evidence_level_and_population_controls(panel):
    panel.max_level.value = 1
    assert set(panel.filtered["evidence_level"]) == {1}
    panel.max_level.value = 7
    panel.condition.value = "copd"
    assert set(panel.filtered["condition_code"]) == {"copd"}
    panel.species_group.value = "animal"
    assert panel.filtered.empty
    assert "No findings" in chart_rows(panel.chart)[0]["message"]


def test_category_change_keeps_a_fitting_intervention_and_drops_one_that_does_not(panel):
    panel.intervention.value = "omega3"
    panel.intervention_category.value = "nutrition"
    assert panel.intervention.value == "omega3"
    panel.intervention_category.value = "exercise"
    assert panel.intervention.value == ""


def test_initial_values_and_bad_chart_kind(package):
    panel = explorer.EvidenceExplorer(package, chart="ladder", topic="hiit_ra")
    assert set(panel.filtered["topic_code"]) == {"hiit_ra"}
    assert {r["short_cite"] for r in chart_rows(panel.chart)} == set(panel.filtered["short_cite"])
    with pytest.raises(ValueError, match="chart must be one of"):
        explorer.EvidenceExplorer(package, chart="pie")


def test_exports_offer_what_is_in_view(panel):
    panel.intervention.value = "tart_cherry"
    name, content = panel.export("csv")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        descriptor = json.loads(archive.read("datapackage.json"))
        findings_csv = archive.read("findings.csv").decode()
    assert name == "findings-datapackage.zip" and findings_csv.count("\n") == len(panel.filtered) + 1
    assert descriptor["exinf:export"]["selection"] == {"interventions": ["tart_cherry"]}
    assert "Intervention: Tart cherry" in panel.selection_text
    name, content = panel.export("ris")
    assert content.decode().count("TY  - ") == panel.filtered["study_id"].nunique()
    link = re.search(r'href="data:application/x-research-info-systems;base64,([^"]+)"', panel.downloads.value)
    assert base64.b64decode(link.group(1)) == content
    name, content = panel.export("svg")
    assert content.startswith(b"<svg")
    with pytest.raises(ValueError, match="export kind"):
        panel.export("docx")


def test_claims_panel_filters_and_shows_linked_evidence(package):
    panel = explorer.ClaimsExplorer(package)
    assert len(panel.claims) == len(package.claims)
    panel.verdict.value = "not_supported"
    assert set(panel.claims["verdict"]) == {"not_supported"}
    claim_id = panel.claim.value
    expected = package.claim_evidence[package.claim_evidence["claim_id"] == claim_id]
    assert len(panel.links) == len(expected)
    assert set(panel.links["Relation"]) == set(expected["relation"])
    assert "Why:" in panel.detail.value


def test_revisiting_a_selection_is_served_from_the_panel_cache(panel):
    first_chart = panel.chart
    panel.intervention.value = "omega3"
    omega3_chart = panel.chart
    panel.intervention.value = ""
    assert panel.chart is first_chart, "going back redraws from the cache"
    panel.intervention.value = "omega3"
    assert panel.chart is omega3_chart
    for code in list(panel.package.interventions["intervention_code"])[: explorer.CACHE_SIZE + 2]:
        panel.intervention.value = code if code in {v for _, v in panel.intervention.options} else ""
    assert len(panel._cache) <= explorer.CACHE_SIZE


def test_table_shows_the_strongest_rows_and_says_how_many_there_are(package):
    panel = explorer.EvidenceExplorer(package)
    assert len(panel.table) == min(len(panel.filtered), explorer.TABLE_MAX_ROWS)
    assert panel.table["Level"].tolist() == sorted(panel.table["Level"].tolist())
    table = explorer.findings_table(panel.filtered, max_rows=5)
    assert len(table) == 5 and set(table["Level"]) == {1}
