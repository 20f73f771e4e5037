"""Malformed input: each kind of problem is reported with file, line, column and what was expected.

Every test breaks one thing in a private copy of the shipped package (see ``conftest.py``) and
asserts on the exact problem, so a validator that stops naming the place of a problem fails here.
"""

from __future__ import annotations

import pytest

from helpers import data
from helpers.cli import main
from tests.conftest import read_rows, write_rows


def only_problem(data_dir) -> data.Problem:
    problems = data.validate_package(data_dir)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def assert_located(problem: data.Problem, file: str, line: int, column: str, expected_words: str):
    assert (problem.file, problem.line, problem.column) == (file, line, column), problem
    assert expected_words.lower() in problem.expected.lower(), problem
    message = str(problem)
    assert file in message and f"line {line}" in message and f"'{column}'" in message


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "expected_words"),
    [
        ("studies", 3, "n_participants", "12.5", "an integer"),
        ("findings", 0, "p_value", "0.o5", "a number"),
        ("findings", 4, "source_location", "", "required"),
        ("findings", 2, "direction", "down", "one of: decrease, increase"),
        ("findings", 5, "is_significant", "yes", "one of: true, false"),
        ("studies", 6, "pmid", "PMID:28011264", "digits only"),
        ("studies", 7, "doi", "https://doi.org/10.1016/j.bbi.2016.12.017", "starting with '10.'"),
        ("findings", 1, "p_value", "1.7", "between 0 and 1"),
        ("findings", 3, "n_analysed", "0", "at least 1"),
        ("findings", 6, "study_id", "nobody2099", "listed in studies.csv"),
        ("findings", 7, "outcome_code", "happiness", "listed in outcomes.csv"),
        ("findings", 8, "source_url", "pmc.ncbi.nlm.nih.gov/articles/PMC1", "web address"),
        ("claims", 2, "verdict", "mostly true", "one of: supported"),
        ("studies", 4, "year", "1890", "between 1950 and 2030"),
        # markup where the schema's meaning excludes it: identifiers, DOIs and web addresses
        ("studies", 2, "doi", '10.1016/x"><script>alert(1)</script>', "no spaces or <"),
        ("studies", 3, "doi", "10.1016/x}, note={forged", "no spaces or <"),
        ("studies", 1, "url", "https://example.org/<svg/onload=alert(1)>", "without spaces or the characters <"),
        ("studies", 1, "url", "javascript:alert(1)//https://x", "starting with http"),
        ("studies", 0, "source_urls", "https://a.org/x | https://b.org/<img src=x>", "separated by ' | '"),
        ("studies", 0, "registration_id", "NCT1<script>", "registry identifier"),
        ("findings", 9, "source_url", 'https://pmc.ncbi.nlm.nih.gov/" onmouseover="alert(1)', "without spaces"),
    ],
)
def test_bad_cell_is_named_by_file_line_and_column(edit_cell, data_copy, table, row, column, value, expected_words):
    rows = read_rows(data_copy / f"{table}.csv")
    position = rows[0].index(column)
    filled = [i for i, r in enumerate(rows[1:]) if r[position]]
    row = filled[min(row, len(filled) - 1)]  # the row-th data row that has a value in this column
    line = edit_cell(table, row, column, value)
    assert_located(only_problem(data_copy), f"{table}.csv", line, column, expected_words)


def _first_finding_with(data_copy, predicate) -> tuple[int, dict]:
    rows = read_rows(data_copy / "findings.csv")
    header = rows[0]
    for index, row in enumerate(rows[1:]):
        record = dict(zip(header, row, strict=True))
        if predicate(record):
            return index, record
    raise AssertionError("no finding matches the fixture's needs")


def test_effect_outside_its_confidence_interval(edit_cell, data_copy):
    index, record = _first_finding_with(data_copy, lambda r: r["ci_high"] and r["effect_value"])
    too_big = str(float(record["ci_high"]) + 1)
    line = edit_cell("findings", index, "effect_value", too_big)
    problems = data.validate_package(data_copy)
    located = [p for p in problems if p.expected == "ci_low <= effect_value <= ci_high"]
    assert len(located) == 1
    assert_located(located[0], "findings.csv", line, "effect_value", "ci_low <= effect_value")


def test_effect_value_without_its_sign_convention(edit_cell, data_copy):
    index, _ = _first_finding_with(data_copy, lambda r: r["effect_value"] and not r["ci_low"])
    line = edit_cell("findings", index, "effect_sign", "")
    assert_located(only_problem(data_copy), "findings.csv", line, "effect_sign", "effect_sign")


def test_direction_contradicting_a_significant_effect(edit_cell, data_copy):
    index, _ = _first_finding_with(
        data_copy,
        lambda r: (
            r["ci_high"] and r["direction"] == "decrease" and float(r["ci_high"]) < 0 and r["effect_sign"] == "standard"
        ),
    )
    line = edit_cell("findings", index, "direction", "increase")
    assert_located(only_problem(data_copy), "findings.csv", line, "direction", "agrees with an effect")


def test_duplicate_primary_key(data_copy):
    path = data_copy / "findings.csv"
    rows = read_rows(path)
    rows.insert(3, list(rows[2]))  # the second data row, twice
    write_rows(path, rows)
    problems = [p for p in data.validate_package(data_copy) if p.column == "finding_id"]
    assert [p.line for p in problems] == [3, 4]
    assert all("unique" in p.expected and p.file == "findings.csv" for p in problems)


def test_study_without_pmid_doi_or_explained_url(edit_cell, data_copy):
    rows = read_rows(data_copy / "studies.csv")
    index = next(i for i, r in enumerate(rows[1:]) if r[rows[0].index("pmid")] and r[rows[0].index("doi")])
    edit_cell("studies", index, "pmid", "")
    line = edit_cell("studies", index, "doi", "")
    assert_located(only_problem(data_copy), "studies.csv", line, "pmid", "a PMID or a DOI")


def test_row_with_too_few_fields(data_copy):
    path = data_copy / "findings.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(",")
    lines[5] = ",".join(lines[5].split(",")[:3])  # a row cut short after three cells
    path.write_text("\n".join(lines), encoding="utf-8")
    problem = only_problem(data_copy)
    assert_located(problem, "findings.csv", 6, header[3], f"{len(header)} fields")


def test_row_with_an_extra_field(data_copy):
    path = data_copy / "topics.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[2] = lines[2] + ",surplus"
    path.write_text("\n".join(lines), encoding="utf-8")
    problem = only_problem(data_copy)
    assert_located(problem, "topics.csv", 3, "(extra field 4)", "3 fields per row")


def test_bytes_that_are_not_utf8(data_copy):
    path = data_copy / "conditions.csv"
    lines = path.read_bytes().split(b"\n")
    cells = lines[4].split(b",", 2)
    cells[1] = cells[1] + b" \xe9"  # Latin-1 e-acute typed into the label column
    lines[4] = b",".join(cells)
    path.write_bytes(b"\n".join(lines))
    assert_located(only_problem(data_copy), "conditions.csv", 5, "label", "UTF-8")


def test_header_that_differs_from_the_schema(data_copy):
    path = data_copy / "articles.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("outlet", "publisher", 1), encoding="utf-8")
    problems = data.validate_package(data_copy)
    by_column = {p.column: p for p in problems if p.file == "articles.csv"}
    assert by_column["outlet"].line == 1 and "in the header" in by_column["outlet"].expected
    assert by_column["publisher"].line == 1 and "only the schema's columns" in by_column["publisher"].expected


def test_windows_line_endings_are_reported(data_copy):
    path = data_copy / "topics.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    problem = only_problem(data_copy)
    assert (problem.file, problem.line) == ("topics.csv", 1)
    assert "LF line endings" in problem.expected


def test_claim_linked_to_a_finding_of_another_study(data_copy):
    path = data_copy / "claim_evidence.csv"
    rows = read_rows(path)
    header = rows[0]
    index = next(i for i, r in enumerate(rows[1:], start=1) if r[header.index("finding_id")])
    findings = read_rows(data_copy / "findings.csv")
    other = next(r for r in findings[1:] if r[1] != rows[index][header.index("study_id")])
    rows[index][header.index("finding_id")] = other[0]
    write_rows(path, rows)
    problems = [p for p in data.validate_package(data_copy) if p.expected.startswith("a finding that belongs")]
    assert len(problems) == 1
    assert_located(problems[0], "claim_evidence.csv", index + 1, "finding_id", "belongs to the linked study")


def test_load_package_refuses_bad_data_and_lists_every_problem(edit_cell, data_copy):
    edit_cell("findings", 0, "p_value", "2")
    edit_cell("studies", 0, "year", "soon")
    with pytest.raises(data.DataValidationError) as raised:
        data.load_package(data_copy)
    assert len(raised.value.problems) == 2
    assert "findings.csv, line 2, column 'p_value'" in str(raised.value)
    assert "studies.csv, line 2, column 'year'" in str(raised.value)


def test_cli_prints_a_table_of_problems_and_fails(edit_cell, data_copy, capsys):
    line = edit_cell("findings", 0, "direction", "sideways")
    assert main(["validate", str(data_copy)]) == 1
    out = capsys.readouterr().out
    assert "findings.csv" in out and "direction" in out and "sideways" in out and f" {line} " in out


def test_cli_reports_clean_data(capsys):
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith("OK:")
