"""Class mode (``make class``): ten students at once, answers kept back until the commit, errors that show."""

from __future__ import annotations

import asyncio
import html
import json
import time

import pytest
from tornado import web

from helpers import classroom, evidence
from helpers import lesson_questions as questions
from tests.browser import OUTPUT_DIR, offline_page
from tests.class_load import (
    class_server,
    grids_rendered,
    open_lesson_together,
    page_errors,
    predict_then_reveal,
    students,
)

N_STUDENTS = 10
#: A bound, not a speed target (benchmarks/run.py --only class measures): every wait of the class scenario uses
#: what is left of it, so a stuck page fails the test instead of hanging CI (2 cores).
TIME_LIMIT_S = 85


@pytest.fixture(scope="module")
def hidden_until_commit(package) -> list[str]:
    """Feedback of the first question that must not reach any browser before the student commits."""
    question = questions.il6_during_workout(evidence.build_evidence_view(package))
    return ["In the data it goes up"] + [c.misconception[:45] for c in question.choices if c.misconception]


@pytest.mark.browser
@pytest.mark.notebook
def test_ten_students_open_the_lesson_at_once_and_each_completes_a_prediction(tmp_path, hidden_until_commit):
    from playwright.sync_api import sync_playwright

    log = OUTPUT_DIR / "class_server.log"
    start = time.monotonic()
    with (
        class_server(tmp_path / "class", log, max_kernels=N_STUDENTS + 2) as server,
        sync_playwright() as playwright,
        students(playwright, N_STUDENTS) as (crowd, blocked, errors),
    ):
        deadline = start + TIME_LIMIT_S
        open_lesson_together(crowd, server.url, deadline)
        for student in crowd:
            predict_then_reveal(student, deadline)
        kernels = server.kernel_memory_mib()
        tables = [grids_rendered(s.page) for s in crowd]
        crowd[-1].page.screenshot(path=str(OUTPUT_DIR / "class_student_10.png"))
        after_commit = "\n".join(crowd[0].frames)
        for student in crowd[: N_STUDENTS // 2]:  # half the class closes its tab
            student.page.close(run_before_unload=True)
        left = wait_for_kernels(server, N_STUDENTS - N_STUDENTS // 2, timeout_s=15)
    assert len(kernels) == N_STUDENTS, "one kernel per student"
    assert left == N_STUDENTS - N_STUDENTS // 2, "a closed tab's kernel is shut down"
    assert all(s.reveal_s is not None for s in crowd), "every student saw the feedback and the data"
    assert not blocked, f"nothing is fetched from the network: {blocked}"
    assert not page_errors(errors), errors
    assert all(tables), "every student's tables rendered"
    for student in crowd:
        before = html.unescape(student.html_before_commit) + json.loads(json.dumps(student.frames_before_commit))
        for text in hidden_until_commit:
            assert text not in before, f"{text!r} reached the browser before the commit"
    assert hidden_until_commit[0] in after_commit, "the feedback travels only after the commit"


def wait_for_kernels(server, expected: int, timeout_s: float) -> int:
    """The number of kernels once it has fallen to ``expected`` (or what is left after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while len(server.kernel_memory_mib()) > expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return len(server.kernel_memory_mib())


def test_the_kernel_cap_refuses_one_kernel_too_many_with_a_reason():
    async def scenario():
        manager = classroom.ClassKernelManager(max_kernels=1)
        first = await manager.start_kernel(kernel_name="python3")
        try:
            with pytest.raises(web.HTTPError) as refused:
                await manager.start_kernel(kernel_name="python3")
            assert manager.list_kernel_ids() == [first]
        finally:
            await manager.shutdown_all()
        return refused.value

    refused = asyncio.run(scenario())
    assert refused.status_code == 503 and refused.reason == "The class is full"
    assert "places of this class are in use" in refused.log_message


@pytest.fixture
def dying_kernel(tmp_path) -> dict:
    """A Jupyter path whose python3 kernel exits at once, as a kernel in a broken environment does."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = ["python3", "-c", "import sys; sys.exit('broken on purpose')", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3 (broken)", "language": "python"}), encoding="utf-8"
    )
    return {"JUPYTER_PATH": str(tmp_path / "jupyter")}


@pytest.mark.browser
def test_a_kernel_that_cannot_start_shows_an_error_not_a_spinner(tmp_path, dying_kernel, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    for name, value in dying_kernel.items():
        monkeypatch.setenv(name, value)
    with (
        class_server(tmp_path / "class", OUTPUT_DIR / "class_broken_kernel.log") as server,
        sync_playwright() as playwright,
        offline_page(playwright) as (page, blocked, _errors),
    ):
        start = time.monotonic()
        page.goto(server.url.rstrip("/") + "/voila/render/50_lesson_acute_vs_chronic.ipynb", timeout=60_000)
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("The lesson could not start", timeout=45_000)
        shown_after = time.monotonic() - start
        expect(alert).to_contain_text("tell your teacher")
        page.screenshot(path=str(OUTPUT_DIR / "class_broken_kernel.png"))
    assert shown_after < 45 and not blocked


def test_the_student_set_holds_every_lesson_without_solutions(tmp_path):
    target = tmp_path / "class"
    target.mkdir()
    (target / "old.ipynb").write_text("{}", encoding="utf-8")  # a stale file of an earlier class
    written = classroom.write_student_set(target)
    assert [p.name for p in written] == [p.name for p in classroom.lessons()]
    assert sorted(p.name for p in target.iterdir()) == [p.name for p in written]
    for path in written:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        tags = {t for c in cells for t in c["metadata"].get("tags", [])}
        assert not tags & {"solution", "teacher-note"}
        assert all(c["metadata"]["jupyter"]["source_hidden"] for c in cells if c["cell_type"] == "code")
