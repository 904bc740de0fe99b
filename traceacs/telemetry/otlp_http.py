"""The SDK's OTLP/HTTP span exporter with the request encoded by `otlp_encoding`.

Everything but the encoding stays the SDK's: endpoint, headers, compression, TLS,
timeouts, retries with backoff, the request size limit and the exporter's own metrics
(``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``). Those live in attributes the SDK does
not document (``_client``, ``_metrics``, ...), so `otlp_http_span_exporter` checks
that the installed SDK has them and falls back to the stock exporter otherwise: a
newer SDK can cost CPU, never spans.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from traceacs.telemetry.otlp_encoding import EncodedSpan, encode_trace_request

log = logging.getLogger(__name__)

_SDK_ATTRIBUTES = ("_client", "_metrics", "_max_request_size", "_shutdown")


class DirectOtlpHttpSpanExporter(OTLPSpanExporter):
    """OTLP/HTTP protobuf, each batch serialized straight from the spans."""

    def export(self, spans: Sequence[ReadableSpan | EncodedSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as outcome:
            try:
                body = encode_trace_request(spans)
            except Exception as exc:  # a batch that cannot be encoded is lost, not fatal
                log.error("could not encode a span batch: %s", type(exc).__name__)
                outcome.error = exc
                return SpanExportResult.FAILURE
            limit = self._max_request_size
            if limit and limit > 0 and len(body) > limit:
                log.warning("span batch of %d bytes dropped: over %d", len(body), limit)
                outcome.error = ValueError(f"span batch of {len(body)} bytes over {limit}")
                return SpanExportResult.FAILURE
            sent = self._client.export(body)
            if not sent.success:
                outcome.error = sent.error
                if sent.status_code is not None:
                    outcome.error_attrs = {"http.response.status_code": sent.status_code}
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


def otlp_http_span_exporter(endpoint: str, headers: Mapping[str, str]) -> SpanExporter:
    """The direct-encoding exporter, or the SDK's if this SDK is not the one it knows."""
    exporter = DirectOtlpHttpSpanExporter(endpoint=endpoint, headers=dict(headers))
    if all(hasattr(exporter, name) for name in _SDK_ATTRIBUTES):
        return exporter
    log.info("OTLP/HTTP spans encoded by the SDK (unknown exporter internals)")
    exporter.shutdown()  # type: ignore[no-untyped-call]
    return OTLPSpanExporter(endpoint=endpoint, headers=dict(headers))


class EncodedSpanBatchProcessor(BatchSpanProcessor):
    """The SDK's batch span processor, also taking spans the session adapter encoded.

    Everything is the SDK's: queue bound, batch size and delay (``OTEL_BSP_*``), drops
    when full and their counting (``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``),
    flush and shutdown. `emit_encoded` queues an `EncodedSpan` where `on_end` queues a
    `ReadableSpan` (one queue item per span either way); only a processor whose
    exporter is `DirectOtlpHttpSpanExporter`, on an SDK whose batch processor this
    module knows, `accepts_encoded` spans.
    """

    def __init__(self, span_exporter: SpanExporter, **kwargs: Any) -> None:
        super().__init__(span_exporter, **kwargs)
        batch = getattr(self, "_batch_processor", None)
        self._emit = getattr(batch, "emit", None)
        self.accepts_encoded = self._emit is not None and isinstance(
            getattr(batch, "_exporter", None), DirectOtlpHttpSpanExporter
        )

    def emit_encoded(self, span: EncodedSpan) -> None:
        """Queue a sampled span that `encode_span_fields` wrote (as `on_end` would)."""
        assert self._emit is not None
        self._emit(span)
