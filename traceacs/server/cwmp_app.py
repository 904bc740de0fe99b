"""The aiohttp application of the CWMP endpoint: routes, session sweeper, shutdown.

Any path takes a POST (CPEs are configured with arbitrary ACS URLs). A background task
ends sessions whose CPE went silent; on shutdown, open sessions end as "dropped".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from traceacs.server.cwmp_endpoint import CwmpEndpoint

log = logging.getLogger("traceacs.server.cwmp")

ENDPOINT_KEY = web.AppKey("cwmp_endpoint", CwmpEndpoint)
WORKER_HEADER = "X-TraceACS-Worker"
"""Names the ACS process that answered (set with ``traceacs serve --workers``)."""


def sweep_interval_for(session_timeout: float) -> float:
    """How often to look for silent sessions: often enough to end them within ~1 s."""
    return max(0.05, min(1.0, session_timeout / 4))


def make_cwmp_application(
    endpoint: CwmpEndpoint, *, sweep_interval: float | None = None
) -> web.Application:
    """An `aiohttp.web.Application` serving ``endpoint`` on ``POST /<anything>``."""
    interval = (
        sweep_interval
        if sweep_interval is not None
        else sweep_interval_for(endpoint.settings.session_timeout)
    )
    # The envelope cap is enforced by the codec; the HTTP cap leaves room for headers.
    app = web.Application(client_max_size=endpoint.settings.max_body_bytes + 1)
    app[ENDPOINT_KEY] = endpoint
    app.router.add_route("POST", "/{tail:.*}", endpoint.handle)

    async def sweeper(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await endpoint.expire_sessions()
                except Exception as exc:  # keep sweeping whatever one handler did
                    log.error("cwmp: session sweep failed: %s", type(exc).__name__)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def end_open_sessions(app: web.Application) -> None:
        # on_cleanup runs after in-flight POSTs were answered (on_shutdown runs before).
        await endpoint.close_all("dropped")

    worker = endpoint.settings.worker_name
    if worker:

        async def name_worker(request: web.Request, response: web.StreamResponse) -> None:
            response.headers[WORKER_HEADER] = worker

        app.on_response_prepare.append(name_worker)

    app.cleanup_ctx.append(sweeper)
    app.on_cleanup.append(end_open_sessions)
    return app
