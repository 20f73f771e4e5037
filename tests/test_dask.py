"""Scale-out: the Dask executor (a LocalCluster of 2 worker processes) and sharded builds with their merge.

Whatever runs the jobs, the published site is the same: the pages, the executed notebooks' outputs, the index, the
"what changed" page and the data snapshot match a local build, once build ids, times and chart ids are set aside.
"""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import dask
import nbformat
import psutil
import pytest
from distributed import Client, LocalCluster

from helpers import cli, paths, reports
from helpers.reports import cluster as dask_executor
from tests.test_build_faults import start_builder, tiny_plan
from tests.test_reports import write_plan

pytestmark = pytest.mark.notebook

TINY_JOBS = [
    {"name": "one", "notebook": "tiny.ipynb"},
    {"name": "two", "notebook": "tiny.ipynb", "parameters": {"label": "b"}},
    {"name": "three", "notebook": "tiny.ipynb", "parameters": {"label": "c"}},
]
# One real report too: charts, tables and the offline page shell must come out of a worker the same.
REAL_JOB = {"name": "claims-review", "notebook": "30_claims_vs_evidence.ipynb"}
VARYING = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "<time>"),
    (re.compile(r"\d{8}T\d{12}Z"), "<build>"),
    (re.compile(r"altair-viz-[0-9a-f]{32}"), "<chart>"),
    (re.compile(r"cell-id=[0-9a-f]{8}"), "<papermill's cell id>"),
]


def mixed_plan(folder: Path, jobs: list[dict]) -> Path:
    """A plan of tiny notebooks (and the claims review) in ``folder``."""
    tiny_plan(folder, [])
    return write_plan(folder, jobs, notebooks=("30_claims_vs_evidence",))


def normalised(text: str) -> str:
    for pattern, placeholder in VARYING:
        text = pattern.sub(placeholder, text)
    return text


def site_view(site: Path) -> dict[str, object]:
    """What a reader gets from a site, minus what differs between any two builds (ids, times, kernel logs)."""
    view: dict[str, object] = {}
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        name = path.relative_to(site).as_posix()
        if name.startswith("logs/") or name == "manifest.json":
            continue
        if path.suffix == ".ipynb":
            notebook = nbformat.read(path, as_version=4)
            view[name] = [normalised(json.dumps(cell.get("outputs", []), sort_keys=True)) for cell in notebook.cells]
        else:
            view[name] = normalised(path.read_text(encoding="utf-8"))
    manifest = json.loads((site / "manifest.json").read_text())
    view["manifest jobs"] = [
        {k: job[k] for k in ("name", "status", "fingerprint", "outputs", "parameters", "error")}
        for job in manifest["jobs"]
    ]
    return view


def kernels_under(process: psutil.Process) -> list[psutil.Process]:
    return [p for p in process.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes with one thread each; a worker that dies fails its job at once (no retry)."""
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
    ):
        yield local


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> Path:
    return mixed_plan(tmp_path_factory.mktemp("plan"), [*TINY_JOBS, REAL_JOB])


@pytest.fixture(scope="module")
def local_site(plan, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local")
    assert reports.main_build(plan, out, jobs=2, progress=False) == 0
    return out / reports.SITE_LINK


@pytest.fixture(scope="module")
def shard_outs(plan, cluster, tmp_path_factory) -> list[Path]:
    """Shard 1/2 built on the local pool, shard 2/2 on the cluster: a shard may run anywhere."""
    first, second = tmp_path_factory.mktemp("shard1"), tmp_path_factory.mktemp("shard2")
    assert reports.main_build(plan, first, jobs=1, shard=(1, 2), progress=False) == 0
    assert reports.main_build(plan, second, scheduler=cluster.scheduler_address, shard=(2, 2), progress=False) == 0
    return [first, second]


# ------------------------------------------------------------------------------------------- Dask
def test_the_dask_executor_publishes_the_same_site_as_the_local_pool(plan, local_site, cluster, tmp_path):
    out = tmp_path / "out"
    assert reports.main_build(plan, out, scheduler=cluster.scheduler_address, progress=False) == 0
    site = out / reports.SITE_LINK
    manifest = json.loads((site / "manifest.json").read_text())
    assert manifest["executor"].startswith(f"Dask cluster at {cluster.scheduler_address} (2 workers")
    assert [j["status"] for j in manifest["jobs"]] == ["built"] * 4
    assert site_view(site) == site_view(local_site)
    assert (site / "claims-review.html").stat().st_size > 100_000, "the page (with its charts) came back"
    assert kernels_under(psutil.Process()) == [], "the build's end stopped every kernel on the workers"
    with Client(cluster.scheduler_address) as client:
        scratch = client.run(lambda dask_worker: list(Path(dask_worker.local_directory).glob("exinf/*")))
    assert list(scratch.values()) == [[], []], "the workers' scratch folders are removed"


def test_on_dask_a_failing_job_fails_alone_and_nothing_is_published(cluster, tmp_path, capsys):
    plan = tiny_plan(
        tmp_path / "plan",
        [
            {"name": "one"},
            {"name": "broken", "parameters": {"crash": "raise"}},
            {"name": "oom", "parameters": {"crash": "kill_worker"}},
            {"name": "four", "parameters": {"label": "d", "seconds": 1}},
        ],
    )
    out = tmp_path / "out"
    assert reports.main_build(plan, out, scheduler=cluster.scheduler_address, progress=False) == 1
    err = capsys.readouterr().err
    assert "FAILED broken" in err and "the evidence table is on fire" in err
    assert "FAILED oom: the worker process died while running this job (tcp://" in err
    assert "NOT published" in err and not (out / reports.SITE_LINK).exists()
    failed = next((out / reports.BUILDS_DIR).iterdir())
    statuses = {j["name"]: j["status"] for j in json.loads((failed / "manifest.json").read_text())["jobs"]}
    assert statuses == {"one": "built", "broken": "failed", "oom": "failed", "four": "built"}
    assert (failed / "four.html").is_file() and (failed / "one.html").is_file(), "the other jobs still built"
    executed = nbformat.read(failed / "notebooks" / "broken.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells for o in c.get("outputs", []))
    with Client(cluster.scheduler_address) as client:
        client.wait_for_workers(2, timeout=30)  # the nanny replaced the killed worker


def test_sigterm_stops_the_builds_kernels_on_the_workers_and_removes_the_partial_build(cluster, tmp_path):
    plan = tiny_plan(tmp_path / "plan", [{"name": "one", "parameters": {"seconds": 120}}, {"name": "two"}])
    out = tmp_path / "out"
    builder = start_builder(plan, out, "--executor", "dask", "--scheduler", cluster.scheduler_address)
    deadline = time.monotonic() + 60
    while not kernels_under(psutil.Process()) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # the kernel is running the notebook
    builder.send_signal(signal.SIGTERM)
    _, err = builder.communicate(timeout=30)
    assert builder.returncode == 143 and "interrupted by SIGTERM" in err, err
    deadline = time.monotonic() + 10
    while kernels_under(psutil.Process()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kernels_under(psutil.Process()) == [], "the build's kernels on the workers were stopped"
    assert list((out / reports.BUILDS_DIR).iterdir()) == [], "the partial build was removed"
    with Client(cluster.scheduler_address) as client:
        assert len(client.nthreads()) == 2, "the workers stay up for the next build"


def test_a_worker_whose_inputs_differ_refuses_the_job(plan, cluster):
    job = reports.load_plan(plan)[0]
    expected = ("a-data-package-this-worker-does-not-have", reports.code_hash())
    with Client(cluster.scheduler_address) as client:
        client.register_plugin(dask_executor.KernelPlugin("check"), name=dask_executor.PLUGIN_NAME)
        try:
            result, files = client.submit(
                dask_executor.run_on_worker, job, "0" * 64, {}, reports.EngineOptions(), expected
            ).result()
        finally:
            client.unregister_worker_plugin(dask_executor.PLUGIN_NAME)
    assert result.status == "failed" and files == {}
    assert "has a different data package than the builder" in result.error
    assert "helpers code" not in result.error


def test_an_unreachable_scheduler_is_exit_2_before_anything_is_written(plan, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT_S", 1)
    out = tmp_path / "out"
    assert reports.main_build(plan, out, scheduler="tcp://127.0.0.1:9", progress=False) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not out.exists()


def test_the_command_line_offers_the_executors_and_checks_their_options(capsys):
    def exinf(*args: str) -> tuple[int, str, str]:
        try:
            code = cli.main(list(args))
        except SystemExit as exit:  # argparse: --help, and usage errors
            code = exit.code
        return code, *capsys.readouterr()

    _, help_text, _ = exinf("reports", "--help")
    for option in ("--executor {local,dask}", "--scheduler ADDRESS", "--shard I/N", "--reuse-from SITE"):
        assert option in help_text
    assert "SHARD_DIR" in exinf("merge-reports", "--help")[1]
    for args, message in [
        (["--executor", "dask"], "--executor dask needs --scheduler"),
        (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler is for --executor dask"),
        (["--shard", "3/2"], "I must be between 1 and N"),
        (["--shard", "half"], "is not I/N"),
        (["--reuse-from", "reports"], "--reuse-from is for --shard builds"),
    ]:
        code, _, err = exinf("reports", *args)
        assert code == 2 and message in err, err


# ----------------------------------------------------------------------------------------- shards
def test_shards_partition_the_plan_and_their_merge_is_the_same_site(plan, local_site, shard_outs, tmp_path):
    names = [job.name for job in reports.load_plan(plan)]
    parts = []
    for index, shard_out in enumerate(shard_outs, start=1):
        manifest = json.loads((shard_out / reports.SHARD_LINK / "manifest.json").read_text())
        assert manifest["shard"]["index"] == index and manifest["shard"]["plan_jobs"] == names
        assert not (shard_out / reports.SITE_LINK).exists(), "a shard publishes nothing"
        parts.append({job["name"] for job in manifest["jobs"]})
    assert parts[0].isdisjoint(parts[1]) and parts[0] | parts[1] == set(names)
    assert abs(len(parts[0]) - len(parts[1])) <= 1

    out = tmp_path / "out"
    assert reports.main_merge(shard_outs, out) == 0
    site = out / reports.SITE_LINK
    assert site_view(site) == site_view(local_site)
    manifest = json.loads((site / "manifest.json").read_text())
    assert [s["index"] for s in manifest["shards"]] == [1, 2]
    assert manifest["data_package"]["sha256"] == reports.data_package_hash(paths.data_dir())


def test_a_shard_reuses_unchanged_reports_from_a_published_site(plan, local_site, tmp_path):
    out = tmp_path / "shard"
    assert reports.main_build(plan, out, shard=(1, 2), reuse_from=local_site.parent, progress=False) == 0
    manifest = json.loads((out / reports.SHARD_LINK / "manifest.json").read_text())
    assert {job["status"] for job in manifest["jobs"]} == {"unchanged"}


def test_a_merge_with_a_failed_job_keeps_its_build_and_publishes_nothing(cluster, tmp_path, capsys):
    plan = tiny_plan(tmp_path / "plan", [{"name": "one"}, {"name": "broken", "parameters": {"crash": "raise"}}])
    shards = [tmp_path / "shard1", tmp_path / "shard2"]
    codes = [
        reports.main_build(plan, shard, scheduler=cluster.scheduler_address, shard=(i, 2), progress=False)
        for i, shard in enumerate(shards, start=1)
    ]
    assert sorted(codes) == [0, 1], "the shard with the failed job exits 1"
    assert "a merge including it will not publish" in capsys.readouterr().err
    out = tmp_path / "out"
    assert reports.main_merge(shards, out) == 1
    assert "FAILED broken" in capsys.readouterr().err
    assert not (out / reports.SITE_LINK).exists()
    merged = next((out / reports.BUILDS_DIR).iterdir())
    assert "the evidence table is on fire" in (merged / "index.html").read_text()
    assert (merged / "one.html").is_file()


def test_merge_refuses_shards_that_do_not_make_one_site(plan, shard_outs, tmp_path, edit_cell, monkeypatch, capsys):
    other_data_out = tmp_path / "two"
    edit_cell("studies", 0, "population", "adults (edited)")
    monkeypatch.setenv("EXINF_DATA_DIR", str(tmp_path / "data"))
    assert reports.main_build(plan, other_data_out, jobs=1, shard=(2, 2), progress=False) == 0
    capsys.readouterr()

    out = tmp_path / "out"
    assert reports.main_merge([shard_outs[0], other_data_out], out) == 2
    err = capsys.readouterr().err
    assert "shard 2/2" in err and "was built from another data package (sha256) than shard 1/2" in err
    assert reports.main_merge([shard_outs[0]], out) == 2
    assert "shard 2/2 is missing" in capsys.readouterr().err
    assert reports.main_merge([shard_outs[0], shard_outs[0], shard_outs[1]], out) == 2
    assert "shard 1/2 is given more than once" in capsys.readouterr().err
    assert reports.main_merge([tmp_path / "plan"], out) == 2
    assert "no shard build found" in capsys.readouterr().err
    assert not out.exists(), "a refused merge writes nothing"
