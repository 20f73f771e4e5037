"""A build, step by step: plan -> fingerprints -> run the changed jobs -> pages -> publish (or not).

Exit codes of ``exinf reports`` (:func:`main_build`):

==== =====================================================================================================
0    published
1    a job failed: the others were built, the failed build is kept for debugging, the last good site stays
2    invalid plan, parameters or data package: nothing ran, nothing was written
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
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

from helpers import paths
from helpers.reports.changes import diff_snapshots, snapshot_data
from helpers.reports.engine import EngineOptions, JobResult
from helpers.reports.executors import BuildInterrupted, interruptible, run_local
from helpers.reports.fingerprints import code_hash, data_package_hash, job_fingerprint
from helpers.reports.pages import render_changes, render_index
from helpers.reports.plan import Job, PlanError, load_plan, select_jobs
from helpers.reports.publish import (
    BUILDS_DIR,
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
) -> BuildResult:
    """Build the report site (see :mod:`helpers.reports`).

    Raises:
        PlanError: before anything runs, for an invalid plan or parameters.
        DataValidationError: before anything runs, for an invalid data package.
        BuildLockedError: another build holds the output folder.
        BuildIOError: a file could not be written; the build's own folder was removed.
        BuildInterrupted: SIGTERM/SIGINT; workers and kernels were stopped and the partial build removed.
    """
    from helpers.data import load_package

    out_dir = Path(out_dir) if out_dir else paths.reports_dir()
    data_dir = paths.data_dir()
    package = load_package(data_dir)
    planned = load_plan(plan_path, package, cell_timeout_s=cell_timeout_s)
    selected = select_jobs(planned, only)
    request = BuildRequest(out_dir, data_dir, package, planned, selected, jobs, force, progress)
    request.options = EngineOptions(warm=not fresh_kernels)
    with build_lock(out_dir), interruptible():
        return _build(request)


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


def _build(request: BuildRequest) -> BuildResult:
    """Build into a new folder; on an I/O error or a signal, remove that folder and re-raise."""
    build_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    build_dir = request.out_dir / BUILDS_DIR / build_id
    try:
        (build_dir / "notebooks").mkdir(parents=True)
        return _build_into(request, build_id, build_dir)
    except OSError as error:
        discard(build_dir)
        raise io_error(error, build_dir) from None
    except BuildInterrupted:
        discard(build_dir)
        raise


def _build_into(request: BuildRequest, build_id: str, build_dir: Path) -> BuildResult:
    out_dir, data_dir, package, planned = request.out_dir, request.data_dir, request.package, request.planned
    previous_site = current_site(out_dir)
    previous = read_manifest(previous_site)
    previous_jobs = {j["name"]: j for j in previous.get("jobs", []) if j["status"] in ("built", "unchanged")}
    data_hash, helpers_hash = data_package_hash(data_dir), code_hash()
    built_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    context = {"data_version": package.version, "data_hash": data_hash, "built_at": built_at}
    selected_names = {job.name for job in request.selected}

    results: list[JobResult] = []
    to_run: list[tuple[Job, str]] = []
    for job in planned:
        fingerprint = job_fingerprint(job, data_hash, helpers_hash)
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

    results += _run(to_run, build_dir, context, build_id, request)
    order = [j.name for j in planned]
    results.sort(key=lambda r: order.index(r.name))
    snapshot_data(data_dir, build_dir / "data")
    changes = diff_snapshots(previous_site / "data" if previous_site else None, build_dir / "data")
    manifest = {
        "build_id": build_id,
        "built_at": built_at,
        "data_package": {"name": package.descriptor.get("name"), "version": package.version, "sha256": data_hash},
        "helpers_sha256": helpers_hash,
        "git_commit": git_commit(),
        "packages": package_versions(),
        "kernels": "fresh per job"
        if not request.options.warm
        else f"warm, reset between jobs, replaced every {request.options.recycle_after} jobs and after a failure",
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


def _run(to_run, build_dir, context, build_id, request: BuildRequest) -> list[JobResult]:
    if not to_run:
        return []
    from tqdm.auto import tqdm

    workers = max(1, min(request.jobs or os.cpu_count() or 1, len(to_run)))
    bar = tqdm(total=len(to_run), desc="reports", unit="job", disable=not request.progress, file=sys.stderr)

    def advance(result: JobResult) -> None:
        bar.set_postfix_str(f"{result.name}: {result.status}")
        bar.update()

    try:
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


def main_build(
    plan_path=None, out_dir=None, jobs=None, only=None, force=False, cell_timeout_s=None, fresh_kernels=False
) -> int:
    """The ``exinf reports`` command: build, print a summary, return the exit code (see the module docstring)."""
    from helpers.data import DataValidationError

    try:
        result = build_site(
            plan_path, out_dir, jobs=jobs, only=only, force=force, cell_timeout_s=cell_timeout_s,
            fresh_kernels=fresh_kernels,
        )  # fmt: skip
    except (PlanError, DataValidationError) as error:
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
    if result.failures:
        for failure in result.failures:
            print(f"FAILED {failure.name}: {failure.error.splitlines()[-1] if failure.error else ''}", file=sys.stderr)
        print(
            f"The site was NOT published; the last good site stays in place. Failed build kept in "
            f"{result.build_dir} (executed notebooks under notebooks/, kernel logs under logs/).",
            file=sys.stderr,
        )
        return 1
    site = (Path(out_dir) if out_dir else paths.reports_dir()) / SITE_LINK
    print(f"Published {site / 'index.html'} (build {result.manifest['build_id']})")
    return 0
