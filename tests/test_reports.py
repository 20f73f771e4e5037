"""The report builder: plan validation, end-to-end builds, failures, incremental skips, changes page."""

from __future__ import annotations

import json
import re
import shutil
import textwrap

import nbformat
import pandas as pd
import pytest
import yaml

from helpers import paths, reports
from helpers.data import load_package
from tests.browser import OUTPUT_DIR, offline_page, overflowing
from tests.conftest import read_rows, write_rows
from tests.plans import write_notebook

pytestmark = pytest.mark.notebook
NOTEBOOKS = sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
PY_TYPES = {"str": "string", "int": "integer", "bool": "boolean", "float": "number"}


def write_plan(folder, jobs, notebooks=("30_claims_vs_evidence", "40_topic_brief")) -> object:
    """A plan in ``folder`` with copies of the named notebooks and their sidecars."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem in notebooks:
        for suffix in (".ipynb", ".yaml"):
            shutil.copy(paths.notebooks_dir() / f"{stem}{suffix}", folder / f"{stem}{suffix}")
    plan = {"defaults": {"parameters": {"renderer": "html", "interactive": False}}, "jobs": jobs}
    (folder / "reports.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")
    return folder / "reports.yaml"


SMALL_JOBS = [
    {"name": "claims-review", "notebook": "30_claims_vs_evidence.ipynb"},
    {"name": "brief-hiit", "notebook": "40_topic_brief.ipynb", "parameters": {"topic": "hiit_ra"}},
]


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    plan = write_plan(root / "plan", SMALL_JOBS)
    out = root / "out"
    # One worker: the second job runs in the first job's kernel after a reset (the default warm path).
    first = reports.build_site(plan, out, jobs=1, progress=False)
    return plan, out, first


# ------------------------------------------------------------------------------------ the plan
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_sidecar_declares_exactly_the_parameters_cell(notebook):
    declared = reports.read_sidecar(notebook).parameters
    cell = reports.parameters_cell(notebook)
    assert set(declared) == set(cell)
    for name, (annotation, default) in cell.items():
        assert declared[name].type == PY_TYPES[annotation], name
        assert declared[name].default == default, name
        assert declared[name].description


def test_plan_covers_every_topic_and_category_and_the_fixed_reports():
    jobs = reports.load_plan()
    names = {job.name for job in jobs}
    topics = pd.read_csv(paths.data_dir() / "topics.csv", dtype=str)["topic_code"]
    assert {f"brief-{t}" for t in topics} <= names
    categories = set(pd.read_csv(paths.data_dir() / "interventions.csv", dtype=str)["intervention_category"])
    assert {f"compare-{c}" for c in categories} <= names
    assert {"overview", "claims-review", "evidence-map"} <= names
    brief = next(j for j in jobs if j.name == "brief-h2_copd")
    assert brief.title == "Molecular hydrogen in COPD: topic brief"
    assert brief.parameters == {"renderer": "html", "interactive": False, "topic": "h2_copd"}


def test_invalid_parameters_are_rejected_before_any_kernel_starts(tmp_path, capsys):
    plan = write_plan(
        tmp_path / "plan",
        [
            {"name": "bad-topic", "notebook": "40_topic_brief.ipynb", "parameters": {"topic": "mice_as_athletes"}},
            {"name": "bad-name", "notebook": "30_claims_vs_evidence.ipynb", "parameters": {"verdikt": "overstated"}},
            {"name": "bad-type", "notebook": "40_topic_brief.ipynb", "parameters": {"interactive": "no"}},
        ],
    )
    with pytest.raises(reports.PlanError) as raised:
        reports.load_plan(plan)
    problems = "\n".join(raised.value.problems)
    assert "bad-topic: topic='mice_as_athletes' is not valid; choose one of: 'gentle_exercise_inflammation'" in problems
    assert "'twenty_minute_walk'" in problems
    assert "unknown parameter 'verdikt'" in problems and "valid parameters: article, interactive" in problems
    assert "bad-type: interactive='no' should be of type boolean" in problems
    out = tmp_path / "out"
    assert reports.main_build(plan, out) == 2
    assert not (out / reports.BUILDS_DIR).exists(), "nothing may run, or be written, for an invalid plan"
    assert "choose one of" in capsys.readouterr().err


def test_unknown_only_name_lists_the_jobs(tmp_path):
    plan = write_plan(tmp_path / "plan", SMALL_JOBS)
    with pytest.raises(reports.PlanError, match="jobs: brief-hiit, claims-review"):
        reports.select_jobs(reports.load_plan(plan), ["brief-nope"])


# ------------------------------------------------------------------------------- a real build
def test_small_plan_builds_index_manifest_and_offline_html(small_build):
    _, out, result = small_build
    site = out / reports.SITE_LINK
    assert result.published and site.is_symlink() and site.resolve() == result.build_dir.resolve()
    manifest = json.loads((site / "manifest.json").read_text())
    descriptor = json.loads((paths.data_dir() / "datapackage.json").read_text())
    assert manifest["data_package"]["version"] == descriptor["version"]
    assert manifest["data_package"]["sha256"] == reports.data_package_hash(paths.data_dir())
    assert manifest["packages"]["papermill"] and manifest["packages"]["python"]
    assert [(j["name"], j["status"]) for j in manifest["jobs"]] == [("claims-review", "built"), ("brief-hiit", "built")]
    for job in manifest["jobs"]:
        assert job["duration_s"] > 0 and all((site / o).is_file() for o in job["outputs"])

    index = (site / "index.html").read_text()
    assert index.count("class='card'") == 2 and "data-job='brief-hiit'" in index
    assert '<a href="brief-hiit.html">HIIT in rheumatoid arthritis: topic brief</a>' in index
    assert f"from data package {descriptor['version']}" in index and "changes.html" in index

    page = (site / "brief-hiit.html").read_text()
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", page), "no resource from a network"
    assert page.count('class="exinf-chart"') >= 3 and "window.exinfAssets = window.exinfInflate(" in page
    assert len(page.encode()) <= 500_000, "a curated page is one file under half a megabyte (Vega compressed)"
    assert "notebook.start(" not in page, "code is hidden"
    assert "EvidenceExplorer" not in page, "the live-widget cell is dropped"
    assert "topic=hiit_ra</dd>" in page, "the build footer records the parameters"
    assert "<h1>HIIT in rheumatoid arthritis: topic brief</h1>" in page
    changes = (site / "changes.html").read_text()
    assert "first successful build" in changes


#: What differs between two builds of the same pages: chart element ids, papermill's parameters cell id, build times.
BUILD_NOISE = [
    (r"altair-viz-[0-9a-f]{32}", "altair-viz-ID"),
    (r'id="cell-id=[0-9a-f]{8}"', 'id="cell-id=ID"'),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "TIME"),
    (r"\d{8}T\d{12}Z", "BUILD"),
]


def normalised(page: str) -> str:
    for pattern, replacement in BUILD_NOISE:
        page = re.sub(pattern, replacement, page)
    return page


def test_fresh_kernels_build_the_same_pages_as_a_reset_warm_kernel(small_build, tmp_path):
    plan, out, _ = small_build
    fresh = reports.build_site(plan, tmp_path / "fresh", jobs=2, fresh_kernels=True, progress=False)
    assert [r.status for r in fresh.results] == ["built", "built"]
    warm_site = out / reports.SITE_LINK
    assert (
        fresh.manifest["kernels"] == "fresh per job" != json.loads((warm_site / "manifest.json").read_text())["kernels"]
    )
    for page in ("index.html", "claims-review.html", "brief-hiit.html"):
        warm_page, fresh_page = (warm_site / page).read_text(), (fresh.build_dir / page).read_text()
        assert normalised(warm_page) == normalised(fresh_page), page


def test_rebuild_with_nothing_changed_skips_and_force_rebuilds(small_build):
    plan, out, first = small_build
    again = reports.build_site(plan, out, progress=False)
    assert [r.status for r in again.results] == ["unchanged", "unchanged"]
    assert (out / reports.SITE_LINK).resolve() == again.build_dir.resolve()
    for output in again.results[1].outputs:
        assert (again.build_dir / output).read_bytes() == (first.build_dir / output).read_bytes()
    forced = reports.build_site(plan, out, only=["claims-review"], force=True, progress=False)
    assert {r.name: r.status for r in forced.results} == {"claims-review": "built", "brief-hiit": "carried_over"}
    assert (out / reports.SITE_LINK / "brief-hiit.html").is_file(), "a subset build keeps the site complete"


def test_a_built_report_draws_its_charts_offline_in_chromium(small_build):
    from playwright.sync_api import sync_playwright

    _, out, _ = small_build
    page_path = (out / reports.SITE_LINK / "brief-hiit.html").resolve()
    with sync_playwright() as playwright, offline_page(playwright) as (page, blocked, errors):
        page.goto(page_path.as_uri())
        page.wait_for_function("document.querySelectorAll('.vega-embed svg').length >= 3", timeout=30_000)
        assert page.locator(".vega-embed svg .mark-symbol, .vega-embed svg .mark-rect").count() >= 2
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT_DIR / "report_brief_hiit.png"), full_page=True)
        # Long tables become sortable and searchable: the search box filters the findings.
        grid = page.locator(".exinf-grid").first
        grid.wait_for(timeout=10_000)
        rows_before = grid.locator("tbody tr").count()
        grid.locator("input.gridjs-search-input").fill("zzzz-no-such-study")
        page.wait_for_timeout(600)
        assert rows_before > 1 and grid.locator("tbody tr td.gridjs-message").count() == 1
        for width in (390, 1400):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(300)
            assert overflowing(page) == [], f"nothing but tables and charts scrolls sideways at {width} px"
    assert blocked == [] and errors == []


# --------------------------------------------------------------------------------- failures
def failing_notebook(folder):
    sidecar = textwrap.dedent("""
        title: Always fails
        parameters:
          renderer: {type: string, enum: [html, svg, png], default: html, description: charts}
          interactive: {type: boolean, default: true, description: widgets}
    """)
    parameters = 'renderer: str = "html"  # unused\ninteractive: bool = True  # unused'
    write_notebook(folder / "99_fail.ipynb", parameters, "raise RuntimeError('the evidence table is on fire')", sidecar)


def test_a_failing_job_keeps_the_last_good_site_and_the_others_build(tmp_path, capsys):
    good = [{"name": "claims-review", "notebook": "30_claims_vs_evidence.ipynb"}]
    plan = write_plan(tmp_path / "plan", good)
    out = tmp_path / "out"
    assert reports.main_build(plan, out) == 0
    good_site = (out / reports.SITE_LINK).resolve()
    index_before = (good_site / "index.html").read_text()

    failing_notebook(tmp_path / "plan")
    write_plan(
        tmp_path / "plan",
        [
            *good,
            {"name": "broken", "notebook": "99_fail.ipynb"},
            {"name": "brief-hiit", "notebook": "40_topic_brief.ipynb", "parameters": {"topic": "hiit_ra"}},
        ],
    )
    assert reports.main_build(plan, out) == 1
    err = capsys.readouterr().err
    assert "FAILED broken" in err and "the evidence table is on fire" in err and "NOT published" in err
    assert (out / reports.SITE_LINK).resolve() == good_site, "the last good site stays in place"
    assert (good_site / "index.html").read_text() == index_before
    failed_build = max((out / reports.BUILDS_DIR).iterdir())
    assert failed_build != good_site
    assert (failed_build / "brief-hiit.html").is_file(), "the other jobs still build"
    executed = nbformat.read(failed_build / "notebooks" / "broken.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells for o in c.get("outputs", []))
    assert "the evidence table is on fire" in (failed_build / "index.html").read_text()


def test_a_second_build_at_once_is_refused_and_harms_nothing(small_build, capsys):
    plan, out, _ = small_build
    site_before = (out / reports.SITE_LINK).resolve()
    with reports.build_lock(out):
        assert reports.main_build(plan, out) == 3
    assert "another report build is running" in capsys.readouterr().err
    assert (out / reports.SITE_LINK).resolve() == site_before


# ------------------------------------------------------------------------------ what changed
def test_changes_page_lists_data_edits(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(paths.data_dir(), data)
    monkeypatch.setenv("EXINF_DATA_DIR", str(data))
    plan = write_plan(tmp_path / "plan", [{"name": "claims-review", "notebook": "30_claims_vs_evidence.ipynb"}])
    out = tmp_path / "out"
    reports.build_site(plan, out, progress=False)

    claims = read_rows(data / "claims.csv")
    header = claims[0]
    row = next(r for r in claims[1:] if r[header.index("verdict")] == "supported")
    claim_id = row[0]
    row[header.index("verdict")] = "overstated"
    write_rows(data / "claims.csv", claims)
    findings = read_rows(data / "findings.csv")
    new_finding = list(findings[1])
    new_finding[0] = new_finding[1] + "_f99"
    write_rows(data / "findings.csv", [findings[0], *sorted([*findings[1:], new_finding])])
    assert load_package(data).findings["finding_id"].str.endswith("_f99").sum() == 1  # still valid data

    second = reports.build_site(plan, out, progress=False)
    assert [r.status for r in second.results] == ["built"], "a data edit invalidates the job"
    changes = (out / reports.SITE_LINK / "changes.html").read_text()
    assert f"<code>{new_finding[0]}</code>" in changes
    assert f"{claim_id}: supported &rarr; overstated" in changes
    assert re.search(r"<h2 id='studies'>Studies</h2><p>No changes.</p>", changes)


def test_the_changes_between_two_snapshots_are_every_added_removed_and_changed_value(tmp_path):
    from helpers.reports.changes import diff_snapshots

    old, new = tmp_path / "old", tmp_path / "new"
    for folder in (old, new):
        folder.mkdir()
        (folder / "studies.csv").write_text("study_id,title\ns1,A\n", encoding="utf-8")  # the same bytes
        (folder / "claims.csv").write_text("claim_id,verdict\n", encoding="utf-8")
    (old / "findings.csv").write_text("finding_id,direction,note\nf1,increase,x\nf2,decrease,y\n", encoding="utf-8")
    (new / "findings.csv").write_text("finding_id,direction,unit\nf2,no_change,\nf3,increase,pg/ml\n", encoding="utf-8")
    changes = {c.table: c for c in diff_snapshots(old, new)}
    assert (changes["studies"].added, changes["studies"].removed, changes["studies"].changed) == ([], [], {})
    findings = changes["findings"]
    assert findings.added == ["f3"] and findings.removed == ["f1"]
    assert findings.changed == {"f2": [("direction", "decrease", "no_change"), ("note", "y", "")]}
