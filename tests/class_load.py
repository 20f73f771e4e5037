"""A simulated class: one class server (``helpers.classroom``) and N students in one Chromium, one context each.

Shared by the class-mode test (``tests/test_class_mode.py``) and the ``class`` section of ``benchmarks/run.py``.
Every request that is not to 127.0.0.1 is aborted and recorded, as in :func:`tests.browser.offline_page`.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from helpers import classroom, serving
from tests.browser import CHROMIUM_ARGS, free_port, require_chromium, server_process

LESSON = "50_lesson_acute_vs_chronic.ipynb"
QUESTION = "During and right after a single workout"
WRONG_OPTION = "It goes down"
FEEDBACK = "Not quite: you predicted it goes down"

#: Records, inside the page, when the first question widget appears (ms after navigation start).
FIRST_WIDGET_JS = """
new MutationObserver((_, observer) => {
  if (document.querySelector('.widget-radio-box input')) {
    window.__exinfFirstWidgetMs = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


#: Grid.js (the table enhancer of helpers.offline) logs "[Grid.js] [ERROR]" while Voila streams a page under load;
#: the plain table then stays (checked by :func:`grids_rendered`), so the line is reported, not a class-mode error.
GRIDJS_LOG = "[Grid.js] [ERROR]"


def page_errors(errors: list[str]) -> list[str]:
    """Console and page errors, without Grid.js's own log lines (see :data:`GRIDJS_LOG`)."""
    return [e for e in errors if not e.startswith(GRIDJS_LOG)]


def grids_rendered(page) -> bool:
    """No table is lost to Grid.js: each long table is either still shown as the plain (escaped) table, or hidden
    behind a grid that shows its rows (a Grid.js log line never costs the student a table)."""
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('table[data-exinf-table=\"interactive\"]')).every(table => {"
        " if (table.style.display !== 'none') { return true; }"
        " const grid = table.previousElementSibling;"
        " return !!grid && grid.classList.contains('exinf-grid') && grid.querySelectorAll('.gridjs-tr').length > 1;"
        " })"
    )


@dataclass
class ClassServer:
    url: str
    process: subprocess.Popen
    log: Path

    def kernel_memory_mib(self) -> list[float]:
        """Resident memory of each kernel process of the server (MiB)."""
        import psutil

        memory = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:  # a kernel that is shutting down may be gone, or a zombie not yet reaped, by the time it is read
                if "ipykernel" in " ".join(child.cmdline()):
                    memory.append(child.memory_info().rss / 2**20)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        return memory

    def server_memory_mib(self) -> float:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss / 2**20


@contextlib.contextmanager
def class_server(student_set: Path, log: Path, max_kernels: int = 30, env: dict | None = None):
    """Write the student set and serve it as ``make class`` does, on a free port of 127.0.0.1; yield a server."""
    classroom.write_student_set(student_set)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = classroom.voila_command(student_set, port=port, max_kernels=max_kernels)
    with server_process(command, log, url, env=serving.voila_env(env)) as process:
        yield ClassServer(url, process, log)


@dataclass
class Student:
    page: object
    frames: list[str] = field(default_factory=list)
    first_widget_s: float | None = None
    reveal_s: float | None = None
    html_before_commit: str = ""
    frames_before_commit: str = ""


@contextlib.contextmanager
def students(playwright, n: int):
    """``n`` students: one Chromium, one browser context (own cookies, own kernel) each; yields (students, blocked,
    errors)."""
    browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
    blocked: list[str] = []
    errors: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    try:
        crowd = []
        for _ in range(n):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", route)
            context.add_init_script(FIRST_WIDGET_JS)
            page = context.new_page()
            student = Student(page)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("websocket", lambda ws, s=student: ws.on("framereceived", lambda f, s=s: s.frames.append(str(f))))
            crowd.append(student)
        yield crowd, blocked, errors
    finally:
        browser.close()


def open_lesson_together(crowd: list[Student], url: str, deadline: float) -> None:
    """Every student opens the lesson at the same moment; returns when each sees the first question widget."""
    from playwright.sync_api import expect

    target = url.rstrip("/") + "/voila/render/" + LESSON
    for student in crowd:  # navigation starts in the page, so all ten load at once
        student.page.evaluate("url => { window.location.href = url; }", target)
    for student in crowd:
        question = student.page.locator(".widget-vbox", has_text=QUESTION).first
        expect(question.get_by_role("button", name="Commit my prediction")).to_be_visible(
            timeout=max(1_000, (deadline - time.monotonic()) * 1000)
        )
        student.first_widget_s = student.page.evaluate("window.__exinfFirstWidgetMs") / 1000


def predict_then_reveal(student: Student, deadline: float) -> None:
    """Choose an answer, commit it and wait for the feedback and the revealed data."""
    from playwright.sync_api import expect

    page = student.page
    question = page.locator(".widget-vbox", has_text=QUESTION).first
    commit = question.get_by_role("button", name="Commit my prediction")
    expect(commit).to_be_disabled()
    student.html_before_commit = page.content()
    student.frames_before_commit = "\n".join(student.frames)
    question.get_by_text(WRONG_OPTION).click()
    expect(commit).to_be_enabled()
    start = time.perf_counter()
    commit.click()
    remaining = max(1_000, (deadline - time.monotonic()) * 1000)
    expect(question.get_by_text(FEEDBACK)).to_be_visible(timeout=remaining)
    expect(question.get_by_text("Starkie et al. 2003").first).to_be_visible(timeout=remaining)
    student.reveal_s = time.perf_counter() - start
