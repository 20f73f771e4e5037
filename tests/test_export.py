"""Exports: what is in view as CSV, BibTeX, RIS, SVG and PNG."""

from __future__ import annotations

import io
import json
import re
import zipfile

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


# ------------------------------------------------------------------- re-read with the field's parsers
def _expected_authors(package) -> dict[str, list[str]]:
    """Each study's authors from studies.csv ("Surname Initials; ..."), as "Surname, I. N." (et al. dropped)."""
    expected = {}
    for row in package.studies.itertuples():
        if not isinstance(row.authors, str) or not row.authors.strip():
            continue
        names = [n.strip() for n in row.authors.split(";") if n.strip() and n.strip().rstrip(".").lower() != "et al"]
        parts = []
        for name in names:
            family, _, initials = name.rpartition(" ")
            if family and re.fullmatch(r"[A-Z]{1,4}", initials):
                parts.append(f"{family}, " + " ".join(f"{letter}." for letter in initials))
            else:
                parts.append(name)  # a group author, kept whole
        expected[row.study_id] = parts
    return expected


def test_bibtex_authors_parse_back_to_the_studies_authors(package):
    import bibtexparser
    from bibtexparser.middlewares import SeparateCoAuthors

    library = bibtexparser.parse_string(
        export.studies_to_bibtex(package.studies), append_middleware=[SeparateCoAuthors()]
    )
    assert not library.failed_blocks
    parsed = {e.key: [a.strip("{}") for a in e["author"] if a != "others"] for e in library.entries if "author" in e}
    expected = _expected_authors(package)
    assert parsed == expected
    assert parsed["beba2022"][:2] == ["Beba, M.", "Mohammadi, H."], "surname first, initials as initials"
    group = [k for k, names in expected.items() if any("," not in n for n in names)]
    assert group, "the data hold a group author: it must survive as one name"


def test_ris_authors_parse_back_to_the_studies_authors(package):
    import rispy

    records = rispy.loads(export.studies_to_ris(package.studies))
    assert len(records) == len(package.studies)
    parsed = {r["id"]: r["authors"] for r in records if "authors" in r}
    assert parsed == _expected_authors(package)
    by_id = {r["id"]: r for r in records}
    doi_study = package.studies.dropna(subset=["doi"]).iloc[0]
    assert by_id[doi_study.study_id]["urls"][0] == f"https://doi.org/{doi_study.doi}", "the DOI link comes first"


def test_csl_json_names_are_structured(package):
    items = {i["id"]: i for i in json.loads(export.studies_to_csl_json(package.studies))}
    assert items["beba2022"]["author"][0] == {"family": "Beba", "given": "M"}


def test_findings_package_validates_and_keeps_numbers_as_reported(package, tmp_path):
    import frictionless

    view = evidence.build_evidence_view(package)
    selection = evidence.filter_findings(view, intervention_categories="nutrition")
    content = export.findings_package(
        selection, package, {"intervention_categories": ["nutrition"]}, "2026-12-04T00:00:00+00:00"
    )
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        archive.extractall(tmp_path)
    report = frictionless.validate(tmp_path / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    descriptor = json.loads((tmp_path / "datapackage.json").read_text())
    assert descriptor["exinf:export"] == {
        "data_package": package.descriptor["name"], "data_version": package.version,
        "exported_at": "2026-12-04T00:00:00+00:00", "selection": {"intervention_categories": ["nutrition"]},
        "findings": len(selection), "studies": selection["study_id"].nunique(),
    }  # fmt: skip
    exported = pd.read_csv(tmp_path / "findings.csv", dtype=str, keep_default_na=False).set_index("finding_id")
    source = pd.read_csv(package.path / "findings.csv", dtype=str, keep_default_na=False).set_index("finding_id")
    shared = [c for c in export.FINDINGS_EXPORT_COLUMNS if c in source.columns and c != "finding_id"]
    pd.testing.assert_frame_equal(exported[shared], source.loc[exported.index, shared])  # every string as written
    assert {"n_studies", "i2_pct", "ci_level_pct", "sample_matrix"} <= set(exported.columns)
    assert (exported["effect_value"].str.fullmatch(r"-?\d+\.\d*0")).any(), "trailing zeros survive (-0.10)"


def test_excel_csv_has_a_bom_and_reads_back_tnf_alpha(package):
    view = evidence.build_evidence_view(package)
    selection = view[view["outcome_code"] == "tnf"]
    content = export.findings_to_excel_csv(selection)
    assert content.startswith("\ufeff".encode())
    table = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert set(table["outcome_label"]) == {"TNF-α"}
    assert {"n_studies", "i2_pct", "ci_level_pct", "sample_matrix"} <= set(table.columns)


def test_chart_images_carry_their_caption_and_keep_legends_inside(view):
    chart = charts.build_forest_plot(evidence.filter_findings(view, interventions="omega3"))
    caption = export.selection_caption(
        "Forest plot of Intervention: Omega-3 fatty acids.", "2.0.0", "2026-12-04 00:00 UTC"
    )
    svg = export.chart_to_svg(chart, caption)
    assert "Omega-3 fatty acids." in svg and "Data package 2.0.0" in svg
    import vl_convert as vlc

    scene = vlc.vegalite_to_scenegraph(export.captioned_spec(chart, caption))
    legends = []

    def collect(node):
        legends.extend(node.get("items", []) if node.get("role") == "legend" else [])
        for item in node.get("items", []) or []:
            collect(item)

    collect(scene["scenegraph"])
    assert legends, "the forest plot has a colour legend"
    for legend in legends:  # "Effect on health" is about 90 px wide: it must fit between its left edge and the edge
        assert scene["origin"][0] + legend["x"] + 90 <= scene["width"], "the legend is drawn inside the image"
