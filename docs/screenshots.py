"""Take the README's screenshots (``make screenshots``): the app and a report page, in Debian Chromium.

The app is served as ``make app`` serves it (on a free port of 127.0.0.1); the report is the published
``reports/site`` (``make screenshots`` builds it first). The network is blocked, as in the browser tests, so a
screenshot never shows something a reader without a network would not see. Writes ``docs/screenshots/*.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.browser (the shared Chromium set-up)

from tests.browser import OUTPUT_DIR, app_server, offline_page  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
REPORT = "compare-exercise.html"


def main() -> int:
    from playwright.sync_api import sync_playwright

    site = ROOT / "reports" / "site"
    if not (site / REPORT).is_file():
        print(f"no {site / REPORT}: run make reports first", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright, offline_page(playwright) as (page, blocked, errors):
        page.set_viewport_size({"width": 1400, "height": 900})
        with app_server(OUTPUT_DIR / "screenshots-app.log") as url:
            page.goto(url, timeout=120_000)
            page.locator(".vega-embed svg").first.wait_for(timeout=120_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(OUT / "app.png"))
            page.goto("about:blank")  # leave before the server stops: no reconnect attempts
        page.goto(f"file://{site.resolve() / REPORT}")
        page.locator(".exinf-chart svg").first.wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(OUT / "report.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(500)
        page.screenshot(path=str(OUT / "report-phone.png"))
    if blocked or errors:
        print(f"network requests {blocked}, console errors {errors}", file=sys.stderr)
        return 1
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('*.png')))} in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
