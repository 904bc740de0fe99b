"""OTLP export configured only by OTEL_* variables reaches a real receiver on 127.0.0.1.

Two receivers built on opentelemetry-proto: an aiohttp server speaking OTLP/HTTP
protobuf (``/v1/traces``, ``/v1/metrics``) and a grpcio server speaking OTLP/gRPC.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import pytest
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from tests.telemetry.traces import ERROR_MESSAGE, SERIAL, provisioning_trace
from traceacs.telemetry.setup import Telemetry, build_telemetry


@dataclass
class Received:
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def spans(self) -> dict[str, tuple[bytes, Status, dict[str, str], str]]:
        """span name -> (trace id, status, string attributes, service.name)."""
        out = {}
        with self.lock:
            for request in self.traces:
                for rs in request.resource_spans:
                    service = next(
                        a.value.string_value
                        for a in rs.resource.attributes
                        if a.key == "service.name"
                    )
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            attributes = {a.key: a.value.string_value for a in span.attributes}
                            out[span.name] = (span.trace_id, span.status, attributes, service)
        return out

    def metric_names(self) -> set[str]:
        with self.lock:
            return {
                m.name
                for request in self.metrics
                for rm in request.resource_metrics
                for sm in rm.scope_metrics
                for m in sm.metrics
            }


def receiver_app(received: Received) -> web.Application:
    """An OTLP/HTTP receiver (``/v1/traces``, ``/v1/metrics``) filling ``received``."""

    async def traces(request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest.FromString(await request.read())
        with received.lock:
            received.traces.append(message)
            received.headers.append(dict(request.headers))
        body = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")

    async def metrics(request: web.Request) -> web.Response:
        message = ExportMetricsServiceRequest.FromString(await request.read())
        with received.lock:
            received.metrics.append(message)
        body = ExportMetricsServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", traces)
    app.router.add_post("/v1/metrics", metrics)
    return app


@pytest.fixture
async def http_receiver() -> AsyncIterator[tuple[str, Received]]:
    received = Received()

    runner = web.AppRunner(receiver_app(received))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(  # the generated service's method name
        self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        with self.received.lock:
            self.received.traces.append(request)
            self.received.headers.append(dict(context.invocation_metadata()))  # type: ignore[arg-type]
        return ExportTraceServiceResponse()


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[str, Received]]:
    received = Received()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        _TraceService(received), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.stop(grace=None).wait()


def _export_one_failed_provisioning(telemetry: Telemetry) -> str:
    trace, outcome = provisioning_trace("config_push_failed")
    telemetry.provisioning.session_started()
    telemetry.provisioning.session_finished(trace, outcome)
    return trace.trace_id


async def test_otlp_http_from_env(
    http_receiver: tuple[str, Received], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, received = http_receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-oneuptime-token=tok%3D123")
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    telemetry = build_telemetry(prometheus=False)
    try:
        trace_id = _export_one_failed_provisioning(telemetry)
        assert await asyncio.to_thread(telemetry.force_flush, 10_000)
    finally:
        await asyncio.to_thread(telemetry.shutdown)

    spans = received.spans()
    assert {bytes.hex(t) for t, _, _, _ in spans.values()} == {trace_id}
    _, push_status, _, service = spans["cpe.provision.push_config"]
    assert push_status.code == Status.STATUS_CODE_ERROR
    assert push_status.message == ERROR_MESSAGE["config_push_failed"]
    assert service == "traceacs"  # the default OTEL_SERVICE_NAME
    assert spans["cpe.inform"][2]["cpe.serial_number"] == SERIAL
    assert received.headers[0]["x-oneuptime-token"] == "tok=123"
    assert {"cpe.provision.count", "cpe.provision.duration"} <= received.metric_names()


def test_otlp_grpc_from_env(
    grpc_receiver: tuple[str, Received], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, received = grpc_receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-oneuptime-token=abc")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "acs-east-1")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    telemetry = build_telemetry(prometheus=False)
    try:
        trace_id = _export_one_failed_provisioning(telemetry)
        assert telemetry.force_flush(10_000)
    finally:
        telemetry.shutdown()

    spans = received.spans()
    assert "cwmp.rpc SetParameterValues" in spans
    assert {bytes.hex(t) for t, _, _, _ in spans.values()} == {trace_id}
    assert {s for _, _, _, s in spans.values()} == {"acs-east-1"}
    assert received.headers[0]["x-oneuptime-token"] == "abc"
