"""Builds that survive their faults: malformed plans, hung cells, signals, killed workers, stale locks, I/O errors.

After every fault: the last good site is byte-identical, the failure is named, no process of the failed build
is left (every worker and kernel carries the build's mark in its environment), and the next build succeeds.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from helpers import reports
from helpers.reports.engine import BUILD_ID_VARIABLE
from tests.plans import write_jobs, write_notebook

pytestmark = pytest.mark.notebook

SIDECAR = textwrap.dedent("""
    title: "Tiny report {label}"
    description: A notebook for fault tests.
    parameters:
      label: {type: string, default: a, description: a label}
      seconds: {type: number, default: 0, description: how long the second cell sleeps}
      crash: {type: string, enum: ["", raise, kill_worker], default: "", description: what goes wrong}
""")
PARAMETERS = 'label: str = "a"  # a label\nseconds: float = 0  # sleep\ncrash: str = ""  # what goes wrong'
BODY = textwrap.dedent("""
    import os, signal, time
    print("report", label)
    time.sleep(seconds)
    if crash == "raise":
        raise RuntimeError("the evidence table is on fire")
    if crash == "kill_worker":
        os.kill(os.getppid(), signal.SIGKILL)  # the kernel's parent is the worker: as the OOM killer would
        time.sleep(30)
""")


def tiny_plan(folder: Path, jobs: list[dict], **defaults) -> Path:
    """A plan of tiny, fast notebooks (no data, no charts) for fault tests."""
    write_notebook(folder / "tiny.ipynb", PARAMETERS, BODY, SIDECAR, title="# Tiny")
    return write_jobs(folder, [{"notebook": "tiny.ipynb", **job} for job in jobs], **defaults)


def site_digest(out: Path) -> dict[str, str]:
    """Every file of the published site with its sha256 (the site must stay byte-identical after a fault)."""
    site = (out / reports.SITE_LINK).resolve()
    return {
        p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in site.rglob("*")
        if p.is_file()
    }


def marked_processes(build_id: str | None = None) -> list[psutil.Process]:
    """Live processes carrying a build mark (optionally one build's)."""
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            mark = process.environ().get(BUILD_ID_VARIABLE)
        except psutil.Error:
            continue
        if mark and (build_id is None or mark == build_id) and process.pid != os.getpid():
            found.append(process)
    return found


def wait_until_gone(build_id: str, timeout: float = 15.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in marked_processes(build_id) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not left:
            return []
        time.sleep(0.25)
    return left


@pytest.fixture
def good_site(tmp_path):
    """A published site of two tiny reports, and its plan folder."""
    plan = tiny_plan(tmp_path / "plan", [{"name": "one"}, {"name": "two", "parameters": {"label": "b"}}])
    out = tmp_path / "out"
    assert reports.main_build(plan, out, jobs=2) == 0
    return plan, out


def start_builder(plan: Path, out: Path, *extra: str) -> subprocess.Popen:
    """``exinf reports`` in its own process (so that it can be signalled and killed)."""
    return subprocess.Popen(
        [sys.executable, "-m", "helpers", "reports", "--plan", str(plan), "--out", str(out), "--jobs", "2", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_running_job(builder: subprocess.Popen, timeout: float = 60.0) -> str:
    """Wait until the builder's kernels are running a notebook; return the build's id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert builder.poll() is None, builder.communicate()
        for process in psutil.Process(builder.pid).children(recursive=True):
            try:
                if "ipykernel" in " ".join(process.cmdline()):
                    build_id = process.environ().get(BUILD_ID_VARIABLE)
                    if build_id:
                        time.sleep(3)  # let the kernel start executing the notebook
                        return build_id
            except psutil.Error:
                continue
        time.sleep(0.2)
    raise TimeoutError("no kernel started")


# ------------------------------------------------------------------------------- malformed plans
@pytest.mark.parametrize(
    ("plan_text", "expected"),
    [
        ("- name: a\n  notebook: tiny.ipynb\n", ["the plan: got [{'name': 'a'", "expected a mapping"]),
        ("jobs:\n  - notebook: tiny.ipynb\n", ["jobs[0]: 'name' is required"]),
        ("jobs:\n  - name: 'r-{labell}'\n    notebook: tiny.ipynb\n", ["unknown field(s) 'labell'", "crash, label"]),
        ("jobs:\n  - name: 'r-{0}'\n    notebook: tiny.ipynb\n", ["unknown field(s) '0'"]),
        ("jobs:\n  - name: 'r-{label'\n    notebook: tiny.ipynb\n", ["the name template is malformed"]),
        ("jobs:\n  - name: r\n    notebook: tiny.ipynb\n    for_each: [label]\n", ["jobs[0].for_each", "a mapping"]),
        ("jobs:\n  - name: r\n    notebook: tiny.ipynb\n    for_each: {label: topics}\n", ["table.column"]),
        (
            "jobs:\n  - name: r-{label}\n    notebook: tiny.ipynb\n    for_each: {label: topics.nope}\n",
            ["'topics.nope' is not a column"],
        ),
        (
            "jobs:\n  - name: r\n    notebook: tiny.ipynb\n    parameters: [label, a]\n",
            ["jobs[0].parameters", "a mapping"],
        ),
        ("jobs:\n  - name: r\n    notebook: tiny.ipynb\n    paramters: {}\n", ["'paramters' was unexpected"]),
        ("jobs: []\n", ["jobs: [] should be non-empty"]),
        ("jobs:\n  - {name: r, notebook: ../../etc/x.ipynb}\n", ["notebook", "not found"]),
        ("jobs: [\n", ["cannot read the plan"]),
        ("defaults: {cell_timeout_s: -1}\njobs:\n  - {name: r, notebook: tiny.ipynb}\n", ["cell_timeout_s"]),
    ],
)
def test_every_bad_plan_gets_a_message_and_exit_2_before_anything_runs(tmp_path, capsys, plan_text, expected):
    plan = tiny_plan(tmp_path / "plan", [{"name": "x"}])
    plan.write_text(plan_text, encoding="utf-8")
    out = tmp_path / "out"
    assert reports.main_build(plan, out) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for words in expected:
        assert words in err, err
    assert not (out / reports.BUILDS_DIR).exists(), "nothing may run, or be written, for an invalid plan"


def test_all_plan_problems_are_listed_at_once(tmp_path):
    plan = tiny_plan(tmp_path / "plan", [{"name": "x"}])
    plan.write_text(
        "jobs:\n  - notebook: tiny.ipynb\n  - name: b\n    notebook: tiny.ipynb\n    parameters: [1]\n  - name: c\n",
        encoding="utf-8",
    )
    with pytest.raises(reports.PlanError) as raised:
        reports.load_plan(plan)
    assert len(raised.value.problems) == 3, raised.value.problems


# ------------------------------------------------------------------------------- quiet progress
def test_the_command_shows_progress_and_failures_but_no_kernel_warnings(tmp_path):
    jobs = [
        {"name": "one"},
        {"name": "two", "parameters": {"label": "b"}},
        {"name": "boom", "parameters": {"crash": "raise"}},
    ]
    plan = tiny_plan(tmp_path / "plan", jobs)
    builder = start_builder(plan, tmp_path / "out")  # two workers, three jobs: one runs in a reset kernel
    stdout, stderr = builder.communicate(timeout=120)
    assert builder.returncode == 1
    assert "2 built, 1 failed" in stdout
    assert "FAILED boom: RuntimeError: the evidence table is on fire" in stderr, "failures stay loud"
    assert "3/3" in stderr, "the progress bar reached the end"
    # ipykernel warns on every kernel start (TCP without encryption): that goes to the build's logs/, not here.
    assert "WARNING" not in stderr and "IPKernelApp" not in stderr and "encryption" not in stderr


# ---------------------------------------------------------------------------------- hung cells
def test_a_hanging_cell_times_out_and_names_its_job(good_site, capsys):
    plan, out = good_site
    before = site_digest(out)
    tiny_plan(plan.parent, [{"name": "one"}, {"name": "hangs", "parameters": {"seconds": 600}}])
    started = time.monotonic()
    assert reports.main_build(plan, out, jobs=2, cell_timeout_s=3) == 1
    assert time.monotonic() - started < 60
    err = capsys.readouterr().err
    assert "FAILED hangs" in err and "cell timeout of 3 s" in err
    assert site_digest(out) == before, "the last good site stays byte-identical"
    failed = max((out / reports.BUILDS_DIR).iterdir())
    assert (failed / "one.html").is_file(), "the other job still built"
    assert marked_processes(failed.name) == [], "no worker or kernel of the build is left"
    tiny_plan(plan.parent, [{"name": "one"}, {"name": "two", "parameters": {"label": "b"}}])
    assert reports.main_build(plan, out) == 0, "the next build succeeds"


def test_the_plan_sets_the_cell_timeout(tmp_path):
    plan = tiny_plan(tmp_path / "plan", [{"name": "a", "cell_timeout_s": 7}, {"name": "b"}], cell_timeout_s=42)
    jobs = {job.name: job for job in reports.load_plan(plan)}
    assert (jobs["a"].cell_timeout_s, jobs["b"].cell_timeout_s) == (7, 42)
    assert {j.cell_timeout_s for j in reports.load_plan(plan, cell_timeout_s=2)} == {2}
    assert reports.load_plan(tiny_plan(tmp_path / "p2", [{"name": "c"}]))[0].cell_timeout_s == 300


# ------------------------------------------------------------------------------------- signals
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_sigint_stops_workers_and_kernels_and_keeps_the_site(good_site, signum):
    plan, out = good_site
    before = site_digest(out)
    builds_before = set((out / reports.BUILDS_DIR).iterdir())
    tiny_plan(
        plan.parent, [{"name": "one", "parameters": {"seconds": 120}}, {"name": "two", "parameters": {"seconds": 120}}]
    )
    builder = start_builder(plan, out, "--force")
    build_id = wait_for_running_job(builder)
    builder.send_signal(signum)
    _, err = builder.communicate(timeout=30)
    assert builder.returncode == 128 + signum
    assert f"interrupted by {signal.Signals(signum).name}" in err and "last good site is unchanged" in err
    assert "Traceback" not in err
    assert wait_until_gone(build_id, timeout=5) == [], "workers and kernels were stopped with the build"
    assert site_digest(out) == before
    assert set((out / reports.BUILDS_DIR).iterdir()) == builds_before, "the partial build was removed"
    tiny_plan(plan.parent, [{"name": "one"}])
    assert reports.main_build(plan, out) == 0


def test_sigkill_of_the_builder_leaves_no_process_and_no_lock(good_site):
    plan, out = good_site
    before = site_digest(out)
    tiny_plan(
        plan.parent, [{"name": "one", "parameters": {"seconds": 120}}, {"name": "two", "parameters": {"seconds": 120}}]
    )
    builder = start_builder(plan, out, "--force")
    build_id = wait_for_running_job(builder)
    builder.kill()
    builder.communicate(timeout=10)
    assert wait_until_gone(build_id) == [], "orphaned workers and kernels end themselves"
    assert site_digest(out) == before
    tiny_plan(plan.parent, [{"name": "one"}])
    assert reports.main_build(plan, out) == 0, "no lock is left behind"


# ------------------------------------------------------------------------------- a dying worker
def test_a_killed_worker_fails_only_its_job(good_site, capsys):
    plan, out = good_site
    before = site_digest(out)
    tiny_plan(
        plan.parent,
        [
            {"name": "one"},
            {"name": "oom", "parameters": {"crash": "kill_worker"}},
            {"name": "three", "parameters": {"label": "c", "seconds": 2}},
            {"name": "four", "parameters": {"label": "d"}},
        ],
    )
    assert reports.main_build(plan, out, jobs=2, force=True) == 1
    err = capsys.readouterr().err
    assert "FAILED oom" in err and "worker process died (killed by SIGKILL)" in err
    failed = max((out / reports.BUILDS_DIR).iterdir())
    manifest = json.loads((failed / "manifest.json").read_text())
    assert {j["name"]: j["status"] for j in manifest["jobs"]} == {
        "one": "built",
        "oom": "failed",
        "three": "built",
        "four": "built",
    }
    assert site_digest(out) == before
    assert marked_processes(failed.name) == [], "no worker or kernel of the build is left"
    tiny_plan(plan.parent, [{"name": "one"}])
    assert reports.main_build(plan, out) == 0


# ---------------------------------------------------------------------------------------- locks
def test_a_lock_left_by_a_dead_build_is_taken_over(good_site, capsys):
    plan, out = good_site
    lock = out / reports.LOCK_NAME
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    # A stray process of a dead build still holds the lock; the lock names the dead build as its owner.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, json, os, sys, time, socket\n"
            f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            f"os.ftruncate(fd, 0); os.write(fd, json.dumps({{'pid': {dead.pid}, 'started': 1.0, "
            "'host': socket.gethostname(), 'since': 'yesterday'}).encode())\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert reports.main_build(plan, out, force=True) == 0
        assert "was left by a build that has ended" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_a_lock_held_by_a_live_build_is_respected(good_site, capsys):
    plan, out = good_site
    with reports.build_lock(out):
        assert reports.main_build(plan, out) == 3
    assert f"pid {os.getpid()}" in capsys.readouterr().err


def test_workers_never_inherit_the_lock(good_site):
    plan, out = good_site
    tiny_plan(plan.parent, [{"name": "one", "parameters": {"seconds": 60}}])
    builder = start_builder(plan, out, "--force")
    try:
        build_id = wait_for_running_job(builder)
        lock = str((out / reports.LOCK_NAME).resolve())
        for process in marked_processes(build_id):
            assert lock not in [f.path for f in process.open_files()], process.cmdline()
    finally:
        builder.kill()
        builder.communicate()


# ----------------------------------------------------------------------------------- I/O errors
def test_disk_full_is_one_line_naming_the_path_and_cleans_up(good_site, capsys, monkeypatch):
    plan, out = good_site
    before = site_digest(out)
    builds_before = set((out / reports.BUILDS_DIR).iterdir())
    real_write_text = Path.write_text

    def full_disk(self, *args, **kwargs):
        if self.name == "manifest.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    assert reports.main_build(plan, out, force=True) == 4
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "manifest.json" in errors[0] and "No space left on device" in errors[0]
    assert site_digest(out) == before
    assert set((out / reports.BUILDS_DIR).iterdir()) == builds_before, "the failed build removed what it wrote"
    monkeypatch.undo()
    assert reports.main_build(plan, out, force=True) == 0


def test_read_only_output_folder_is_reported(tmp_path, capsys, monkeypatch):
    plan = tiny_plan(tmp_path / "plan", [{"name": "one"}])
    out = tmp_path / "readonly" / "out"
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if str(self).startswith(str(tmp_path / "readonly")):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    assert reports.main_build(plan, out) == 4
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Read-only file system" in err and str(out) in err
