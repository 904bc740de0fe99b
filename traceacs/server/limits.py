"""What one client may hold of a CPE-facing server: connections, idle time, log lines.

`ServerLimits` bounds both CPE-facing ports: the CWMP port (served by
`traceacs.server.http11`, which applies every limit itself) and the file port (an
aiohttp application, for which this module closes aiohttp's gaps: its default idle
timeout is an hour, it has no connection limit, and it logs every malformed request at
ERROR with a traceback, so anyone on the internet could flood the log and page the
operator).

- ``keepalive_timeout`` closes a connection that sends no complete request head for
  that long: a client dribbling headers byte by byte (slowloris) and a CPE that never
  sends the response to an RPC both lose their socket. It is longer than the CWMP
  session timeout, so a slow but live CPE keeps its connection for as long as its session.
- Connections beyond ``max_connections`` get a 503 and are closed, before any byte of
  theirs is read (`LimitedTCPSite` on aiohttp).
- A body unread after an early answer (408, 413) is drained for ``lingering_time``,
  not aiohttp's 10 s.
- `ClientErrorLogger` logs malformed HTTP (4xx) at WARNING without a traceback or the
  offending bytes; real server errors keep their ERROR and traceback.

Handler cancellation on client disconnect stays off: a workflow step must not be torn
in the middle of its database writes because a CPE hung up.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

DEFAULT_KEEPALIVE_TIMEOUT = 60.0
"""Seconds a connection may stay without a complete request (2x the session timeout)."""

DEFAULT_MAX_CONNECTIONS = 20_000
"""Twice the default session cap: room for CPEs between sessions and retries."""


@dataclass(frozen=True, slots=True)
class ServerLimits:
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    retry_after_seconds: int = 30
    lingering_time: float = 2.0
    """Seconds to drain a body left unread (after a 408/413) before closing; aiohttp's
    default of 10 s would let a stalled client keep its socket that much longer."""
    max_header_bytes: int = 32_768
    """Bytes of a request head (request line and headers); beyond it, 431 and close."""
    max_headers: int = 100
    """Header fields of a request; beyond it, 431 and close."""


class ClientErrorLogger(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger, with client errors (4xx) down to one WARNING line."""

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            # exc's text may quote the request (cookies, credentials): name it only.
            self.logger.warning(
                "malformed HTTP request answered %d (%s)", exc.code, type(exc).__name__
            )
            return
        self.logger.exception(msg, *args, **kwargs)


def runner_options(limits: ServerLimits) -> dict[str, Any]:
    """Keyword arguments for `aiohttp.web.AppRunner` serving CPEs."""
    return {
        "keepalive_timeout": limits.keepalive_timeout,
        "lingering_time": limits.lingering_time,
        "logger": ClientErrorLogger(logging.getLogger("aiohttp.server"), {}),
    }


class _Refused(asyncio.Protocol):
    """A connection over the limit: one 503, then closed, nothing read."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's TCP transports (what `serve` runs
        # on) write but do not derive from asyncio.WriteTransport; the assert that was
        # here raised on every refused connection under uvloop and left it unanswered.
        transport = cast(asyncio.WriteTransport, transport)
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: %d\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n" % self.retry_after
        )
        transport.close()


class LimitedTCPSite(web.TCPSite):
    """A `web.TCPSite` refusing connections beyond ``limits.max_connections``."""

    __slots__ = ("_limits",)

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, limits: ServerLimits, **kwargs: Any
    ) -> None:
        super().__init__(runner, host, port, **kwargs)
        self._limits = limits

    def _protocol(self) -> asyncio.BaseProtocol:
        server = self._runner.server
        assert server is not None
        if len(server.connections) >= self._limits.max_connections:
            return _Refused(self._limits.retry_after_seconds)
        return server()

    async def start(self) -> None:
        # TCPSite.start with the server wrapped in the limit (same listen options).
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
