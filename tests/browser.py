"""Shared tools for the real-browser tests: Debian Chromium driven by Playwright, network blocked.

Never a downloaded browser: the tests use ``/usr/bin/chromium`` (Debian package ``chromium``), which
``.ci/run`` installs when missing. Every request that is not to this machine is aborted and recorded.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from helpers import paths

CHROMIUM = os.environ.get("EXINF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
#: Screenshots and logs of the browser tests land here (git-ignored), for people to look at.
OUTPUT_DIR = paths.REPO_ROOT / "build" / "test-output"


def require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"Debian Chromium is needed at {CHROMIUM}: apt-get install chromium "
            "(or set EXINF_CHROMIUM); .ci/run installs it"
        )
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
            return
        time.sleep(0.3)
    raise TimeoutError(f"no answer from {url} after {timeout:.0f} s")


@contextlib.contextmanager
def server_process(command: list[str], log_path: Path, ready_url: str, *, cwd=None, env=None):
    """Run a server (its output into ``log_path``) until ``ready_url`` answers; yield the process, then stop it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_http(ready_url, process)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def app_server(log_path: Path, ready_log: str | None = "is filled", **options):
    """Serve the app as ``exinf app`` does (helpers.app.voila_command); yields its base URL.

    Readiness is checked on a static file, not on the page, so that no visit uses up a preheated kernel;
    with a kernel pool, it waits until Voila logs the pool as filled (``ready_log``).
    """
    from helpers import app, serving

    port = free_port()
    command = app.voila_command(port=port, **options)
    url = f"http://127.0.0.1:{port}/"
    with server_process(
        command, log_path, url + "voila/static/voila.js", cwd=Path(command[1]).parent, env=serving.voila_env()
    ) as process:
        deadline = time.monotonic() + 120
        while ready_log and options.get("pool", app.DEFAULT_POOL) > 0 and ready_log not in log_path.read_text():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the app never got ready; see {log_path}")
            time.sleep(0.3)
        yield url


@contextlib.contextmanager
def offline_page(playwright):
    """A Chromium page that can reach only 127.0.0.1; yields (page, blocked_urls, console_errors)."""
    browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
    blocked: list[str] = []
    errors: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "data:", "blob:", "file://")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route("**/*", route)
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, blocked, errors
    finally:
        browser.close()


#: Elements allowed to be wider than a phone screen: they scroll sideways inside themselves.
SCROLLERS = ".exinf-table-wrap, .exinf-grid, .exinf-chart, .output_area, pre, .jp-OutputArea-output"

#: Page elements whose right edge passes the viewport, outside the scrolling containers above.
OVERFLOW_JS = (
    "(allowed) => Array.from(document.querySelectorAll('body *')).filter(e => {"
    " const r = e.getBoundingClientRect(); const style = getComputedStyle(e);"
    " return r.width > 0 && r.right > window.innerWidth + 1 && style.position !== 'fixed' && !e.closest(allowed); })"
    ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' right=' + Math.round(e.getBoundingClientRect().right))"
)


def overflowing(page) -> list[str]:
    """What sticks out of the viewport sideways (empty when the page fits a phone)."""
    return page.evaluate(OVERFLOW_JS, SCROLLERS) + (
        ["document"] if page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1") else []
    )
