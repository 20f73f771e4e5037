"""The Dask executor: jobs run on a Dask distributed cluster (``--executor dask --scheduler ADDRESS``).

Jobs go through ``client.get_executor()`` (the ``concurrent.futures`` API), so results are collected by the same
loop as the local pool's (:func:`~helpers.reports.executors.collect_results`).

Kernels: a worker plugin (:class:`KernelPlugin`) gives each worker thread one warm kernel, kept between the
build's jobs and reset before each (as in the local pool). The plugin is registered for one build and removed
at its end, and its teardown shuts the kernels down, also when a worker closes; a kernel whose worker dies
exits by itself (ipykernel watches its parent).

Where outputs land: a job runs in a scratch folder under its worker's local directory, and its files (the page,
the executed notebook, a student copy, the kernel log) travel back to the builder with its result; the builder
writes them into its build folder. Workers need no shared filesystem and never write to the site, so the lock,
the manifest and the atomic publish stay with the builder, as with the local pool.

What workers need: the project (``helpers``, the notebooks, the data package) at the same path as the builder,
e.g. the same container image. Before a job runs, its worker recomputes the job's fingerprint; a worker whose
notebook, sidecar, data or ``helpers`` code differs from the builder's fails the job and says which differs.

Failure isolation: a job that raises or times out comes back as a failed result, like on the local pool. A job
whose worker dies is retried on another worker by the scheduler (``distributed.scheduler.allowed-failures``,
3 by default), then fails, named, with the number of workers it took down; the other jobs go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import threading
from concurrent.futures import Future
from pathlib import Path

from distributed import Client, KilledWorker, WorkerPlugin, get_worker

from helpers.reports.engine import EngineOptions, JobResult, KernelSession, run_job, short_error
from helpers.reports.executors import ClusterUnavailable, collect_results, failed_result
from helpers.reports.fingerprints import code_hash, data_package_hash, job_fingerprint
from helpers.reports.plan import Job

#: The name the kernel plugin is registered under on every worker.
PLUGIN_NAME = "exinf-kernels"
#: Seconds to wait for the scheduler before giving up.
CONNECT_TIMEOUT_S = 15


def connect(address: str) -> Client:
    """A client of the scheduler at ``address`` (``tcp://host:8786``), or :class:`ClusterUnavailable`."""
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterUnavailable(f"cannot reach the Dask scheduler at {address}: {error}") from None


def describe(client: Client) -> str:
    """Where the jobs ran, for the manifest."""
    threads = client.nthreads()
    return f"Dask cluster at {client.scheduler.address} ({len(threads)} workers, {sum(threads.values())} threads)"


class KernelPlugin(WorkerPlugin):
    """The warm kernels of one Dask worker during one build: one per worker thread."""

    def __init__(self, build_id: str):
        self.build_id = build_id

    def setup(self, worker) -> None:
        self.address = worker.address
        self.scratch = Path(worker.local_directory) / "exinf" / self.build_id
        (self.scratch / "notebooks").mkdir(parents=True, exist_ok=True)  # papermill writes there, as in a build
        self.sessions: dict[int, KernelSession] = {}
        self.sent_logs: dict[str, int] = {}
        self.lock = threading.Lock()
        self._hashes: tuple[str, str] | None = None

    def teardown(self, worker) -> None:
        with self.lock:
            sessions, self.sessions = list(self.sessions.values()), {}
        for session in sessions:
            session.kill()  # a job may still be running in it (an interrupted build)
            session.discard()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def session(self, options: EngineOptions) -> KernelSession:
        """This thread's kernel session (a kernel is driven by the thread, and event loop, that started it)."""
        with self.lock:
            session = self.sessions.get(threading.get_ident())
            if session is None or session.options != options:
                session = self.sessions[threading.get_ident()] = KernelSession(options)
            return session

    def check_inputs(self, job: Job, fingerprint: str, expected: tuple[str, str]) -> str | None:
        """Why this worker cannot run ``job`` as the builder planned it (``None`` when it can)."""
        try:
            with self.lock:
                if self._hashes is None:
                    from helpers import paths

                    self._hashes = (data_package_hash(paths.data_dir()), code_hash())
            local = job_fingerprint(job, *self._hashes)
        except OSError as error:
            return (
                f"worker {self.address} cannot read this job's inputs ({error}); workers need the project "
                "at the same path as the builder"
            )
        if local == fingerprint:
            return None
        names = ("data package", "helpers code")
        differs = [name for name, mine, wanted in zip(names, self._hashes, expected, strict=True) if mine != wanted]
        return (
            f"worker {self.address} has a different {' and '.join(differs) or 'notebook, sidecar or parameters'} "
            "than the builder; workers must run the same checkout and data"
        )

    def harvest(self, result: JobResult, session: KernelSession) -> dict[str, bytes]:
        """The job's files (removed from the scratch folder) and the kernel log when it grew since last sent."""
        files = {}
        for output in result.outputs:
            path = self.scratch / output
            if path.is_file():
                files[output] = path.read_bytes()
                path.unlink()
        log = session.log_path
        if log is not None and log.is_file():
            name = log.relative_to(self.scratch).as_posix()
            with self.lock:
                if log.stat().st_size != self.sent_logs.get(name):
                    files[name] = log.read_bytes()
                    self.sent_logs[name] = len(files[name])
        return files


def run_on_worker(
    job: Job, fingerprint: str, context: dict, options: EngineOptions, expected: tuple[str, str]
) -> tuple[JobResult, dict[str, bytes]]:
    """The task a Dask worker runs: one job in its scratch folder; its result and files go back to the builder."""
    plugin: KernelPlugin = get_worker().plugins[PLUGIN_NAME]
    problem = plugin.check_inputs(job, fingerprint, expected)
    if problem:
        return failed_result(job, fingerprint, problem), {}
    session = plugin.session(options)
    result = run_job(job, plugin.scratch, fingerprint, context, options, session=session)
    return result, plugin.harvest(result, session)


def run_dask(
    to_run: list[tuple[Job, str]],
    build_dir: Path,
    context: dict,
    build_id: str,
    options: EngineOptions,
    on_result,
    client: Client,
    expected: tuple[str, str],
) -> list[JobResult]:
    """Run the jobs on the cluster of ``client``; every job gets a result, failed or not.

    ``expected`` is the builder's (data package hash, helpers code hash), to name what differs on a worker.
    """
    client.register_plugin(KernelPlugin(build_id), name=PLUGIN_NAME)
    executor = client.get_executor(pure=False)

    def submit(job: Job, fingerprint: str) -> Future:
        return executor.submit(run_on_worker, job, fingerprint, context, options, expected)

    def receive(value: tuple[JobResult, dict[str, bytes]]) -> JobResult:
        result, files = value
        root = build_dir.resolve()
        for name, content in files.items():
            target = (build_dir / name).resolve()
            if not target.is_relative_to(root):  # never trust a path from the network
                error = f"its worker sent a file outside the build folder: {name}"
                return dataclasses.replace(result, status="failed", error=error)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return result

    try:
        return collect_results(to_run, submit, lambda: sum(client.nthreads().values()), on_result, _explain, receive)
    except BaseException:
        executor.shutdown(wait=False)  # cancels the jobs not yet finished
        raise
    finally:
        with contextlib.suppress(Exception):  # a lost scheduler must not hide the build's own outcome
            client.unregister_worker_plugin(PLUGIN_NAME)  # its teardown stops every kernel of the build


def _explain(error: Exception) -> str:
    if isinstance(error, KilledWorker):
        tries = error.allowed_failures + 1
        where = f"on {tries} workers in turn, the last {{}}" if tries > 1 else "{}"
        return f"the worker process died while running this job ({where.format(error.last_worker.address)})"
    return short_error(error)
