"""The kernel manager of the served app and class (``exinf app``): a cap on kernels, with a message.

Voilà asks its kernel manager for a kernel before it sends any of the page, so an HTTP error raised here
reaches the visitor as Voilà's error page ("503: Too many open sessions ...") rather than a spinner.
"""

from __future__ import annotations

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer

from helpers.app import DEFAULT_MAX_KERNELS


class CappedKernelManager(AsyncMappingKernelManager):
    """A kernel manager that refuses a kernel beyond ``max_kernels`` with an HTTP 503 the visitor can read."""

    max_kernels = Integer(
        DEFAULT_MAX_KERNELS, config=True, help="Most kernels alive at once; beyond it a visitor gets HTTP 503."
    )

    async def start_kernel(self, *args, **kwargs):
        if kwargs.get("kernel_id") is None and len(self.list_kernel_ids()) >= self.max_kernels:
            # Voila's error page shows the reason phrase: it carries the whole message.
            raise web.HTTPError(
                503,
                reason=f"Too many open sessions ({self.max_kernels}, this server's limit): close an unused tab, or "
                "try again in a few minutes; idle sessions are closed automatically",
            )
        return await super().start_kernel(*args, **kwargs)
