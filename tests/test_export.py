"""Exports: what is in view as CSV, BibTeX, RIS, SVG and PNG."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from helpers import charts, evidence, export


@pytest.fixture(scope="module")
def view(package):
    return evidence.build_evidence_view(package)


def test_findings_csv_round_trips_with_provenance(view):
    selection = evidence.filter_findings(view, intervention_categories="hydrogen")
    table = pd.read_csv(io.StringIO(export.findings_to_csv(selection)), dtype=str, keep_default_na=False)
    assert list(table.columns) == export.FINDINGS_EXPORT_COLUMNS
    assert list(table["finding_id"]) == list(selection["finding_id"])
    assert (table["source_location"] != "").all() and (table["verification_status"] != "").all()


def test_bibtex_has_one_entry_per_study_and_no_invented_fields(package):
    studies = package.studies
    text = export.studies_to_bibtex(studies)
    keys = re.findall(r"^@(\w+)\{(\w+),$", text, flags=re.MULTILINE)
    assert [k for _, k in keys] == sorted(studies["study_id"])
    entries = dict(zip([k for _, k in keys], re.split(r"^@\w+\{\w+,$", text, flags=re.MULTILINE)[1:], strict=True))
    for row in studies.itertuples():
        body = entries[row.study_id]
        for field, value in [("doi", row.doi), ("pmid", row.pmid)]:
            if isinstance(value, str):
                assert f"{field} = {{{value}}}" in body
            else:
                assert f"{field} = " not in body, "a missing identifier is left out, never filled"
    assert "Record unverified" in entries["chuang2026"]
    assert {key: kind for kind, key in keys}["andonian2019"] == "inproceedings"


def test_ris_records_are_well_formed(package):
    studies = package.studies
    text = export.studies_to_ris(studies)
    assert text.count("TY  - ") == len(studies) == text.count("ER  - ")
    dimitrov = text[text.index("ID  - dimitrov2017") : text.index("ER  - ", text.index("ID  - dimitrov2017"))]
    assert "AN  - PMID:28011264" in dimitrov and "DO  - 10.1016/j.bbi.2016.12.017" in dimitrov
    assert "SP  - 60" in dimitrov and "EP  - 68" in dimitrov


def test_reference_list_links_identifiers(package):
    text = export.reference_list(package.studies[package.studies["study_id"] == "dimitrov2017"])
    assert "[PMID 28011264](https://pubmed.ncbi.nlm.nih.gov/28011264/)" in text
    assert "[DOI 10.1016/j.bbi.2016.12.017](https://doi.org/10.1016/j.bbi.2016.12.017)" in text


def test_chart_images_render_offline(view):
    chart = charts.build_direction_plot(view)
    svg = export.chart_to_svg(chart)
    assert svg.lstrip().startswith("<svg") and "Effect on health, per outcome" in svg
    assert export.chart_to_png(chart, scale=1).startswith(b"\x89PNG\r\n\x1a\n")


def test_reference_list_is_capped_and_says_how_many_more(package):
    text = export.reference_list(package.studies, max_items=10)
    assert text.count("\n- **") + text.startswith("- **") == 10
    assert f"… and {len(package.studies) - 10} more studies" in text
