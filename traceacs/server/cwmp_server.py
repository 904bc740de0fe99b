"""The CWMP port: the HTTP/1.1 server answering with the endpoint, sweeper, shutdown.

Any path takes a POST (CPEs are configured with arbitrary ACS URLs). A background task
ends sessions whose CPE went silent. Stopping is graceful: the port stops accepting,
idle connections close, POSTs being answered finish (bounded by ``grace``), then open
sessions end as "dropped" (with a shared store they are left for the other processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator

from traceacs.server.cwmp_endpoint import CwmpEndpoint
from traceacs.server.http11 import HttpConnection, HttpOptions, ServerState
from traceacs.server.limits import ServerLimits

log = logging.getLogger("traceacs.server.cwmp")

WORKER_HEADER = "X-TraceACS-Worker"
"""Names the ACS process that answered (set with ``traceacs serve --workers``)."""

SHUTDOWN_GRACE = 5.0
"""Seconds POSTs being answered get to finish when the server stops."""


def sweep_interval_for(session_timeout: float) -> float:
    """How often to look for silent sessions: often enough to end them within ~1 s."""
    return max(0.05, min(1.0, session_timeout / 4))


def http_options(endpoint: CwmpEndpoint, limits: ServerLimits) -> HttpOptions:
    settings = endpoint.settings
    return HttpOptions(
        max_body_bytes=settings.max_body_bytes,
        body_read_timeout=settings.body_read_timeout,
        keepalive_timeout=limits.keepalive_timeout,
        max_connections=limits.max_connections,
        retry_after_seconds=limits.retry_after_seconds,
        lingering_time=limits.lingering_time,
        max_header_bytes=limits.max_header_bytes,
        max_headers=limits.max_headers,
        worker_name=settings.worker_name,
        # Adaptive: the connection cap's 503 books an appointment like the session cap's;
        # otherwise it answers the limits' fixed Retry-After.
        overload_retry_after=(
            endpoint.overload_retry_after if settings.retry_after is not None else None
        ),
    )


class CwmpServer:
    """Serves ``endpoint`` on one listening socket (call `start`, then `stop`)."""

    def __init__(
        self,
        endpoint: CwmpEndpoint,
        limits: ServerLimits | None = None,
        *,
        sweep_interval: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.limits = limits if limits is not None else ServerLimits()
        self.sweep_interval = (
            sweep_interval
            if sweep_interval is not None
            else sweep_interval_for(endpoint.settings.session_timeout)
        )
        self._state = ServerState(endpoint.handle, http_options(endpoint, self.limits))
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def connections(self) -> int:
        """Open client connections (for tests and metrics)."""
        return len(self._state.connections)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The bound (host, port) pairs."""
        if self._server is None:
            return []
        return [
            cast_address(sock.getsockname())
            for sock in self._server.sockets
            if sock.family in (socket.AF_INET, socket.AF_INET6)
        ]

    async def start(
        self,
        host: str | None,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 1024,
    ) -> None:
        loop = asyncio.get_running_loop()
        state = self._state
        self._server = await loop.create_server(
            lambda: HttpConnection(state),
            host or None,
            port,
            ssl=ssl_context,
            backlog=backlog,
            reuse_address=True,
        )
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop accepting, finish the POSTs being answered, then end open sessions."""
        state = self._state
        state.stopping = True
        if self._server is not None:
            self._server.close()
        for connection in list(state.connections):
            if connection.idle:
                connection.close()
        if state.workers:
            _, late = await asyncio.wait(set(state.workers), timeout=grace)
            for task in late:  # past the grace: the stop is not held up any longer
                task.cancel()
            if late:
                log.warning(
                    "cwmp: %d request(s) still running at shutdown were cancelled", len(late)
                )
                await asyncio.wait(late)
        for connection in list(state.connections):
            connection.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.endpoint.close_all("dropped")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.endpoint.expire_sessions()
            except Exception as exc:  # keep sweeping whatever one handler did
                log.error("cwmp: session sweep failed: %s", type(exc).__name__)


def cast_address(name: object) -> tuple[str, int]:
    """(host, port) of a socket name (IPv6 names have four fields)."""
    assert isinstance(name, tuple)
    return str(name[0]), int(name[1])


@contextlib.asynccontextmanager
async def serving(
    endpoint: CwmpEndpoint,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    limits: ServerLimits | None = None,
    sweep_interval: float | None = None,
    ssl_context: ssl.SSLContext | None = None,
    grace: float = SHUTDOWN_GRACE,
) -> AsyncIterator[CwmpServer]:
    """A started `CwmpServer`, stopped on exit."""
    server = CwmpServer(endpoint, limits, sweep_interval=sweep_interval)
    await server.start(host, port, ssl_context=ssl_context)
    try:
        yield server
    finally:
        await server.stop(grace)
