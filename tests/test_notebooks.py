"""Notebooks: committed clean, parameterised, and showing the right numbers when executed.

nbval executes every notebook with its defaults (``notebooks/`` is in pytest's testpaths); the
tests here run them through papermill with chosen parameters and check what they display against
counts computed directly from the CSV files.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pandas as pd
import papermill as pm
import pytest

from helpers import paths

NOTEBOOKS = sorted(paths.notebooks_dir().glob("[0-4][05]_*.ipynb"))  # the analysis notebooks; lessons: test_teaching
DATA = paths.data_dir()

pytestmark = pytest.mark.notebook


def csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv", dtype=str, keep_default_na=False)


def run(tmp_path, name: str, **parameters) -> nbformat.NotebookNode:
    out = tmp_path / name
    parameters = {"renderer": "svg", "interactive": False, **parameters}
    pm.execute_notebook(
        paths.notebooks_dir() / name,
        out,
        parameters=parameters,
        cwd=paths.notebooks_dir(),
        kernel_name="python3",
        progress_bar=False,
    )
    return nbformat.read(out, as_version=4)


def output_of(nb: nbformat.NotebookNode, source_fragment: str, mime: str = "text/plain") -> str:
    cell = next(c for c in nb.cells if c.cell_type == "code" and source_fragment in c.source)
    return "\n".join(str(o.get("data", {}).get(mime, "")) + o.get("text", "") for o in cell.outputs)


def all_outputs(nb: nbformat.NotebookNode, mime: str) -> list[str]:
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code" for o in c.outputs if mime in o.get("data", {})]


def test_there_are_the_six_notebooks_and_an_index():
    names = [nb.name for nb in NOTEBOOKS]
    assert names == [
        "00_overview.ipynb",
        "10_evidence_map.ipynb",
        "20_compare_effects.ipynb",
        "30_claims_vs_evidence.ipynb",
        "40_topic_brief.ipynb",
        "45_summary_of_findings.ipynb",
    ]
    index = (paths.notebooks_dir() / "README.md").read_text(encoding="utf-8")
    for path in sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb")):
        assert path.name in index, f"{path.name} is missing from notebooks/README.md"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code_cells), "strip outputs before committing"
    first = code_cells[0]
    assert first.metadata.get("tags") == ["parameters"]
    tree = ast.parse(first.source)
    assert tree.body and all(
        isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant) for node in tree.body
    )
    assert {"renderer", "interactive"} <= {node.target.id for node in tree.body}
    assert all("#" in line for line in first.source.splitlines()), "every parameter carries a comment"
    live = [c for c in code_cells if "interactive" in c.metadata.get("tags", [])]
    assert len(live) == 1 and "nbval-ignore-output" in live[0].metadata["tags"]
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


def test_overview_shows_the_table_sizes(tmp_path):
    nb = run(tmp_path, "00_overview.ipynb")
    table = output_of(nb, "evidence.package_summary(package)")
    for name in ["studies", "findings", "claims", "claim_evidence"]:
        assert re.search(rf"\b{name}\s+{len(csv(name))}\b", table), (name, table)
    assert len(all_outputs(nb, "image/svg+xml")) == 1  # the inflammation-marker evidence map
    certainty = output_of(nb, "notebook.show_table(charts.certainty_overview(sof))")
    assert "very low" in certainty and "benefit" in certainty


def test_claims_notebook_shows_the_verdict_table(tmp_path):
    nb = run(tmp_path, "30_claims_vs_evidence.ipynb")
    table = output_of(nb, "charts.verdict_summary(claims)")
    claims = csv("claims")
    expected = pd.crosstab(claims["verdict"], claims["article_id"])
    for verdict, row in expected.iterrows():
        numbers = r"\s+".join(str(n) for n in row.tolist())
        assert re.search(rf"{verdict.replace('_', ' ')}\s+{numbers}\s+{row.sum()}", table), (verdict, table)
    assert f"{len(claims)} claims." in output_of(nb, 'render.markdown("{n} claims."', "text/markdown")


def test_topic_brief_for_a_topic(tmp_path):
    nb = run(tmp_path, "40_topic_brief.ipynb", topic="hiit_ra")
    studies = csv("studies").query("topic_code == 'hiit_ra'")
    findings = csv("findings")
    n_findings = findings["study_id"].isin(studies["study_id"]).sum()
    heading = output_of(nb, "describe_selection(selection)", "text/markdown")
    assert "## HIIT in rheumatoid arthritis" in heading
    n_studies = findings.loc[findings["study_id"].isin(studies["study_id"]), "study_id"].nunique()
    assert f"{n_findings} findings from {n_studies} studies" in heading
    references = output_of(nb, "export.reference_list(studies)", "text/markdown")
    assert all(f"**{s}**" in references for s in studies["study_id"])


def test_compare_effects_for_one_intervention(tmp_path):
    nb = run(tmp_path, "20_compare_effects.ipynb", intervention="omega3")
    omega3 = csv("findings").query("intervention_code == 'omega3'")
    summary = output_of(nb, "describe_selection(selection)", "text/markdown")
    assert summary.startswith(f"{len(omega3)} findings from {omega3['study_id'].nunique()} studies")
    assert len(all_outputs(nb, "image/svg+xml")) == 2  # forest plot and effects per outcome
    assert not any(
        c.metadata.get("tags") == ["interactive", "nbval-ignore-output"] and c.outputs
        for c in nb.cells
        if c.cell_type == "code"
    ), "no live panel in a report run"


def test_a_bad_parameter_fails_with_the_valid_choices(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match=r"choose one of: .*twenty_minute_walk"):
        run(tmp_path, "40_topic_brief.ipynb", topic="mice_become_athletes")
