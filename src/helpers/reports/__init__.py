"""Scheduled report builds: papermill runs the notebooks, nbconvert turns them into an offline site.

The plan (``notebooks/reports.yaml``) lists jobs, each a notebook, a parameter set and an output
name; each notebook declares its parameters in a sidecar (``NN_name.yaml``). A build:

1. loads the plan and validates every job's parameters against the sidecars and the data
   vocabularies, **before any kernel starts** (an unknown name or value lists the valid choices);
2. fingerprints each job's inputs (notebook, parameters, data package, helpers code) and skips jobs
   whose fingerprint matches the last successful build (``--force`` rebuilds everything);
3. runs the other jobs with papermill in parallel processes, converts each executed notebook to
   HTML with no network dependencies (code hidden, live-widget cells dropped);
4. writes ``index.html``, ``manifest.json`` and ``changes.html`` (what changed in the data since
   the previous successful build) into a private staging folder;
5. publishes by swapping the ``site`` symlink atomically, and only when every job succeeded: a
   failed build keeps its folder (with the failed notebooks and their errors) and leaves the last
   good site in place. A lock makes a second concurrent build refuse to start.

Jobs run on a local process pool, or on a Dask cluster (``--executor dask --scheduler ADDRESS``); a batch system
can split the plan into shards (``--shard I/N``) and publish their merge (``exinf merge-reports``).

The package follows the build's steps, one module each: :mod:`~helpers.reports.plan` (load and check the
plan), :mod:`~helpers.reports.fingerprints`, :mod:`~helpers.reports.engine` (kernels run one job),
:mod:`~helpers.reports.executors` (where jobs run: the local pool) and :mod:`~helpers.reports.cluster` (a Dask
cluster), :mod:`~helpers.reports.pages`, :mod:`~helpers.reports.changes`, :mod:`~helpers.reports.publish` (lock,
atomic publish), :mod:`~helpers.reports.build` (the steps in order, and the exit codes) and
:mod:`~helpers.reports.merge` (the shards of a build become one site).
"""

from helpers.reports.build import BuildResult, build_site, git_commit, main_build, package_versions
from helpers.reports.changes import TRACKED_TABLES, TableChanges, diff_snapshots, snapshot_data
from helpers.reports.engine import EngineOptions, JobResult, run_job
from helpers.reports.executors import BuildInterrupted, ClusterUnavailable, build_processes
from helpers.reports.fingerprints import code_hash, data_package_hash, hash_files, job_fingerprint, plan_digest
from helpers.reports.merge import MergeError, main_merge, merge_shards
from helpers.reports.pages import notebook_to_html, render_changes, render_index
from helpers.reports.plan import (
    DEFAULT_CELL_TIMEOUT_S,
    PLAN_NAME,
    Job,
    NotebookSpec,
    ParameterSpec,
    PlanError,
    check_parameters,
    display_value,
    load_plan,
    parameters_cell,
    read_sidecar,
    resolve_choices,
    select_jobs,
    shard_jobs,
)
from helpers.reports.publish import (
    BUILDS_DIR,
    KEEP_BUILDS,
    LOCK_NAME,
    SHARD_LINK,
    SITE_LINK,
    BuildIOError,
    BuildLockedError,
    build_lock,
    current_site,
    publish,
    read_manifest,
)

__all__ = [
    "BUILDS_DIR",
    "DEFAULT_CELL_TIMEOUT_S",
    "KEEP_BUILDS",
    "LOCK_NAME",
    "PLAN_NAME",
    "SHARD_LINK",
    "SITE_LINK",
    "TRACKED_TABLES",
    "BuildIOError",
    "BuildInterrupted",
    "BuildLockedError",
    "BuildResult",
    "ClusterUnavailable",
    "EngineOptions",
    "Job",
    "JobResult",
    "MergeError",
    "NotebookSpec",
    "ParameterSpec",
    "PlanError",
    "TableChanges",
    "build_lock",
    "build_processes",
    "build_site",
    "check_parameters",
    "code_hash",
    "current_site",
    "data_package_hash",
    "diff_snapshots",
    "display_value",
    "git_commit",
    "hash_files",
    "job_fingerprint",
    "load_plan",
    "main_build",
    "main_merge",
    "merge_shards",
    "notebook_to_html",
    "package_versions",
    "parameters_cell",
    "plan_digest",
    "publish",
    "read_manifest",
    "read_sidecar",
    "render_changes",
    "render_index",
    "resolve_choices",
    "run_job",
    "select_jobs",
    "shard_jobs",
    "snapshot_data",
]
