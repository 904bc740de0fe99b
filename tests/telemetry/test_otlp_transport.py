"""The OTLP/HTTP span exporter's keep-alive `http.client` transport, and when it is used.

`requests` stays the transport wherever it would have sent something different (TLS,
a proxy, ``.netrc`` credentials, a credential provider's session).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.http.transport._requests import RequestsHTTPTransport
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.telemetry.conftest import make_harness
from tests.telemetry.traces import provisioning_trace
from traceacs.telemetry.otlp_http import (
    DirectOtlpHttpSpanExporter,
    keep_alive_transport,
    otlp_http_span_exporter,
)
from traceacs.telemetry.otlp_transport import KeepAliveHttpTransport


def _transport_of(endpoint: str) -> object:
    exporter = otlp_http_span_exporter(endpoint, {})
    assert isinstance(exporter, DirectOtlpHttpSpanExporter)
    try:
        return exporter._client._transport
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]


@pytest.fixture
def plain_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc


@pytest.mark.usefixtures("plain_environment")
def test_a_plain_http_collector_gets_the_keep_alive_transport() -> None:
    assert isinstance(_transport_of("http://127.0.0.1:4318/v1/traces"), KeepAliveHttpTransport)


@pytest.mark.usefixtures("plain_environment")
@pytest.mark.parametrize(
    "setting",
    [
        "https",
        "HTTP_PROXY",
        "ALL_PROXY",
        "netrc",
        "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    ],
)
def test_requests_stays_the_transport_where_it_would_send_otherwise(
    setting: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    endpoint = "http://collector.example:4318/v1/traces"
    if setting == "https":
        endpoint = endpoint.replace("http:", "https:")
    elif setting == "netrc":
        (tmp_path / ".netrc").write_text("machine collector.example login u password p\n")
    elif setting.endswith("PROXY"):
        monkeypatch.setenv(setting, "http://proxy.example:3128")
    else:  # a credential provider's requests session: the SDK loads it for its transport
        monkeypatch.setenv(setting, "some-provider")
        assert keep_alive_transport(endpoint) is None
        return
    assert keep_alive_transport(endpoint) is None
    assert isinstance(_transport_of(endpoint), RequestsHTTPTransport)


@pytest.mark.usefixtures("plain_environment")
def test_no_proxy_for_the_collector_keeps_the_keep_alive_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert isinstance(_transport_of("http://127.0.0.1:4318/v1/traces"), KeepAliveHttpTransport)


class OneRequestPerConnection:
    """An HTTP server that answers one request per connection, then closes it without
    saying so (no ``Connection: close``), as a Collector timing out idle keep-alive
    connections does between two exports."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1/traces"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(body) < length:
                    body += connection.recv(65536)
                self.bodies.append(body)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def one_per_connection() -> Iterator[OneRequestPerConnection]:
    server = OneRequestPerConnection()
    yield server
    server.close()


@pytest.mark.usefixtures("plain_environment")
def test_a_connection_the_collector_closed_is_replaced_and_nothing_is_lost(
    one_per_connection: OneRequestPerConnection,
) -> None:
    harness = make_harness()
    try:
        trace, outcome = provisioning_trace("success")
        harness.port.session_finished(trace, outcome)
        spans = harness.finished_spans()
    finally:
        harness.telemetry.shutdown()
    exporter = otlp_http_span_exporter(one_per_connection.url, {})
    assert isinstance(exporter, DirectOtlpHttpSpanExporter)
    assert isinstance(exporter._client._transport, KeepAliveHttpTransport)
    try:
        results = [exporter.export(spans[i : i + 1]) for i in range(3)]
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
    assert results == [SpanExportResult.SUCCESS] * 3
    assert len(one_per_connection.bodies) == 3
    assert one_per_connection.connections == 3


@pytest.mark.usefixtures("plain_environment")
def test_a_refused_connection_fails_the_export_within_its_timeout() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there any more
    transport = KeepAliveHttpTransport("127.0.0.1", port, "/v1/traces")
    result = transport.request("POST", f"http://127.0.0.1:{port}/v1/traces", data=b"x", timeout=5)
    assert result.status_code is None
    assert transport.is_connection_error(result.error)
    transport.close()
