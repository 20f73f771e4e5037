"""Running one job in a worker process: a kernel executes the notebook (papermill), nbconvert writes the page.

Each worker owns at most one kernel (:class:`KernelSession`). With ``warm=True`` the kernel is kept
between jobs and reset before each one (fresh user namespace, working folder, environment, sys.path, warnings,
pandas and Altair settings restored); it is replaced after any failed job, after a job that changed an
attribute of an already imported module (a state no reset can undo), and every
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


# A module kept in a warm kernel's sys.modules (so that IPython's reset leaves it alone). ``take`` records the
# kernel's state right after it started; before each job ``restore`` puts cwd, environment, sys.path, warnings
# filters, pandas options, Altair registries and numpy's seed back, and refuses (the kernel is then replaced)
# when the last job changed an attribute of a module that was already imported: that state no reset can undo.
# What it cannot see: a module first imported by a job is recorded after that job (a rebind in the very job that
# imported it goes unnoticed), and changes inside objects (a class attribute, an item of a module-level dict).
_BASELINE_MODULE = """
import os, sys, warnings

#: Attributes ipykernel itself swaps for every request, and modules that are not library state.
KERNEL_OWNED = {("sys", "excepthook"), ("builtins", "input"), ("getpass", "getpass")}
NOT_LIBRARY_STATE = ("__main__", "_exinf_baseline", "zmq")
#: Immutable values compared by equality: time.tzset() rebinds time.tzname to an equal new tuple, for instance.
PLAIN_VALUES = (str, bytes, int, float, bool, tuple, type(None))


def _module_state():
    return {
        name: dict(vars(module))
        for name, module in list(sys.modules.items())
        if module is not None and name.partition(".")[0] not in NOT_LIBRARY_STATE
    }


def take():
    global environ, path, filters
    environ, path, filters = dict(os.environ), list(sys.path), list(warnings.filters)
    take_modules()


def take_modules():
    global modules
    modules = _module_state()


def changed_modules():
    # Rebound or deleted attributes only: importing adds attributes (submodules, lazily loaded names) on its own.
    changed = []
    for name, before in modules.items():
        module = sys.modules.get(name)
        now = vars(module) if module is not None else {}
        for attribute, value in before.items():
            after = now.get(attribute, changed)
            same = after is value or (type(value) in PLAIN_VALUES and type(after) is type(value) and after == value)
            if not same and (name, attribute) not in KERNEL_OWNED:
                changed.append(f"{name}.{attribute}")
    return changed


def restore(cwd):
    changed = changed_modules()
    if changed:
        raise RuntimeError("the last job changed module state: " + ", ".join(sorted(changed)[:10]))
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path
    warnings.filters[:] = filters
    if "pandas" in sys.modules:
        pandas = sys.modules["pandas"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # not reset_option("all"): resetting plotting.backend would import matplotlib
            for key in list(pandas._config.config._registered_options):
                if not key.startswith("plotting."):
                    pandas.reset_option(key)
    if "altair" in sys.modules:
        altair = sys.modules["altair"]
        altair.renderers.enable("default")
        altair.data_transformers.enable("default")
        altair.theme.enable("default")
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(None)
"""

_BASELINE_CODE = f"""
__import__("sys").modules["_exinf_baseline"] = __import__("types").ModuleType("_exinf_baseline")
exec({_BASELINE_MODULE!r}, __import__("sys").modules["_exinf_baseline"].__dict__)
__import__("sys").modules["_exinf_baseline"].take()
"""

# Restore, then one reset with a new session: the user namespace is emptied and execution counts restart at 1,
# as in a new kernel; then the module state this job starts from is recorded. Modules stay imported (the point).
_RESET_CODE = """
__import__("sys").modules["_exinf_baseline"].restore({cwd!r})
get_ipython().reset(new_session=True)
__import__("sys").modules["_exinf_baseline"].take_modules()
"""

#: Optional modules that dependencies import eagerly when installed but that no report process uses.
#: ``rfc3987_syntax`` (brought by jupyter-events through ``jsonschema[format-nongpl]``) builds about 35 Lark
#: parsers at import, ~1 s per process, only to check the JSON-Schema formats ``iri``/``iri-reference``, which
#: neither the Vega-Lite schema (Altair) nor the notebook schema (nbformat) uses. A ``None`` entry in
#: ``sys.modules`` makes its import raise ImportError, and jsonschema then leaves those two formats unchecked,
#: as it does whenever the optional package is not installed. ``tests/test_warm_kernels.py`` checks that a
#: report kernel and worker never load it (nor ``lark``), so a dependency update that brings it back is caught.
SKIPPED_OPTIONAL_MODULES = ("rfc3987_syntax",)

#: Kernel arguments: skip the modules above before any user code runs (no name is left in the user namespace),
#: and keep IPython's history in memory as nbclient does for the kernels it starts (no SQLite file shared by
#: concurrent kernels, no disk write on every reset).
KERNEL_ARGUMENTS = [
    "--HistoryManager.hist_file=:memory:",
    "--IPKernelApp.exec_lines="
    + repr([f"__import__('sys').modules.setdefault({m!r}, None)" for m in SKIPPED_OPTIONAL_MODULES]),
]


def skip_optional_modules() -> None:
    """Apply :data:`SKIPPED_OPTIONAL_MODULES` to this process (a worker); never undoes an import already made."""
    import sys

    for name in SKIPPED_OPTIONAL_MODULES:
        sys.modules.setdefault(name, None)


class KernelSession:
    """The one kernel of a worker process (see the module docstring).

    A warm session keeps one client of its own for the resets: a new client waits for the kernel's first IOPub
    message (about 0.2 s) before it can be used. Papermill runs each job with a client of its own, so that
    nothing of one job's messages can reach the next.
    """

    def __init__(self, options: EngineOptions):
        self.options = options
        self.km = None
        self.kc = None
        self.jobs_run = 0
        self.log_path: Path | None = None

    def _start(self, cwd: Path, log_path: Path):
        # The asynchronous manager: nbclient enforces its cell timeout only with an asynchronous client.
        from jupyter_client import AsyncKernelManager
        from jupyter_client.session import Session
        from jupyter_core.utils import run_sync

        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        km = AsyncKernelManager(kernel_name="python3")
        with log_path.open("ab") as log:
            run_sync(km.start_kernel)(cwd=str(cwd), stdout=log, stderr=log, extra_arguments=KERNEL_ARGUMENTS)
        self.km, self.jobs_run = km, 0
        if self.options.warm:
            # A session of its own: every client of ``km.session`` has the same identity on the kernel's shell
            # socket, so papermill's client (connected later) would take the replies meant for this one.
            self.kc = km.client(session=Session(key=km.session.key, signature_scheme=km.session.signature_scheme))
            self.kc.start_channels()
            run_sync(self.kc.wait_for_ready)(timeout=60)
            self.kc.allow_stdin = False
            self._run(_BASELINE_CODE)
        return km

    def _run(self, code: str, timeout: float = 60.0) -> None:
        from queue import Empty

        from jupyter_core.utils import run_sync

        # The last job's output reached this client too (IOPub goes to every client): read it away first, so
        # that a full queue can never drop the messages of this request.
        with contextlib.suppress(Empty):
            while True:
                run_sync(self.kc.iopub_channel.get_msg)(timeout=0)
        reply = run_sync(self.kc.execute_interactive)(
            code, silent=True, store_history=False, timeout=timeout, output_hook=lambda _message: None
        )
        if reply["content"]["status"] != "ok":
            content = reply["content"]
            raise RuntimeError(f"kernel reset failed: {content.get('ename')}: {content.get('evalue')}")

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
        kc, self.kc = self.kc, None
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
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
    skip_optional_modules()  # before run_job imports papermill (nbformat imports jsonschema)
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
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            start_timeout=60,
            execution_timeout=None,
            km=None,
            **_kw,
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
