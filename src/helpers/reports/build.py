"""A build, step by step: plan -> fingerprints -> run the changed jobs -> pages -> publish (or not).

The same steps whatever runs the jobs (a local process pool, or a Dask cluster: :mod:`~helpers.reports.cluster`);
a shard (``--shard I/N``) stops before the pages and leaves publishing to the merge (:mod:`~helpers.reports.merge`).

Exit codes of ``exinf reports`` (:func:`main_build`) and ``exinf merge-reports``:

==== =====================================================================================================
0    published (a shard: built)
1    a job failed: the others were built, the failed build is kept for debugging, the last good site stays
2    invalid plan, parameters, data package or shards, or an unreachable Dask scheduler: nothing ran or was
     written
3    another build is running in the same output folder
4    a file could not be read or written (read-only folder, disk full): the build removed what it wrote
130  interrupted by SIGINT (Ctrl-C); 143: by SIGTERM. Workers and kernels stopped, partial build removed
==== =====================================================================================================
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

from helpers import paths
from helpers.reports.changes import diff_snapshots, snapshot_data
from helpers.reports.engine import EngineOptions, JobResult
from helpers.reports.executors import (
    BuildInterrupted,
    ClusterUnavailable,
    executor_description,
    interruptible,
    run_local,
)
from helpers.reports.fingerprints import code_hash, data_package_hash, job_fingerprint, plan_digest
from helpers.reports.pages import render_changes, render_index
from helpers.reports.plan import Job, PlanError, load_plan, select_jobs, shard_jobs
from helpers.reports.publish import (
    BUILDS_DIR,
    SHARD_LINK,
    SITE_LINK,
    BuildIOError,
    BuildLockedError,
    build_lock,
    current_site,
    discard,
    io_error,
    prune_builds,
    publish,
    read_manifest,
)

PACKAGES = [
    "pandas",
    "altair",
    "vl-convert-python",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "pandera",
    "statsmodels",
    "exercise-inflammation-explorer",
]


@dataclass
class BuildResult:
    build_dir: Path
    published: bool
    results: list[JobResult]
    manifest: dict

    @property
    def failures(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def build_site(
    plan_path: Path | None = None,
    out_dir: Path | None = None,
    jobs: int | None = None,
    only: Iterable[str] | None = None,
    force: bool = False,
    progress: bool = True,
    cell_timeout_s: float | None = None,
    fresh_kernels: bool = False,
    scheduler: str | None = None,
    shard: tuple[int, int] | None = None,
    reuse_from: Path | None = None,
) -> BuildResult:
    """Build the report site (see :mod:`helpers.reports`).

    Args:
        scheduler: run the jobs on the Dask cluster of this scheduler (default: a local process pool).
        shard: ``(I, N)``: build only shard I of N of the plan (:func:`~helpers.reports.plan.shard_jobs`) into
            ``out_dir`` without publishing; ``exinf merge-reports`` publishes the merged shards.
        reuse_from: for a shard, the published site (or its output folder) whose unchanged reports are copied
            instead of rebuilt; nothing is reused when there is no site yet.

    Raises:
        PlanError: before anything runs, for an invalid plan or parameters.
        DataValidationError: before anything runs, for an invalid data package.
        ClusterUnavailable: before anything runs, when the Dask scheduler cannot be reached.
        BuildLockedError: another build holds the output folder.
        BuildIOError: a file could not be written; the build's own folder was removed.
        BuildInterrupted: SIGTERM/SIGINT; workers and kernels were stopped and the partial build removed.
    """
    from helpers.data import load_package

    out_dir = Path(out_dir) if out_dir else paths.reports_dir()
    data_dir = paths.data_dir()
    package = load_package(data_dir)
    planned = load_plan(plan_path, package, cell_timeout_s=cell_timeout_s)
    if shard and only:
        raise PlanError(["--only and --shard cannot be combined: a shard is its own selection of the plan"])
    selected = shard_jobs(planned, *shard) if shard else select_jobs(planned, only)
    request = BuildRequest(out_dir, data_dir, package, planned, selected, jobs, force, progress)
    request.options = EngineOptions(warm=not fresh_kernels)
    request.shard = shard
    if reuse_from and not shard:
        raise PlanError(["--reuse-from is for --shard builds (a build reuses its own output folder's site)"])
    if reuse_from:  # reports/ or reports/site; nothing is reused before the first published site
        request.reuse_from = current_site(Path(reuse_from)) or Path(reuse_from).resolve()
    if scheduler:
        from helpers.reports.cluster import connect

        request.client = connect(scheduler)
    try:
        with build_lock(out_dir), interruptible():
            return in_new_build(out_dir, lambda build_id, build_dir: _build_into(request, build_id, build_dir))
    finally:
        if request.client is not None:
            request.client.close()


@dataclass
class BuildRequest:
    """What one build was asked to do."""

    out_dir: Path
    data_dir: Path
    package: object
    planned: list[Job]
    selected: list[Job]
    jobs: int | None
    force: bool
    progress: bool
    options: EngineOptions = field(default_factory=EngineOptions)
    #: A Dask client: the jobs run on its cluster (``None``: on a local process pool).
    client: object = None
    shard: tuple[int, int] | None = None
    #: The published site a shard reuses unchanged reports from.
    reuse_from: Path | None = None


def in_new_build(out_dir: Path, steps: Callable[[str, Path], BuildResult]) -> BuildResult:
    """Run ``steps(build_id, build_dir)`` in a new build folder; on an I/O error or a signal, remove it, re-raise."""
    build_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    build_dir = out_dir / BUILDS_DIR / build_id
    try:
        (build_dir / "notebooks").mkdir(parents=True)
        return steps(build_id, build_dir)
    except OSError as error:
        discard(build_dir)
        raise io_error(error, build_dir) from None
    except BuildInterrupted:
        discard(build_dir)
        raise


def _build_into(request: BuildRequest, build_id: str, build_dir: Path) -> BuildResult:
    out_dir, data_dir, package, planned = request.out_dir, request.data_dir, request.package, request.planned
    # A shard's folder holds no site: it reuses reports from the one named by --reuse-from, if any.
    previous_site = request.reuse_from if request.shard else current_site(out_dir)
    previous = read_manifest(previous_site)
    previous_jobs = {j["name"]: j for j in previous.get("jobs", []) if j["status"] in ("built", "unchanged")}
    data_hash, helpers_hash = data_package_hash(data_dir), code_hash()
    fingerprints = {job.name: job_fingerprint(job, data_hash, helpers_hash) for job in planned}
    built_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    context = {"data_version": package.version, "data_hash": data_hash, "built_at": built_at}
    selected_names = {job.name for job in request.selected}

    results: list[JobResult] = []
    to_run: list[tuple[Job, str]] = []
    for job in request.selected if request.shard else planned:  # a shard carries over no other shard's job
        fingerprint = fingerprints[job.name]
        old = previous_jobs.get(job.name)
        reusable = (
            old is not None
            and previous_site is not None
            and all((previous_site / output).is_file() for output in old["outputs"])
        )
        if job.name not in selected_names:
            if reusable:  # keep the site complete when building a subset
                results.append(_carry_over(job, old, previous_site, build_dir, "carried_over"))
            continue
        if not request.force and reusable and old["fingerprint"] == fingerprint:
            results.append(_carry_over(job, old, previous_site, build_dir, "unchanged"))
        else:
            to_run.append((job, fingerprint))

    executor = _executor_description(request)
    results += _run(to_run, build_dir, context, build_id, request, (data_hash, helpers_hash))
    order = [j.name for j in planned]
    results.sort(key=lambda r: order.index(r.name))
    snapshot_data(data_dir, build_dir / "data")
    record = {
        "built_at": built_at,
        "data_package": {"name": package.descriptor.get("name"), "version": package.version, "sha256": data_hash},
        "helpers_sha256": helpers_hash,
        "git_commit": git_commit(),
        "packages": package_versions(),
        "kernels": "fresh per job"
        if not request.options.warm
        else f"warm, reset between jobs, replaced every {request.options.recycle_after} jobs and after a failure",
        "executor": executor,
    }
    if request.shard:
        index, count = request.shard
        record["shard"] = {"index": index, "count": count, "plan_sha256": plan_digest(fingerprints), "plan_jobs": order}
        return finish_shard(out_dir, build_id, build_dir, results, record)
    return finish_build(out_dir, build_id, build_dir, results, record)


def finish_build(out_dir: Path, build_id: str, build_dir: Path, results: list[JobResult], record: dict) -> BuildResult:
    """After the jobs (of a build, or of merged shards): manifest, changes and index; publish if none failed.

    ``build_dir`` already holds the job outputs and the data snapshot; ``record`` describes how it was built.
    """
    previous_site = current_site(out_dir)
    previous = read_manifest(previous_site)
    changes = diff_snapshots(previous_site / "data" if previous_site else None, build_dir / "data")
    manifest = {
        "build_id": build_id,
        **record,
        "previous_build": previous.get("build_id"),
        "jobs": [asdict(r) for r in results],
    }
    (build_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    (build_dir / "changes.html").write_text(render_changes(changes, manifest, previous), encoding="utf-8")
    (build_dir / "index.html").write_text(render_index(manifest), encoding="utf-8")
    published = not any(r.status == "failed" for r in results)
    if published:
        publish(build_dir, out_dir)
        prune_builds(out_dir)
    return BuildResult(build_dir, published, results, manifest)


def finish_shard(out_dir: Path, build_id: str, build_dir: Path, results: list[JobResult], record: dict) -> BuildResult:
    """A shard's build is not published: its manifest is written and ``out_dir/shard`` points at it for the merge."""
    manifest = {"build_id": build_id, **record, "jobs": [asdict(r) for r in results]}
    (build_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    publish(build_dir, out_dir, SHARD_LINK)
    prune_builds(out_dir)
    return BuildResult(build_dir, False, results, manifest)


def _executor_description(request: BuildRequest) -> str:
    if request.client is None:
        return executor_description()
    from helpers.reports.cluster import describe

    return describe(request.client)


def _run(to_run, build_dir, context, build_id, request: BuildRequest, hashes: tuple[str, str]) -> list[JobResult]:
    if not to_run:
        return []
    from tqdm.auto import tqdm

    workers = max(1, min(request.jobs or os.cpu_count() or 1, len(to_run)))
    bar = tqdm(total=len(to_run), desc="reports", unit="job", disable=not request.progress, file=sys.stderr)

    def advance(result: JobResult) -> None:
        bar.set_postfix_str(f"{result.name}: {result.status}")
        bar.update()

    try:
        if request.client is not None:
            from helpers.reports.cluster import run_dask

            return run_dask(to_run, build_dir, context, build_id, request.options, advance, request.client, hashes)
        return run_local(to_run, build_dir, context, build_id, workers, request.options, advance)
    finally:
        bar.close()


def _carry_over(job: Job, old: dict, previous_site: Path, build_dir: Path, status: str) -> JobResult:
    for output in old["outputs"]:
        target = build_dir / output
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(previous_site / output, target)
    return JobResult(
        job.name, job.title, job.notebook.name, job.parameters, old["fingerprint"], status, 0.0, list(old["outputs"])
    )


def main_build(plan_path=None, out_dir=None, **options) -> int:
    """The ``exinf reports`` command: build, print a summary, return the exit code (see the module docstring).

    ``options`` are :func:`build_site`'s.
    """
    return report_outcome(lambda: build_site(plan_path, out_dir, **options))


def report_outcome(build: Callable[[], BuildResult]) -> int:
    """Run a build (or a merge of shards), print what happened, return the exit code."""
    from helpers.data import DataValidationError

    try:
        result = build()
    except (PlanError, DataValidationError, ClusterUnavailable) as error:
        print(error, file=sys.stderr)
        return 2
    except BuildLockedError as error:
        print(error, file=sys.stderr)
        return 3
    except BuildIOError as error:
        print(f"error: {error}. Nothing was published; the last good site is unchanged.", file=sys.stderr)
        return 4
    except BuildInterrupted as interrupted:
        print(
            f"Build {interrupted}: workers and kernels stopped, the partial build removed; "
            "the last good site is unchanged.",
            file=sys.stderr,
        )
        return 128 + interrupted.signum
    counts = pd.Series([r.status for r in result.results]).value_counts().to_dict()
    print(", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items()))
    shard = result.manifest.get("shard")
    for failure in result.failures:
        print(f"FAILED {failure.name}: {failure.error.splitlines()[-1] if failure.error else ''}", file=sys.stderr)
    if shard:
        done = "finished with failures: a merge including it will not publish" if result.failures else "built"
        print(
            f"Shard {shard['index']}/{shard['count']} {done}: {result.build_dir}. "
            "Publish the shards with `exinf merge-reports SHARD_DIR... --out OUT`.",
            file=sys.stderr if result.failures else sys.stdout,
        )
        return 1 if result.failures else 0
    if result.failures:
        print(
            f"The site was NOT published; the last good site stays in place. Failed build kept in "
            f"{result.build_dir} (executed notebooks under notebooks/, kernel logs under logs/).",
            file=sys.stderr,
        )
        return 1
    site = result.build_dir.parent.parent / SITE_LINK
    print(f"Published {site / 'index.html'} (build {result.manifest['build_id']})")
    return 0
