"""The SDK's OTLP/HTTP span exporter with the request encoded by `otlp_encoding`.

Everything but the encoding stays the SDK's: endpoint, headers, compression, TLS,
timeouts, retries with backoff, the request size limit and the exporter's own metrics
(``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``). Those live in attributes the SDK does
not document (``_client``, ``_metrics``, ...), so `otlp_http_span_exporter` checks
that the installed SDK has them and falls back to the stock exporter otherwise: a
newer SDK can cost CPU, never spans.

The request itself goes out on one keep-alive `http.client` connection
(`KeepAliveHttpTransport`) for a plain ``http://`` Collector that `requests` would
reach directly (no proxy, no ``.netrc``, no credential provider): `requests` spends
~0.4 ms of CPU per request (settings merged, ``.netrc`` looked up on disk, adapters)
against ~0.08 ms, on the core that serves the CPEs. HTTPS and every other case keep
the SDK's `requests` transport.
"""

from __future__ import annotations

import inspect
import logging
import os
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from traceacs.telemetry.otlp_encoding import EncodedSpan, encode_trace_request

if TYPE_CHECKING:
    from opentelemetry.exporter.http.transport._base import BaseHTTPTransport

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
    transport = keep_alive_transport(endpoint)
    if transport is None:
        exporter = DirectOtlpHttpSpanExporter(endpoint=endpoint, headers=dict(headers))
    else:
        exporter = DirectOtlpHttpSpanExporter(
            endpoint=endpoint, headers=dict(headers), _transport=transport
        )
    if all(hasattr(exporter, name) for name in _SDK_ATTRIBUTES):
        return exporter
    log.info("OTLP/HTTP spans encoded by the SDK (unknown exporter internals)")
    exporter.shutdown()  # type: ignore[no-untyped-call]
    return OTLPSpanExporter(endpoint=endpoint, headers=dict(headers))


# -- transport ----------------------------------------------------------------------------

_CREDENTIAL_PROVIDERS = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
)


def keep_alive_transport(endpoint: str) -> BaseHTTPTransport | None:
    """A `KeepAliveHttpTransport` for ``endpoint`` when it sends what `requests` would
    have sent: a plain ``http://`` URL, no proxy for its host, no ``.netrc`` (whose
    credentials `requests` would add), no credential provider (a `requests` session);
    otherwise ``None``, and the SDK builds its `requests` transport. ``None`` too when
    this SDK's exporter takes no transport or has no transport interface."""
    if "_transport" not in inspect.signature(OTLPSpanExporter.__init__).parameters:
        return None
    try:
        from traceacs.telemetry.otlp_transport import KeepAliveHttpTransport
    except ImportError:  # the SDK's transport interface moved: keep its own transport
        return None
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or not parts.hostname:
        return None
    if any(os.environ.get(name) for name in _CREDENTIAL_PROVIDERS):
        return None
    proxies = urllib.request.getproxies_environment()
    if (proxies.get("http") or proxies.get("all")) and not urllib.request.proxy_bypass(
        parts.netloc
    ):
        return None
    if os.environ.get("NETRC") or any((Path.home() / n).exists() for n in (".netrc", "_netrc")):
        return None
    try:
        port = parts.port or 80
    except ValueError:
        return None
    return KeepAliveHttpTransport(parts.hostname, port, parts.path or "/", parts.query)


class EncodedSpanBatchProcessor(BatchSpanProcessor):
    """The SDK's batch span processor, also taking spans the session adapter encoded.

    Everything is the SDK's: queue bound, batch size and delay (``OTEL_BSP_*``), drops
    when full and their counting (``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``),
    flush and shutdown. `emit_encoded` queues a session's `EncodedSpan`s where `on_end`
    queues one `ReadableSpan` (one queue item per span either way); only a processor
    whose exporter is `DirectOtlpHttpSpanExporter`, on an SDK whose batch processor
    has the internals this class knows, `accepts_encoded` spans.
    """

    _KNOWN: tuple[str, ...] = ("emit", "_exporter", "_queue", "_shutdown", "_pid")
    _KNOWN += ("_max_queue_size", "_max_export_batch_size", "_worker_awaken")

    def __init__(self, span_exporter: SpanExporter, **kwargs: Any) -> None:
        super().__init__(span_exporter, **kwargs)
        batch = getattr(self, "_batch_processor", None)
        self._batch: Any = batch
        self.accepts_encoded = all(hasattr(batch, name) for name in self._KNOWN) and (
            isinstance(batch._exporter, DirectOtlpHttpSpanExporter)  # type: ignore[union-attr]
        )

    def emit_encoded(self, spans: Sequence[EncodedSpan]) -> None:
        """Queue a session's sampled spans (`encode_span_fields`), as `on_end` would
        one by one, with the SDK's checks made once for them (``os.getpid()`` is a
        system call): after a fork, at shutdown or with the queue full, each span goes
        through the SDK's own `emit` (re-initialisation, drop logging and counting)."""
        batch = self._batch
        queue = batch._queue
        if batch._shutdown or batch._pid != os.getpid():
            for span in spans:
                batch.emit(span)
            return
        limit = batch._max_queue_size
        for span in spans:
            if len(queue) >= limit:
                batch.emit(span)
            else:
                queue.appendleft(span)
        if len(queue) >= batch._max_export_batch_size and not batch._worker_awaken.is_set():
            batch._worker_awaken.set()
