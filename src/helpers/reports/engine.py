"""Running one job in a worker process: a kernel executes the notebook (papermill), nbconvert writes the page.

Each worker owns at most one kernel (:class:`KernelSession`). With ``warm=True`` the kernel is kept
between jobs and reset before each one (fresh user namespace, working folder, environment, warnings,
pandas and Altair settings restored); it is replaced after any failed job and every
:attr:`EngineOptions.recycle_after` jobs. With ``warm=False`` every job gets a new kernel.

Processes never outlive the build: a worker that loses its parent (the builder was killed, even with
SIGKILL) kills its kernel and exits within half a second; SIGTERM makes it do the same at once; kernels
themselves exit when their worker disappears (ipykernel's parent poller). Kernel output (such as
ipykernel's start-up warnings) goes to ``logs/`` in the build folder, not over the progress bar.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from helpers.reports.plan import Job

#: Environment variable that marks every process of a build (workers and kernels), so none can be lost.
BUILD_ID_VARIABLE = "EXINF_BUILD_ID"


@dataclass
class JobResult:
    name: str
    title: str
    notebook: str
    parameters: dict
    fingerprint: str
    status: str  # built | unchanged | carried_over | failed
    duration_s: float
    outputs: list[str]
    error: str | None = None
    description: str = ""
    group: str = "other"
    order: int = 100


@dataclass(frozen=True)
class EngineOptions:
    """How workers run kernels."""

    #: Keep one kernel per worker and reset it between jobs (False: a new kernel for every job).
    warm: bool = True
    #: A warm kernel is replaced after this many jobs.
    recycle_after: int = 25


# Code run in a warm kernel before each job. The baseline (environment, sys.path, warnings filters) is taken
# once, right after the kernel started; every job then starts from it.
_BASELINE_CODE = """
import os as _os, sys as _sys, types as _types, warnings as _warnings
_baseline = _types.ModuleType("_exinf_baseline")
_baseline.environ = dict(_os.environ)
_baseline.path = list(_sys.path)
_baseline.filters = list(_warnings.filters)
_sys.modules["_exinf_baseline"] = _baseline
del _os, _sys, _types, _warnings, _baseline
"""

_RESET_CODE = """
get_ipython().reset(new_session=True)
import os as _os, sys as _sys, warnings as _warnings
_baseline = _sys.modules["_exinf_baseline"]
_os.chdir({cwd!r})
_os.environ.clear()
_os.environ.update(_baseline.environ)
_sys.path[:] = _baseline.path
_warnings.filters[:] = _baseline.filters
if "pandas" in _sys.modules:
    _pd = _sys.modules["pandas"]
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        # not reset_option("all"): resetting plotting.backend would import matplotlib
        for _key in list(_pd._config.config._registered_options):
            if not _key.startswith("plotting."):
                _pd.reset_option(_key)
    del _pd
if "altair" in _sys.modules:
    _alt = _sys.modules["altair"]
    _alt.renderers.enable("default")
    _alt.data_transformers.enable("default")
    _alt.theme.enable("default")
    del _alt
if "numpy" in _sys.modules:
    _sys.modules["numpy"].random.seed(None)
del _os, _sys, _warnings, _baseline
get_ipython().reset(new_session=True)
"""


class KernelSession:
    """The one kernel of a worker process (see the module docstring)."""

    def __init__(self, options: EngineOptions):
        self.options = options
        self.km = None
        self.jobs_run = 0
        self.log_path: Path | None = None

    def _start(self, cwd: Path, log_path: Path):
        # The asynchronous manager: nbclient enforces its cell timeout only with an asynchronous client.
        from jupyter_client import AsyncKernelManager
        from jupyter_core.utils import run_sync

        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        km = AsyncKernelManager(kernel_name="python3")
        with log_path.open("ab") as log:
            run_sync(km.start_kernel)(cwd=str(cwd), stdout=log, stderr=log)
        self.km, self.jobs_run = km, 0
        if self.options.warm:
            self._run(_BASELINE_CODE)
        return km

    def _run(self, code: str, timeout: float = 60.0) -> None:
        from jupyter_core.utils import run_sync

        client = self.km.client()
        client.start_channels()
        try:
            run_sync(client.wait_for_ready)(timeout=timeout)
            reply = run_sync(client.execute_interactive)(code, silent=True, store_history=False, timeout=timeout)
            if reply["content"]["status"] != "ok":
                content = reply["content"]
                raise RuntimeError(f"kernel reset failed: {content.get('ename')}: {content.get('evalue')}")
        finally:
            client.stop_channels()

    @contextlib.contextmanager
    def kernel_for(self, job: Job, build_dir: Path):
        """A kernel ready for ``job``: reset (warm) or new (fresh). A failed job never leaves its kernel behind."""
        log_path = build_dir / "logs" / (f"worker-{os.getpid()}.log" if self.options.warm else f"{job.name}.log")
        cwd = job.notebook.parent.resolve()
        if self.km is not None and (not self._alive() or self.jobs_run >= self.options.recycle_after):
            self.discard()
        if self.km is not None and self.log_path == log_path:
            try:
                self._run(_RESET_CODE.format(cwd=str(cwd)))
            except Exception:  # a kernel that cannot be reset is replaced, never reused
                self.discard()
        if self.km is None or self.log_path != log_path:
            self.discard()
            self._start(cwd, log_path)
        try:
            yield self.km
        except BaseException:
            self.discard()
            raise
        self.jobs_run += 1
        if not self.options.warm:
            self.discard()

    def _alive(self) -> bool:
        from jupyter_core.utils import run_sync

        return bool(run_sync(self.km.is_alive)())

    def discard(self) -> None:
        """Stop the kernel now (no graceful shutdown: it may be stuck in a cell)."""
        from jupyter_core.utils import run_sync

        km, self.km = self.km, None
        if km is not None:
            with contextlib.suppress(Exception):
                run_sync(km.shutdown_kernel)(now=True)

    def kill(self) -> None:
        """Kill the kernel process from a signal handler or watchdog (no messages, no waiting)."""
        km = self.km
        process = getattr(getattr(km, "provisioner", None), "process", None) if km is not None else None
        if process is not None:
            with contextlib.suppress(Exception):
                os.killpg(process.pid, signal.SIGKILL)  # kernels run in their own session
            with contextlib.suppress(Exception):
                process.kill()


#: This worker process's kernel (one per process; set by :func:`worker_initializer`).
_SESSION: KernelSession | None = None


def worker_initializer(build_id: str, options: EngineOptions, parent_pid: int) -> None:
    """Prepare a worker process: mark it, own a kernel session, and never outlive the builder."""
    global _SESSION
    os.environ[BUILD_ID_VARIABLE] = build_id
    _SESSION = KernelSession(options)
    atexit.register(_SESSION.discard)

    def stop(signum, _frame):
        if _SESSION is not None:
            _SESSION.kill()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the builder, which stops the workers

    def watch_parent():
        while True:
            if os.getppid() != parent_pid:
                stop(signal.SIGHUP, None)
            time.sleep(0.5)

    threading.Thread(target=watch_parent, name="exinf-parent-watchdog", daemon=True).start()


def _session(options: EngineOptions) -> KernelSession:
    global _SESSION
    if _SESSION is None:  # a job run outside a pool worker (tests)
        _SESSION = KernelSession(options)
    return _SESSION


def _register_engine() -> str:
    """A papermill engine that runs the notebook in the kernel we manage (papermill's own engine starts one)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    class ManagedKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls, nb_man, kernel_name, log_output=False, start_timeout=60, execution_timeout=None, km=None, **_kw
        ):
            client = PapermillNotebookClient(
                nb_man,
                km=km,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
            )
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()

    papermill_engines.register("exinf", ManagedKernelEngine)
    return "exinf"


def run_job(
    job: Job,
    build_dir: Path,
    fingerprint: str,
    context: dict,
    options: EngineOptions,
    session: KernelSession | None = None,
) -> JobResult:
    """Execute one job and convert it to offline HTML; a failure is returned, never raised.

    ``session`` is the kernel to use (default: this process's own); the Dask executor passes one per worker thread.
    """
    import nbformat
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from helpers.reports.pages import notebook_to_html

    start = time.perf_counter()
    executed = build_dir / "notebooks" / f"{job.name}.ipynb"
    outputs = [executed.relative_to(build_dir).as_posix()]
    session = session or _session(options)
    try:
        with session.kernel_for(job, build_dir) as km:
            pm.execute_notebook(
                job.notebook,
                executed,
                parameters=job.parameters,
                cwd=job.notebook.parent,
                kernel_name="python3",
                engine_name=_register_engine(),
                km=km,
                progress_bar=False,
                log_output=False,
                execution_timeout=job.cell_timeout_s,
            )
        notebook = nbformat.read(executed, as_version=4)
        page = build_dir / f"{job.name}.html"
        page.write_text(notebook_to_html(notebook, job, context), encoding="utf-8")
        outputs.insert(0, page.relative_to(build_dir).as_posix())
        if job.student_copy:
            from helpers.teaching import student_copy

            handout = build_dir / "teaching" / f"{job.name}-student.ipynb"
            handout.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(student_copy(nbformat.read(job.notebook, as_version=4)), handout)
            outputs.append(handout.relative_to(build_dir).as_posix())
        status, error = "built", None
    except CellTimeoutError:
        status = "failed"
        error = (
            f"a cell ran longer than the cell timeout of {job.cell_timeout_s:g} s; the kernel was stopped "
            f"(the executed notebook shows the cell)"
        )
    except DeadKernelError:
        status, error = "failed", f"the kernel died while running the notebook (log: {_log_name(session, build_dir)})"
    except OSError as exc:
        status = "failed"
        error = f"cannot write {exc.filename or build_dir}: {exc.strerror or exc}"
    except Exception as exc:  # a failed job is reported, the others go on
        status, error = "failed", short_error(exc)
    return JobResult(
        job.name,
        job.title,
        job.notebook.name,
        job.parameters,
        fingerprint,
        status,
        round(time.perf_counter() - start, 2),
        outputs,
        error,
        job.description,
        job.group,
        job.order,
    )


def _log_name(session: KernelSession, build_dir: Path) -> str:
    if session.log_path is None:
        return "no log"
    with contextlib.suppress(ValueError):
        return session.log_path.relative_to(build_dir).as_posix()
    return str(session.log_path)


def short_error(exc: BaseException) -> str:
    """The last lines of an error, without the ANSI colours of kernel tracebacks."""
    text = str(exc).strip() or "".join(traceback.format_exception_only(exc)).strip()
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-12:])
