"""Serving notebooks with Voilà: what the app (``exinf app``) and a class (``exinf class``) share.

- **One template**, ``exinf`` (``share/voila/templates/exinf``): Voilà's ``lab`` template without the two Font
  Awesome stylesheets it fetches from a CDN (the icon fonts ship inside Voilà's own bundle), and an error page
  that says what happened and what to do. Nothing is fetched from a network; browser tests fail if that changes.
- **A kernel manager with a cap** (:class:`CappedKernelManager`): beyond ``max_kernels`` the next visitor gets
  HTTP 503 with a reason; a kernel that cannot start, or dies before it answers, becomes the same kind of error
  page within ``ready_timeout`` seconds instead of an endless spinner. Voilà asks for the kernel before it sends
  any of the page, so an error raised here is what the visitor sees.
- **Kernels that go away**: a closed tab shuts its kernel down (Voilà's beacon), and a kernel idle for
  ``cull_idle_s`` seconds with no page connected is culled (jupyter_server's culler); an open page keeps its kernel.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Float, Integer, Unicode

#: Folder added to JUPYTER_PATH so that Voilà finds the ``exinf`` template (``voila/templates/exinf``).
SHARE = Path(__file__).resolve().parent / "share"
TEMPLATE = "exinf"
SOURCES = Path(__file__).resolve().parents[1]


class CappedKernelManager(AsyncMappingKernelManager):
    """Kernels for visitors: at most ``max_kernels``, and a readable error when one cannot be had.

    The texts are traits so that a server for a class can speak to students (``helpers.classroom``).
    """

    max_kernels = Integer(12, config=True, help="Most kernels (open pages) at once; beyond it a visitor gets 503.")
    ready_timeout = Float(60.0, config=True, help="Seconds a new kernel has to answer before the page gives up.")
    full_reason = Unicode("Too many open sessions", config=True, help="Title of the page shown at the cap.")
    full_message = Unicode(
        "This server runs at most {max_kernels} sessions at once: close an unused tab, or try again in a few "
        "minutes (idle sessions are closed automatically).",
        config=True,
        help="Text of the page shown at the cap; {max_kernels} is replaced.",
    )
    failed_reason = Unicode("The page could not start", config=True, help="Title when a kernel cannot start.")
    failed_advice = Unicode(
        "Reload the page in a minute; if it fails again, the server's log names the cause.",
        config=True,
        help="What to do when a kernel cannot start.",
    )

    async def start_kernel(self, *args, **kwargs) -> str:
        # A restart passes the id of a kernel that already counts; only new kernels meet the cap.
        if kwargs.get("kernel_id") is None and len(self.list_kernel_ids()) >= self.max_kernels:
            raise web.HTTPError(503, self.full_message.format(max_kernels=self.max_kernels), reason=self.full_reason)
        try:
            kernel_id = await super().start_kernel(*args, **kwargs)
        except web.HTTPError:
            raise
        except Exception as exc:
            self.log.error("kernel could not start: %s", exc)
            raise web.HTTPError(503, self._cannot_start(exc), reason=self.failed_reason) from exc
        await self._wait_until_ready(kernel_id)
        return kernel_id

    async def _wait_until_ready(self, kernel_id: str) -> None:
        # Without this, a kernel that dies on start leaves the page spinning: Voilà keeps sending heartbeats
        # while the restarter tries again and again.
        client = self.get_kernel(kernel_id).client()
        client.start_channels()
        try:
            await asyncio.wait_for(client.wait_for_ready(), timeout=self.ready_timeout)
        except (RuntimeError, TimeoutError) as exc:
            self.log.error("kernel %s did not become ready: %s", kernel_id, exc)
            if kernel_id in self:
                await self.shutdown_kernel(kernel_id, now=True)
            raise web.HTTPError(503, self._cannot_start(exc), reason=self.failed_reason) from exc
        finally:
            client.stop_channels()

    def _cannot_start(self, exc: BaseException) -> str:
        return f"The Python kernel could not start ({str(exc) or type(exc).__name__}). {self.failed_advice}"


def voila_command(
    target: Path,
    *,
    port: int,
    max_kernels: int,
    cull_idle_s: int,
    manager: type[CappedKernelManager] = CappedKernelManager,
    pool: int = 0,
    ip: str = "127.0.0.1",
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The ``voila`` command line that serves ``target`` (a notebook or a folder) as described above."""
    voila = shutil.which("voila", path=str(Path(sys.executable).parent)) or "voila"
    return [
        voila,
        str(target),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={ip}",
        f"--template={TEMPLATE}",
        "--theme=light",
        f"--VoilaConfiguration.multi_kernel_manager_class={manager.__module__}.{manager.__name__}",
        f"--{manager.__name__}.max_kernels={max_kernels}",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_s}",
        f"--MappingKernelManager.cull_interval={max(2, min(60, cull_idle_s // 4))}",
        "--MappingKernelManager.cull_connected=False",  # an open page keeps its kernel, however slow its reader
        "--VoilaConfiguration.show_tracebacks=False",
        # Voilà shuts a page's kernel down when the tab closes (a beacon POST with the _xsrf cookie), but its pages
        # never set that cookie, so every shutdown was refused (403) and closed tabs kept their kernels. The POST
        # needs the kernel's random id, and the server listens on this machine (or a class network) only.
        "--Voila.tornado_settings=disable_check_xsrf=True",
        *(["--preheat_kernel=True", f"--pool_size={pool}"] if pool > 0 else []),
        *extra,
    ]


def voila_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: the ``exinf`` template on ``JUPYTER_PATH``, the project's sources importable."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in [str(SHARE), env.get("JUPYTER_PATH", "")] if p)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(SOURCES), env.get("PYTHONPATH", "")] if p)
    return env


def run(command: list[str], cwd: Path | None = None) -> int:
    """Run a server in the foreground with :func:`voila_env` until it exits or Ctrl-C; returns its exit code.

    On Ctrl-C the server gets SIGTERM and 20 s to shut its kernels down cleanly, then is killed.
    """
    import subprocess

    process = subprocess.Popen(command, cwd=cwd, env=voila_env())
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            return process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
