"""OTLP/HTTP requests on one keep-alive `http.client` connection (the SDK's transport API).

The SDK's OTLP/HTTP exporters send through a `BaseHTTPTransport`; theirs is built on
`requests`, which spends ~0.4 ms of CPU per request (settings merged per request,
``.netrc`` looked up on disk, adapters and pools) where `http.client` on a kept-alive
connection spends ~0.08 ms, on the core that serves the CPEs. Retries, backoff and the
export deadline stay the SDK's (`_OTLPHTTPClient`, which calls this).
`traceacs.telemetry.otlp_http.keep_alive_transport` decides when it is used.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from dataclasses import dataclass, field

from opentelemetry.exporter.http.transport._base import BaseHTTPResult, BaseHTTPTransport
from requests.structures import CaseInsensitiveDict


@dataclass(frozen=True, slots=True)
class KeepAliveHttpResult(BaseHTTPResult):
    """A response (status, reason, body, headers) or the error that prevented one."""

    body: bytes = field(default=b"", compare=False)
    header_items: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def content(self) -> bytes:
        return self.body

    def headers(self) -> Mapping[str, str]:
        return CaseInsensitiveDict(self.header_items)


class KeepAliveHttpTransport(BaseHTTPTransport):
    """POSTs to one ``http://`` endpoint on one persistent `http.client` connection.

    Called by the SDK's `_OTLPHTTPClient` from one export at a time (the batch
    processor's export lock). A failed request closes the connection; the next one
    opens a new one, which the SDK's immediate retry of a connection error counts on
    (a Collector that restarted, a kept-alive connection it timed out).
    """

    def __init__(self, host: str, port: int, path: str, query: str = "") -> None:
        self._host, self._port = host, port
        self._target = f"{path}?{query}" if query else path
        self._connection: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        data: bytes | None = None,
    ) -> BaseHTTPResult:
        """``url`` is the endpoint this transport was made for (the SDK sends nothing else)."""
        if timeout is not None and timeout <= 0:
            return KeepAliveHttpResult(error=TimeoutError("OTLP export deadline passed"))
        try:
            connection = self._connection
            if connection is None:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
                self._connection = connection
            elif connection.sock is not None:
                connection.sock.settimeout(timeout)
            connection.request(method, self._target, body=data, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
        except Exception as error:  # refused, reset, timed out, a malformed answer
            self.close()
            return KeepAliveHttpResult(error=error)
        if response.will_close:
            self.close()
        return KeepAliveHttpResult(
            status_code=response.status,
            reason=response.reason,
            body=body,
            header_items=tuple(response.getheaders()),
        )

    def is_connection_error(self, exception: Exception | None) -> bool:
        """What failed before an HTTP answer: the SDK retries these with backoff."""
        return isinstance(exception, OSError | http.client.HTTPException)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
