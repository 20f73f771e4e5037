"""A lesson's predict-then-reveal widget in Voilà, in Debian Chromium with the network blocked."""

from __future__ import annotations

import pytest

from helpers import paths
from tests.browser import OUTPUT_DIR, offline_page, voila_server

pytestmark = [pytest.mark.browser, pytest.mark.notebook]


def test_prediction_widget_locks_the_choice_and_reveals_the_data_in_voila():
    from playwright.sync_api import expect, sync_playwright

    lesson = paths.notebooks_dir() / "50_lesson_acute_vs_chronic.ipynb"
    with (
        voila_server(lesson, OUTPUT_DIR / "voila_lesson.log") as url,
        sync_playwright() as playwright,
        offline_page(playwright) as (page, blocked, errors),
    ):
        page.goto(url, timeout=120_000)
        first = page.locator(".widget-vbox", has_text="During and right after a single workout").first
        expect(first).to_be_visible(timeout=120_000)
        commit = first.get_by_role("button", name="Commit my prediction")
        expect(commit).to_be_disabled()
        expect(first.locator("table")).to_have_count(0)  # nothing revealed before the prediction

        first.get_by_text("It goes down").click()
        expect(commit).to_be_enabled()
        commit.click()
        expect(first.get_by_text("Not quite: you predicted it goes down")).to_be_visible(timeout=30_000)
        # the data, after the commit (Grid.js draws its own sortable table; the escaped source table stays)
        expect(first.locator("table").first).to_be_visible(timeout=30_000)
        expect(first.locator("table").first).to_contain_text("Starkie et al. 2003")
        expect(commit).to_be_disabled()
        expect(first.locator("input[type=radio]").first).to_be_disabled()

        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        first.scroll_into_view_if_needed()
        page.screenshot(path=str(OUTPUT_DIR / "voila_lesson_prediction.png"))
        solution_visible = page.get_by_text("Solution.").count()
    assert solution_visible == 0, "the student view shows no solutions"
    assert not [u for u in blocked if u.endswith(".js") or "vega" in u], blocked
    assert not [e for e in errors if "is not defined" in e or "vega" in e.lower()], errors
