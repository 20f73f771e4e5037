"""Merging a sharded build (``exinf merge-reports``): the shards' reports become one site, published atomically.

For batch systems (Kubernetes indexed jobs, Slurm arrays), each task builds one shard (``exinf reports --shard
I/N --out DIR``); a last step merges the shard folders. The merge refuses, naming the problem and writing
nothing, unless the shards come from the same plan, data package and ``helpers`` code (their plan digests
match: every job's fingerprint), every shard 1..N is there once and every job of the plan is in exactly one
shard. It then copies the reports into a new build of the output folder and finishes it like any build
(manifest, "what changed", index; published only when no job failed), under the output folder's lock.

Kernel logs go to ``logs/shard-I/`` (two machines may have used the same worker pid).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from helpers.reports.build import BuildResult, finish_build, in_new_build, report_outcome
from helpers.reports.engine import JobResult
from helpers.reports.executors import interruptible
from helpers.reports.plan import PlanError
from helpers.reports.publish import SHARD_LINK, build_lock, read_manifest


class MergeError(PlanError):
    """The shards cannot be merged (listed problems); nothing was written."""


def read_shard(folder: Path) -> tuple[Path, dict]:
    """A shard's build folder and manifest, from the shard's output folder (or the build folder itself)."""
    folder = Path(folder)
    for candidate in (folder / SHARD_LINK, folder):
        manifest = read_manifest(candidate.resolve()) if candidate.exists() else {}
        if "shard" in manifest:
            return candidate.resolve(), manifest
    raise MergeError([f"{folder}: no shard build found (expected {folder / SHARD_LINK} from `exinf reports --shard`)"])


def shard_problems(shards: list[tuple[Path, dict]]) -> list[str]:
    """Every reason the shards cannot be merged into one site (empty when they can)."""
    (first_dir, first), problems = shards[0], []
    label = {path: f"shard {m['shard']['index']}/{m['shard']['count']} ({path})" for path, m in shards}
    for path, manifest in shards[1:]:
        for what, read in [
            ("number of shards", lambda m: m["shard"]["count"]),
            ("data package (sha256)", lambda m: m["data_package"]["sha256"]),
            ("helpers code (sha256)", lambda m: m["helpers_sha256"]),
            ("plan (job names, notebooks, parameters)", lambda m: m["shard"]["plan_sha256"]),
        ]:
            if read(manifest) != read(first):
                problems.append(
                    f"{label[path]} was built from another {what} than {label[first_dir]}: "
                    f"{str(read(manifest))[:12]} versus {str(read(first))[:12]}; build every shard from the same "
                    "checkout and data"
                )
                break  # a different plan follows from different data or code: name the cause only
    if problems:
        return problems
    count = first["shard"]["count"]
    indices = [m["shard"]["index"] for _, m in shards]
    problems += [f"shard {i}/{count} is given more than once" for i in sorted(set(indices)) if indices.count(i) > 1]
    problems += [f"shard {i}/{count} is missing" for i in range(1, count + 1) if i not in indices]
    seen = [job["name"] for _, m in shards for job in m["jobs"]]
    plan_jobs = first["shard"]["plan_jobs"]
    problems += [f"job {name!r} is in no shard" for name in plan_jobs if name not in seen]
    problems += [f"job {name!r} is in more than one shard" for name in sorted(set(seen)) if seen.count(name) > 1]
    problems += [f"job {name!r} is not in the plan" for name in sorted(set(seen) - set(plan_jobs))]
    return problems


def merge_shards(shard_dirs: list[Path], out_dir: Path) -> BuildResult:
    """Merge the shards into a new build of ``out_dir`` and publish it when no job failed.

    Raises:
        MergeError: before anything is written, when the shards do not make one site.
        BuildLockedError, BuildIOError, BuildInterrupted: as for a build.
    """
    if not shard_dirs:
        raise MergeError(["no shard folders given"])
    shards = sorted((read_shard(folder) for folder in shard_dirs), key=lambda shard: shard[1]["shard"]["index"])
    problems = shard_problems(shards)
    if problems:
        raise MergeError(problems)
    out_dir = Path(out_dir)
    with build_lock(out_dir), interruptible():
        return in_new_build(out_dir, lambda build_id, build_dir: _merge_into(shards, out_dir, build_id, build_dir))


def _merge_into(shards: list[tuple[Path, dict]], out_dir: Path, build_id: str, build_dir: Path) -> BuildResult:
    results: dict[str, JobResult] = {}
    for shard_dir, manifest in shards:
        for job in manifest["jobs"]:
            for output in job["outputs"]:
                if (shard_dir / output).is_file():  # a failed job may have no executed notebook
                    (build_dir / output).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(shard_dir / output, build_dir / output)
            results[job["name"]] = JobResult(**job)
        if (shard_dir / "logs").is_dir():
            shutil.copytree(shard_dir / "logs", build_dir / "logs" / f"shard-{manifest['shard']['index']}")
    first = shards[0][1]
    shutil.copytree(shards[0][0] / "data", build_dir / "data")  # the same data in every shard (checked)
    record = {key: value for key, value in first.items() if key not in ("build_id", "jobs", "shard")}
    record["built_at"] = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    record["executor"] = f"{len(shards)} shards merged"
    record["shards"] = [
        {"index": m["shard"]["index"], "build_id": m["build_id"], "built_at": m["built_at"], "executor": m["executor"]}
        for _, m in shards
    ]
    ordered = [results[name] for name in first["shard"]["plan_jobs"]]
    return finish_build(out_dir, build_id, build_dir, ordered, record)


def main_merge(shard_dirs: list[Path], out_dir: Path) -> int:
    """The ``exinf merge-reports`` command: merge, print a summary, return the exit code (as ``exinf reports``)."""
    return report_outcome(lambda: merge_shards(shard_dirs, out_dir))
