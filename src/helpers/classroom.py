"""Class mode: the student set of the lessons, served by Voilà to a whole class from one machine (``make class``).

Why Voilà rather than JupyterLab: a student sees the lesson as a page, never code or a file browser, and the
kernel accepts only widget messages (Voilà refuses ``execute_request``), so nobody can print an answer key. Each
open page gets its own kernel; the page's kernel is shut down when the tab closes, and kernels left idle without a
connection are culled. One JupyterLab server would share one workspace and one file tree among all students.

What this module adds to a plain ``voila``:

- :func:`write_student_set`: the lessons with solutions and teaching notes removed (:func:`teaching.student_copy`);
- :class:`ClassKernelManager`: a cap on kernels, and a clear error page (HTTP 503 with a reason) instead of an
  endless spinner when a kernel cannot start or dies before it answers;
- a Voilà template (``static/jupyter/voila/templates/exinf-class``) without the CDN stylesheet of the stock page
  template, so nothing is fetched from the network, and with an error page that says what to do.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import nbformat
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Float, Integer

from helpers import paths

#: Where ``make class`` writes the student set (git-ignored build output).
DEFAULT_STUDENT_SET = paths.REPO_ROOT / "build" / "class"
#: A folder of Jupyter data (``voila/templates/exinf-class``) added to ``JUPYTER_PATH`` for the class server.
JUPYTER_DATA = Path(__file__).parent / "static" / "jupyter"
TEMPLATE = "exinf-class"
DEFAULT_MAX_KERNELS = 30
DEFAULT_CULL_IDLE_S = 1200
DEFAULT_PORT = 8866
LESSON_PATTERN = "[5-9]0_lesson_*.ipynb"


def lessons(notebooks: Path | None = None) -> list[Path]:
    """The lesson notebooks, in order."""
    return sorted((notebooks or paths.notebooks_dir()).glob(LESSON_PATTERN))


def write_student_set(target: Path = DEFAULT_STUDENT_SET, notebooks: Path | None = None) -> list[Path]:
    """Write the student copy of every lesson into ``target`` (emptied first); return the files written.

    The copies keep the lesson file names, so Voilà lists them in lesson order. They run from ``target``:
    ``helpers`` finds the data through the installed package (or ``EXINF_DATA_DIR``), not a relative path.
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = []
    for lesson in lessons(notebooks):
        copy = target / lesson.name
        nbformat.write(_student_copy(nbformat.read(lesson, as_version=4)), copy)
        written.append(copy)
    return written


def _student_copy(notebook):
    from helpers.teaching import student_copy

    return student_copy(notebook)


class ClassKernelManager(AsyncMappingKernelManager):
    """Kernels for a class: at most ``max_kernels``, and a readable error when one cannot start.

    Voilà starts the kernel before it sends any of the page, so an exception here becomes the error page (our
    template shows the reason). Without it a kernel that dies on start leaves the page spinning: Voilà keeps
    sending heartbeats while the restarter tries again and again.
    """

    max_kernels = Integer(DEFAULT_MAX_KERNELS, config=True, help="Most kernels (open lesson pages) at once.")
    ready_timeout = Float(60.0, config=True, help="Seconds a new kernel has to answer before the page gives up.")

    async def start_kernel(self, *args, **kwargs) -> str:
        if len(self.list_kernel_ids()) >= self.max_kernels:
            raise web.HTTPError(
                503,
                f"All {self.max_kernels} places of this class are in use. Close a lesson tab you no longer need, "
                "wait a minute and reload; or ask your teacher to raise the limit (make class CLASS_MAX_KERNELS=N).",
                reason="The class is full",
            )
        try:
            kernel_id = await super().start_kernel(*args, **kwargs)
        except Exception as exc:
            self.log.error("kernel could not start: %s", exc)
            raise web.HTTPError(503, _cannot_start(exc), reason="The lesson could not start") from exc
        await self._wait_until_ready(kernel_id)
        return kernel_id

    async def _wait_until_ready(self, kernel_id: str) -> None:
        client = self.get_kernel(kernel_id).client()
        client.start_channels()
        try:
            await asyncio.wait_for(client.wait_for_ready(), timeout=self.ready_timeout)
        except (RuntimeError, TimeoutError) as exc:
            self.log.error("kernel %s did not become ready: %s", kernel_id, exc)
            if kernel_id in self:
                await self.shutdown_kernel(kernel_id, now=True)
            raise web.HTTPError(503, _cannot_start(exc), reason="The lesson could not start") from exc
        finally:
            client.stop_channels()


def _cannot_start(exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    return (
        f"The lesson's Python kernel could not start ({detail}). Reload the page in a minute; if it fails again, "
        "tell your teacher: the class server's log names the cause."
    )


def voila_command(
    student_set: Path,
    port: int = DEFAULT_PORT,
    max_kernels: int = DEFAULT_MAX_KERNELS,
    cull_idle_s: int = DEFAULT_CULL_IDLE_S,
    ip: str = "127.0.0.1",
) -> list[str]:
    """The Voilà command line that serves ``student_set`` to a class."""
    voila = shutil.which("voila", path=str(Path(sys.executable).parent)) or "voila"
    return [
        voila,
        str(student_set),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={ip}",
        f"--template={TEMPLATE}",
        "--theme=light",
        "--VoilaConfiguration.multi_kernel_manager_class=helpers.classroom.ClassKernelManager",
        f"--ClassKernelManager.max_kernels={max_kernels}",
        # A kernel idle this long with no open page is shut down (closed or crashed tabs);
        # a page still open keeps its kernel, so a student reading slowly loses nothing.
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_s}",
        f"--MappingKernelManager.cull_interval={max(10, min(60, cull_idle_s // 4))}",
        "--MappingKernelManager.cull_connected=False",
        "--VoilaConfiguration.show_tracebacks=False",
        # Voila shuts a page's kernel down when the tab closes (a beacon POST with the _xsrf cookie), but its pages
        # never set that cookie, so every shutdown was refused (403) and closed tabs kept their kernels. The POST
        # needs the kernel's random id; the server listens on this machine or the class network only.
        "--Voila.tornado_settings=disable_check_xsrf=True",
    ]


def class_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the class server: our Voilà template on ``JUPYTER_PATH``, the sources on ``PYTHONPATH``."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in [str(JUPYTER_DATA), env.get("JUPYTER_PATH", "")] if p)
    source = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [source, env.get("PYTHONPATH", "")] if p)
    return env


def main(student_set: Path = DEFAULT_STUDENT_SET, port: int = DEFAULT_PORT, max_kernels: int = DEFAULT_MAX_KERNELS,
         cull_idle_s: int = DEFAULT_CULL_IDLE_S, ip: str = "127.0.0.1") -> int:  # fmt: skip
    """Write the student set and serve it until interrupted (``exinf class``)."""
    import subprocess

    written = write_student_set(student_set)
    print(f"student set: {len(written)} lessons in {student_set}")
    print(f"class server: http://{ip}:{port}/ (at most {max_kernels} open lessons; Ctrl+C stops it)")
    process = subprocess.Popen(voila_command(student_set, port, max_kernels, cull_idle_s, ip),
                               env=class_environment())  # fmt: skip
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            return process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
