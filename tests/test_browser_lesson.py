"""A student grades claims in the class server (Voilà, Debian Chromium, network blocked): no curated verdict or
rationale reaches the browser before the commit, in the page or in the widget messages; after it, they all do."""

from __future__ import annotations

import html

import pytest

from helpers import lesson_questions as questions
from tests.browser import OUTPUT_DIR, overflowing
from tests.class_load import class_server, page_errors, students

pytestmark = [pytest.mark.browser, pytest.mark.notebook]


def test_claim_verdicts_stay_hidden_until_the_student_commits(package, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    claims = package.claims.set_index("claim_id")
    rationales = [claims.at[c, "rationale"][:50] for c in questions.GRADED_CLAIMS]
    with (
        class_server(tmp_path / "class", OUTPUT_DIR / "class_fact_check.log") as server,
        sync_playwright() as playwright,
        students(playwright, 1) as ([student], blocked, errors),
    ):
        page = student.page
        page.goto(server.url.rstrip("/") + "/voila/render/70_lesson_fact_check.ipynb", timeout=120_000)
        grading = page.locator(".widget-vbox", has_text="choose a verdict").first
        commit = grading.get_by_role("button", name="Commit my answer")
        expect(commit).to_be_disabled(timeout=120_000)
        expect(page.get_by_text("opens once you have committed your verdicts")).to_be_visible()
        grading.locator("details").first.click()  # the evidence behind the first claim: cards and findings
        expect(grading.locator(".exinf-study-card").first).to_be_visible()
        before = html.unescape(page.content()) + "\n".join(student.frames)
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        grading.scroll_into_view_if_needed()
        page.screenshot(path=str(OUTPUT_DIR / "class_fact_check_before.png"))

        for select in grading.locator("select").all():
            select.select_option(label="partly supported")
        expect(commit).to_be_enabled()
        commit.click()
        expect(grading.get_by_text("Curated verdict").first).to_be_visible(timeout=30_000)
        expect(page.locator(".widget-dropdown", has_text="Article")).to_be_visible(timeout=30_000)  # explorer opened
        after = html.unescape(page.content())
        page.screenshot(path=str(OUTPUT_DIR / "class_fact_check_after.png"))
        page.set_viewport_size({"width": 390, "height": 900})
        grading.scroll_into_view_if_needed()
        page.screenshot(path=str(OUTPUT_DIR / "class_fact_check_390.png"))
        sideways = overflowing(page)

    for text in rationales:
        assert text not in before, f"curated rationale reached the browser before the commit: {text!r}"
    assert "Curated verdict" not in before
    assert all(text in after for text in rationales), "every curated rationale is shown after the commit"
    assert not blocked and not page_errors(errors), (blocked, errors)
    assert not sideways, sideways
