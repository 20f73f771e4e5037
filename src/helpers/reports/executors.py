"""Executors: where jobs run. The local one is a process pool (pebble) of spawned workers.

Failure isolation: a worker that dies (the OOM killer, a segfault, ``kill -9``) fails only the job it was
running, named, with how it died; pebble starts a new worker and the other jobs go on. SIGTERM and SIGINT
stop the build: the pool is stopped, every process of the build (workers and kernels, found by the
:data:`~helpers.reports.engine.BUILD_ID_VARIABLE` mark in their environment) is ended, and
:class:`BuildInterrupted` tells the caller which signal came.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import as_completed
from pathlib import Path

from helpers.reports.engine import BUILD_ID_VARIABLE, EngineOptions, JobResult, run_job, short_error, worker_initializer
from helpers.reports.plan import Job


class BuildInterrupted(Exception):
    """SIGTERM or SIGINT arrived while the build ran."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


@contextlib.contextmanager
def interruptible():
    """While the block runs, SIGTERM and SIGINT raise :class:`BuildInterrupted` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise BuildInterrupted(signum)

    previous = {number: signal.signal(number, handler) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


@contextlib.contextmanager
def build_marked(build_id: str):
    """Mark every process started in the block (workers, and through them kernels) with ``build_id``."""
    before = os.environ.get(BUILD_ID_VARIABLE)
    os.environ[BUILD_ID_VARIABLE] = build_id
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(BUILD_ID_VARIABLE, None)
        else:
            os.environ[BUILD_ID_VARIABLE] = before


def build_processes(build_id: str) -> list:
    """Every live process marked with ``build_id`` (psutil processes), whoever its parent is now."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid"]):
        if process.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error):
            if process.environ().get(BUILD_ID_VARIABLE) == build_id and not _is_helper(process):
                found.append(process)
    return found


def _is_helper(process) -> bool:
    """multiprocessing's resource tracker belongs to the builder process, not to one build."""
    return any("resource_tracker" in part for part in process.cmdline())


def end_processes(build_id: str, grace_s: float = 3.0) -> None:
    """Terminate, then kill, what is left of a build's processes (nothing must outlive a build)."""
    import psutil

    processes = build_processes(build_id)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=grace_s)


def _exit_description(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def failed_result(job: Job, fingerprint: str, error: str) -> JobResult:
    notebook = f"notebooks/{job.name}.ipynb"  # papermill saves it as cells run: it shows how far the job got
    return JobResult(
        job.name,
        job.title,
        job.notebook.name,
        job.parameters,
        fingerprint,
        "failed",
        0.0,
        [notebook],
        error,
        job.description,
        job.group,
        job.order,
    )


def run_local(
    to_run: list[tuple[Job, str]],
    build_dir: Path,
    context: dict,
    build_id: str,
    workers: int,
    options: EngineOptions,
    on_result: Callable[[JobResult], None],
) -> list[JobResult]:
    """Run the jobs on a local pool of ``workers`` processes; every job gets a result, failed or not."""
    from multiprocessing import resource_tracker

    import pebble

    results: list[JobResult] = []
    # multiprocessing's resource tracker serves this process for its whole life, not one build: start it
    # before marking, so that ending the build's processes never ends it.
    resource_tracker.ensure_running()
    with build_marked(build_id):  # workers pebble starts (or restarts after a death) inherit the mark
        pool = pebble.ProcessPool(
            max_workers=workers,
            initializer=worker_initializer,
            initargs=(build_id, options, os.getpid()),
            context=multiprocessing.get_context("spawn"),
        )
        return _collect(pool, to_run, build_dir, context, build_id, options, on_result, results)


def _collect(pool, to_run, build_dir, context, build_id, options, on_result, results) -> list[JobResult]:
    import pebble

    try:
        futures = {
            pool.schedule(run_job, args=(job, build_dir, fingerprint, context, options)): (job, fingerprint)
            for job, fingerprint in to_run
        }
        for future in as_completed(futures):
            job, fingerprint = futures[future]
            try:
                result = future.result()
            except pebble.ProcessExpired as died:
                how = _exit_description(died.exitcode)
                result = failed_result(job, fingerprint, f"the worker process died ({how}) while running this job")
            except Exception as error:  # the job function itself never raises; this is the pool failing
                result = failed_result(job, fingerprint, short_error(error))
            results.append(result)
            on_result(result)
        pool.close()
        pool.join(timeout=30)
    except BaseException:
        pool.stop()
        with contextlib.suppress(Exception):
            pool.join(timeout=5)
        raise
    finally:
        end_processes(build_id)
    return results


def executor_description() -> str:
    return f"local process pool (spawn, Python {sys.version_info.major}.{sys.version_info.minor})"
