"""The Voilà app in a real browser (Debian Chromium, network blocked): the controls drive the chart."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from helpers import paths
from tests.browser import OUTPUT_DIR, offline_page, voila_server

pytestmark = [pytest.mark.browser, pytest.mark.notebook]


def test_voila_app_redraws_chart_and_table_when_the_intervention_changes():
    from playwright.sync_api import expect, sync_playwright

    from helpers import charts, evidence
    from helpers.data import load_package

    findings = pd.read_csv(paths.data_dir() / "findings.csv", dtype=str, keep_default_na=False)
    omega3 = findings[findings["intervention_code"] == "omega3"]
    view = evidence.build_evidence_view(load_package())
    n_cells = len(evidence.summary_of_findings(evidence.filter_findings(view, interventions="omega3")))
    n_estimates = int(
        (charts.forest_table(evidence.filter_findings(view, interventions="omega3"))["kind"] == "reported").sum()
    )

    notebook = paths.notebooks_dir() / "20_compare_effects.ipynb"
    with (
        voila_server(notebook, OUTPUT_DIR / "voila.log") as url,
        sync_playwright() as playwright,
        offline_page(playwright) as (page, blocked, errors),
    ):
        page.goto(url, timeout=120_000)
        summary = page.locator(".widget-html", has_text="findings from")
        expect(summary).to_contain_text(f"{len(findings)} findings", timeout=120_000)
        panel_chart = page.locator(".widget-output .vega-embed svg").first
        expect(panel_chart).to_be_visible(timeout=60_000)
        before = panel_chart.inner_html()

        page.locator(".widget-dropdown:has(label:text-is('Intervention')) select").select_option(
            label="Omega-3 fatty acids"
        )
        expect(summary).to_contain_text(
            f"{len(omega3)} findings from {omega3['study_id'].nunique()} studies", timeout=30_000
        )
        title = f"Effects on a common scale ({n_estimates} of {n_estimates} estimates"
        expect(page.locator(".widget-output .vega-embed svg", has_text=title)).to_be_visible(timeout=30_000)
        assert panel_chart.inner_html() != before
        rows = page.locator(".widget-output table.dataframe tbody tr")
        expect(rows).to_have_count(n_cells + len(omega3), timeout=30_000)  # Summary of Findings, then findings

        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT_DIR / "voila_compare_effects_top.png"))
        page.locator(".widget-dropdown:has(label:text-is('Intervention'))").scroll_into_view_if_needed()
        page.screenshot(path=str(OUTPUT_DIR / "voila_compare_effects_omega3.png"))

    scripts_blocked = [u for u in blocked if re.search(r"\.(m?js)(\?|$)", u) or "vega" in u]
    assert scripts_blocked == [], f"the app tried to load scripts from the network: {scripts_blocked}"
    assert not [e for e in errors if "vega" in e.lower() or "is not defined" in e], errors
