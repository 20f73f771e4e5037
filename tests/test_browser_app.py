"""The Voilà app in a real browser (Debian Chromium, network blocked), served as ``make app`` serves it."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import paths
from tests.browser import OUTPUT_DIR, app_server, offline_page, overflowing

pytestmark = [pytest.mark.browser, pytest.mark.notebook]

INTERVENTION = ".widget-dropdown:has(label:text-is('Intervention')) select"


def test_app_opens_on_its_controls_and_redraws_offline():
    from playwright.sync_api import expect, sync_playwright

    from helpers import charts, evidence
    from helpers.data import load_package

    findings = pd.read_csv(paths.data_dir() / "findings.csv", dtype=str, keep_default_na=False)
    omega3 = findings[findings["intervention_code"] == "omega3"]
    view = evidence.filter_findings(evidence.build_evidence_view(load_package()), interventions="omega3")
    n_cells = len(evidence.summary_of_findings(view))
    n_estimates = int((charts.forest_table(view)["kind"] == "reported").sum())

    with (
        app_server(OUTPUT_DIR / "voila-app.log") as url,
        sync_playwright() as playwright,
        offline_page(playwright) as (page, blocked, errors),
    ):
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto(url, timeout=120_000, wait_until="commit")
        first_control = page.locator(".widget-dropdown select").first
        expect(first_control).to_be_visible(timeout=120_000)
        box = first_control.bounding_box()
        assert box["y"] + box["height"] <= 900 and box["x"] + box["width"] <= 1400, "controls in the first screen"
        chart_box = page.locator(".exinf-app-chart").bounding_box()
        assert chart_box["y"] < 900, "the chart starts in the first screen too, beside the filters"

        summary = page.locator(".widget-html", has_text="findings from")
        expect(summary).to_contain_text(f"{len(findings)} findings", timeout=60_000)
        chart = page.locator(".exinf-app-chart .vega-embed svg").first
        expect(chart).to_be_visible(timeout=60_000)
        before = chart.inner_html()
        page.screenshot(path=str(OUTPUT_DIR / "app_1400.png"))

        page.locator(INTERVENTION).select_option(label="Omega-3 fatty acids")
        expect(summary).to_contain_text(f"{len(omega3)} findings from {omega3['study_id'].nunique()} studies")
        title = f"Effects on a common scale ({n_estimates} of {n_estimates} estimates"
        expect(page.locator(".exinf-app-chart .vega-embed svg", has_text=title)).to_be_visible(timeout=30_000)
        assert chart.inner_html() != before
        sof_rows = page.locator(".widget-tab .widget-output").first.locator("table.exinf-table tbody tr")
        expect(sof_rows).to_have_count(n_cells, timeout=30_000)
        page.get_by_role("tab", name="Findings in view").click()
        finding_rows = page.locator("table.exinf-table", has=page.locator("th", has_text="PMID / DOI"))
        expect(finding_rows.locator("tbody tr")).to_have_count(len(omega3), timeout=30_000)
        assert page.locator("a[href^='https://pubmed.ncbi.nlm.nih.gov/'], a[href^='https://doi.org/']").count() > 0

        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(500)
        assert overflowing(page) == [], "at 390 px only tables and charts scroll sideways"
        page.screenshot(path=str(OUTPUT_DIR / "app_390.png"))
    assert blocked == [], f"the app asked the network for {blocked}"
    assert errors == [], errors


def test_a_full_server_says_so_and_frees_kernels_of_closed_tabs():
    """At the kernel cap the next visitor reads why (HTTP 503), and a closed tab's kernel is culled."""
    from playwright.sync_api import sync_playwright

    options = {"max_kernels": 1, "pool": 0, "cull_idle_s": 12}  # long enough for a page to connect to its kernel
    with (
        app_server(OUTPUT_DIR / "voila-cap.log", **options) as url,
        sync_playwright() as playwright,
        offline_page(playwright) as (page, _blocked, _errors),
    ):
        page.goto(url, timeout=120_000, wait_until="commit")
        page.locator(".widget-dropdown select").first.wait_for(timeout=120_000)
        second = page.context.browser.new_page()  # another visitor
        response = second.goto(url, timeout=60_000)
        assert response.status == 503
        assert "Too many open sessions" in second.content() and "close an unused tab" in second.content()
        page.close()  # the first visitor leaves: the culler shuts the kernel down after 12 idle seconds
        for _attempt in range(45):
            second.wait_for_timeout(1000)
            response = second.goto(url, timeout=60_000, wait_until="commit")
            if response.status == 200:
                break
        assert response.status == 200, "the closed tab's kernel was culled, so a new visitor gets in"
        second.locator(".widget-dropdown select").first.wait_for(timeout=120_000)
