"""Text from the data is never code: hostile values in many fields, in built pages, the Voilà app and exports.

A private copy of the data package gets markup and script in ordinary text fields (several payload shapes:
tags with event handlers, a ``</script>`` that would end a chart's script, Markdown links and images with
``javascript:`` and tracking URLs, BibTeX braces, RIS record breaks, spreadsheet formulas). The copy is
still valid data (free text may contain ``<``); every output must show it as text.
"""

from __future__ import annotations

import io
import json
import shutil

import pandas as pd
import pytest
import yaml

from helpers import evidence, export, paths, render, reports
from helpers.data import load_package
from tests.browser import OUTPUT_DIR, app_server, offline_page
from tests.conftest import read_rows, write_rows

PWN = "window.__pwned"
#: (table, key column, key, column, payload)
PAYLOADS = [
    ("studies", "study_id", "dimitrov2017", "short_cite", f'Dimitrov <img src=x onerror="{PWN}=1"> 2017'),
    ("studies", "study_id", "dimitrov2017", "full_citation", f"Dimitrov P. </script><script>{PWN}=2</script>"),
    ("studies", "study_id", "dimitrov2017", "title", "A title} , note = {forged\nER  - \nTY  - JOUR"),
    ("findings", "finding_id", "dimitrov2017_f01", "source_location", f"<script>{PWN}=3</script>abstract"),
    ("findings", "finding_id", "dimitrov2017_f01", "outcome_detail", f'"><svg onload={PWN}=4>'),
    ("findings", "finding_id", "dimitrov2017_f01", "note", '=HYPERLINK("http://evil.example","click")'),
    (
        "claims",
        "claim_id",
        "peloton_13",
        "claim",
        f'[x](javascript:{PWN}=5) ![t](http://evil.example/t.png) <iframe src="javascript:{PWN}=6"></iframe>',
    ),
    ("claims", "claim_id", "peloton_13", "rationale", f"<b onmouseover={PWN}=7>why</b> `code` **bold** # head"),
    ("topics", "topic_code", "twenty_minute_walk", "label", f"<img src=x onerror={PWN}=8>Walk"),
    ("interventions", "intervention_code", "acute_exercise", "label", f"</script><img src=x onerror={PWN}=9>Bout"),
    ("outcomes", "outcome_code", "tnf", "label", f"TNF<script>{PWN}=10</script>"),
]
TOPIC_LABEL = next(p for t, _, _, c, p in PAYLOADS if t == "topics")
INJECTED = "[onerror],[onload],[onmouseover],iframe,img[src='x'],img[src*='evil']"


def poison(data_dir) -> None:
    for table, key, value, column, payload in PAYLOADS:
        path = data_dir / f"{table}.csv"
        rows = read_rows(path)
        header = rows[0]
        row = next(r for r in rows[1:] if r[header.index(key)] == value)
        row[header.index(column)] = payload
        write_rows(path, rows)


@pytest.fixture(scope="module")
def hostile_data(tmp_path_factory):
    target = tmp_path_factory.mktemp("hostile") / "data"
    shutil.copytree(paths.data_dir(), target)
    poison(target)
    return target


@pytest.fixture(scope="module")
def hostile_package(hostile_data):
    return load_package(hostile_data)


def test_the_hostile_copy_is_valid_data(hostile_package):
    studies = hostile_package.studies.set_index("study_id")
    assert "onerror" in studies.at["dimitrov2017", "short_cite"]


# --------------------------------------------------------------------------------- the encoders
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "https:evil",
    ],
)
def test_only_web_addresses_become_links(url):
    assert render.safe_url(url) is None
    assert "<a" not in str(render.link("x", url)) and "](" not in render.markdown_link("x", url)


def test_links_are_percent_encoded_inside_the_attribute():
    html = str(render.link('a"b', 'https://example.org/x" onmouseover="alert(1)'))
    assert html.count('"') == 6 and "onmouseover=&#34;" not in html and "%22%20onmouseover" in html


@pytest.mark.parametrize("value", ["</script><script>alert(1)</script>", "</SCRIPT >", "<!--", "\u2028x", "a&b"])
def test_script_json_cannot_end_a_script_and_keeps_the_value(value):
    encoded = render.script_json({"title": value})
    assert "<" not in encoded and ">" not in encoded and "\u2028" not in encoded
    assert json.loads(encoded) == {"title": value}


def test_markdown_escaping_leaves_no_markup():
    import mistune  # the Markdown renderer of nbconvert, which turns report outputs into HTML

    for _, _, _, _, payload in PAYLOADS:
        rendered = mistune.html(render.markdown("Value: {v}", v=payload))
        assert "<" not in rendered.replace("<p>", "").replace("</p>", ""), rendered


# ------------------------------------------------------------------------------------ exports
def test_bibtex_of_hostile_data_parses_to_the_same_fields(hostile_package):
    import bibtexparser

    text = export.studies_to_bibtex(hostile_package.studies)
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    assert len(library.entries) == len(hostile_package.studies)
    entry = {e.key: e for e in library.entries}["dimitrov2017"]
    assert "forged" in entry["title"] and "note" not in entry.fields_dict, "no field can be added from a value"
    for entry in library.entries:
        assert set(entry.fields_dict) <= {
            "author", "title", "journal", "booktitle", "year", "volume", "number", "pages", "doi", "pmid", "url",
            "note", "howpublished",
        }  # fmt: skip


def test_ris_of_hostile_data_cannot_forge_a_record(hostile_package):
    import rispy

    records = rispy.loads(export.studies_to_ris(hostile_package.studies))
    assert len(records) == len(hostile_package.studies)
    dimitrov = next(r for r in records if r["id"] == "dimitrov2017")
    assert dimitrov["title"].startswith("A title} , note = {forged ER  -  TY  - JOUR")


def test_csv_exports_neutralise_formulas_only_for_spreadsheets(hostile_package):
    view = evidence.build_evidence_view(hostile_package)
    selection = view[view["study_id"] == "dimitrov2017"]
    verbatim = pd.read_csv(io.StringIO(export.findings_to_csv(selection)), dtype=str, keep_default_na=False)
    assert verbatim.set_index("finding_id").at["dimitrov2017_f01", "note"].startswith("=HYPERLINK")
    excel = export.findings_to_excel_csv(selection)
    assert excel.startswith("\ufeff".encode())
    table = pd.read_csv(io.BytesIO(excel), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert table.set_index("finding_id").at["dimitrov2017_f01", "note"].startswith("'=HYPERLINK")
    for column in table.columns:
        assert not table[column].str.match(r"^[=+@]").any(), column
    json.loads(export.studies_to_csl_json(hostile_package.studies))


def test_widget_html_escapes_data(hostile_package):
    from helpers.explorer import ClaimsExplorer

    panel = ClaimsExplorer(hostile_package)
    panel.claim.value = "peloton_13"
    assert "<iframe" not in panel.detail.value and "&lt;iframe" in panel.detail.value
    assert "<b onmouseover" not in panel.detail.value


# --------------------------------------------------------------------------- pages in Chromium
def hover_marks(page, selector: str, limit: int) -> None:
    """Hover chart marks (their tooltips show data text too); a mark redrawn away is skipped."""
    from playwright.sync_api import Error

    for mark in page.locator(selector).all()[:limit]:
        try:
            mark.hover(force=True, timeout=2_000)
        except Error:
            continue


HOSTILE_JOBS = [
    {"name": "overview", "notebook": "00_overview.ipynb"},
    {"name": "evidence-map", "notebook": "10_evidence_map.ipynb"},
    {
        "name": "compare-exercise",
        "notebook": "20_compare_effects.ipynb",
        "parameters": {"intervention_category": "exercise"},
    },
    {"name": "claims-review", "notebook": "30_claims_vs_evidence.ipynb"},
    {"name": "brief-walk", "notebook": "40_topic_brief.ipynb", "parameters": {"topic": "twenty_minute_walk"}},
]


@pytest.fixture(scope="module")
def hostile_site(hostile_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-site")
    plan_dir = root / "plan"
    plan_dir.mkdir()
    for job in HOSTILE_JOBS:
        for suffix in (".ipynb", ".yaml"):
            source = paths.notebooks_dir() / job["notebook"].replace(".ipynb", suffix)
            shutil.copy(source, plan_dir / source.name)
    plan = {"defaults": {"parameters": {"renderer": "html", "interactive": False}}, "jobs": HOSTILE_JOBS}
    (plan_dir / "reports.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXINF_DATA_DIR", str(hostile_data))
        result = reports.build_site(plan_dir / "reports.yaml", root / "out", progress=False)
    assert result.published, [r.error for r in result.failures]
    return root / "out" / reports.SITE_LINK


@pytest.mark.browser
@pytest.mark.notebook
@pytest.mark.parametrize("page_name", [f"{j['name']}.html" for j in HOSTILE_JOBS] + ["index.html", "changes.html"])
def test_no_data_text_runs_in_a_built_page(hostile_site, page_name):
    from playwright.sync_api import sync_playwright

    path = (hostile_site / page_name).resolve()
    with sync_playwright() as playwright, offline_page(playwright) as (page, blocked, errors):
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(path.as_uri())
        if "exinf-chart" in path.read_text(encoding="utf-8"):
            page.wait_for_function(
                "[...document.querySelectorAll('.exinf-chart')].every(el => el.querySelector('svg'))", timeout=30_000
            )
        page.mouse.move(5, 5)
        hover_marks(page, ".exinf-chart svg .mark-symbol path, .exinf-chart svg .mark-rect path", 15)
        assert page.evaluate(PWN) is None, "a value from the data ran as script"
        assert page.locator(INJECTED).count() == 0, "a value from the data became an element"
        assert dialogs == [] and blocked == [], (dialogs, blocked)
        assert not [e for e in errors if "SyntaxError" in e or "Unexpected" in e], errors
        text = page.evaluate("document.body.innerText")
        if page_name.startswith(("brief", "claims")):
            assert "onerror" in text or "<iframe" in text, "the hostile text is shown as text, not dropped"
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT_DIR / f"hostile_{page_name}.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.notebook
def test_tooltips_show_hostile_text_as_text(hostile_site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, offline_page(playwright) as (page, _blocked, _errors):
        page.goto((hostile_site / "brief-walk.html").resolve().as_uri())
        page.wait_for_function("document.querySelectorAll('.exinf-chart svg').length >= 2", timeout=30_000)
        tooltip_texts = []
        for mark in page.locator(".exinf-chart svg .mark-symbol path").all()[:30]:
            mark.hover(force=True)
            tooltip = page.locator("#vg-tooltip-element")
            if tooltip.count() and "Dimitrov" in (tooltip.inner_text() or ""):
                tooltip_texts.append(tooltip.inner_text())
                assert tooltip.locator("img").count() == 0
        assert any("onerror" in text for text in tooltip_texts), "a tooltip showed the hostile citation as text"
        assert page.evaluate(PWN) is None


@pytest.mark.browser
@pytest.mark.notebook
def test_no_data_text_runs_in_the_voila_app(hostile_data, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("EXINF_DATA_DIR", str(hostile_data))
    with (
        app_server(OUTPUT_DIR / "voila-hostile.log", pool=0) as url,
        sync_playwright() as playwright,
        offline_page(playwright) as (page, blocked, _errors),
    ):
        page.goto(url, timeout=120_000, wait_until="commit")
        summary = page.locator(".widget-html", has_text="findings from")
        expect(summary).to_be_visible(timeout=120_000)
        page.locator(".widget-dropdown:has(label:text-is('Topic')) select").select_option(label=TOPIC_LABEL)
        page.get_by_role("tab", name="Findings in view").click()
        expect(page.locator(".widget-output table").last).to_contain_text("onerror", timeout=30_000)
        hover_marks(page, ".widget-output svg .mark-symbol path", 10)
        assert page.evaluate(PWN) is None
        assert page.locator(INJECTED).count() == 0
        assert not [u for u in blocked if "evil" in u], blocked
        page.screenshot(path=str(OUTPUT_DIR / "voila_hostile.png"))
