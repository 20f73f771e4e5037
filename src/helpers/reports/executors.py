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
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from helpers.reports.engine import BUILD_ID_VARIABLE, EngineOptions, JobResult, run_job, short_error, worker_initializer
from helpers.reports.plan import Job


class BuildInterrupted(Exception):
    """SIGTERM or SIGINT arrived while the build ran."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


class ClusterUnavailable(RuntimeError):
    """The Dask scheduler could not be reached: nothing ran."""


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


def collect_results(
    to_run: list[tuple[Job, str]],
    submit: Callable[[Job, str], Future],
    capacity: Callable[[], int],
    on_result: Callable[[JobResult], None],
    explain: Callable[[Exception], str],
    receive: Callable[[object], JobResult] = lambda result: result,
) -> list[JobResult]:
    """Run the jobs, at most ``capacity()`` at a time, and collect the results: the one loop of every executor.

    No job waits in a worker's queue, so a worker that dies takes down only the job it was running (Dask counts
    every job assigned to a dead worker against it), and a result is released as soon as it is received (Dask
    would otherwise recompute a received result whose worker died).

    Args:
        submit: schedules one job (job, fingerprint) and returns its ``concurrent.futures`` future.
        capacity: how many jobs can run at once now (workers, or a cluster's threads).
        explain: the error message of a job whose future raised (its worker died, the pool failed).
        receive: turns a future's value into the job's result (the Dask executor writes the returned files).
    """
    waiting = list(reversed(to_run))
    running: dict[Future, tuple[Job, str]] = {}
    results: list[JobResult] = []
    while waiting or running:
        while waiting and len(running) < max(1, capacity()):
            job, fingerprint = waiting.pop()
            running[submit(job, fingerprint)] = (job, fingerprint)
        for future in wait(running, return_when=FIRST_COMPLETED).done:
            job, fingerprint = running.pop(future)
            try:
                value = future.result()
            except Exception as error:  # the job function itself never raises: its worker died, or the pool failed
                result = failed_result(job, fingerprint, explain(error))
            else:
                result = receive(value)
            results.append(result)
            on_result(result)
        del future  # no reference left while waiting: a received result is released at once
    return results


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

    def submit(job: Job, fingerprint: str) -> Future:
        return pool.schedule(run_job, args=(job, build_dir, fingerprint, context, options))

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
        try:
            results = collect_results(to_run, submit, lambda: workers, on_result, _explain_local)
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


def _explain_local(error: Exception) -> str:
    import pebble

    if isinstance(error, pebble.ProcessExpired):
        return f"the worker process died ({_exit_description(error.exitcode)}) while running this job"
    return short_error(error)


def executor_description() -> str:
    return f"local process pool (spawn, Python {sys.version_info.major}.{sys.version_info.minor})"
