"""Builds the tracer and meter providers from the standard ``OTEL_*`` variables.

Nothing here touches OpenTelemetry's global providers: `build_telemetry` returns a
`Telemetry` that the application passes to whoever needs it (tests build their own
with in-memory exporters; two instances can live in one process).

Read from ``environ`` (default ``os.environ``):

* ``OTEL_SDK_DISABLED=true``: telemetry off (the port becomes a no-op).
* ``OTEL_SERVICE_NAME`` (default ``traceacs``), ``OTEL_RESOURCE_ATTRIBUTES``.
* ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT``:
  OTLP export happens only when one is set (otherwise traces go to the embedded store,
  passed in as a span processor, and metrics to Prometheus).
* ``OTEL_EXPORTER_OTLP_PROTOCOL`` / ``..._{TRACES,METRICS}_PROTOCOL``: ``grpc`` or
  ``http/protobuf`` (the spec's default).
* ``OTEL_EXPORTER_OTLP_HEADERS`` / ``..._{TRACES,METRICS}_HEADERS``: ``k=v,k2=v2``.
* ``OTEL_EXPORTER_OTLP_INSECURE``: plain-text gRPC (also implied by an ``http://`` URL).
* ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``: ``otlp`` (default), ``console``,
  ``none``.
* ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``: the SDK's sampler names. Use a
  ``parentbased_*`` sampler: whole-trace sampling relies on children following their
  root's decision.
* ``OTEL_METRIC_EXPORT_INTERVAL`` (ms, default 60000).
* ``OTEL_BSP_*`` (batch span processor queue and delays) and
  ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true`` (the SDK counts the spans it drops)
  are read by the SDK itself from the process environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetricExporter,
)
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from prometheus_client import CollectorRegistry

from traceacs.provisioning.telemetry_port import NoOpProvisioningTelemetry, ProvisioningTelemetry
from traceacs.telemetry.exporter import OtelProvisioningTelemetry
from traceacs.telemetry.instruments import Instruments, views
from traceacs.telemetry.otlp_http import EncodedSpanBatchProcessor, otlp_http_span_exporter
from traceacs.telemetry.sampling import QuietSessionSampler
from traceacs.telemetry.trace_store import TraceStoreProcessor, observe_trace_store

DEFAULT_SERVICE_NAME = "traceacs"
DEFAULT_QUIET_PERIODIC_RATIO = 0.1
GRPC = "grpc"
HTTP_PROTOBUF = "http/protobuf"


class TelemetryConfigError(ValueError):
    """An ``OTEL_*`` variable has a value TraceACS cannot honour."""


@dataclass
class Telemetry:
    """Everything telemetry the application wires in, and the way to stop it."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    provisioning: ProvisioningTelemetry
    prometheus_registry: CollectorRegistry | None
    exporters: list[str] = field(default_factory=list)
    """Human-readable description of the configured exporters (for the startup log)."""

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        traces = self.tracer_provider.force_flush(timeout_millis)
        metrics = self.meter_provider.force_flush(timeout_millis)
        return traces and metrics

    def shutdown(self, metrics_timeout_millis: float = 5_000) -> None:
        """Flush and stop every exporter; call once, at application exit.

        Bounded: with the Collector down, the span exporter gives up after its
        ``OTEL_EXPORTER_OTLP_TIMEOUT`` (10 s by default) and the final metrics export
        after ``metrics_timeout_millis``, so a dead Collector cannot hang the exit.
        """
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown(timeout_millis=metrics_timeout_millis)


def build_telemetry(
    environ: Mapping[str, str] | None = None,
    *,
    capacity: Callable[[], int | None] | None = None,
    quiet_periodic_ratio: float = DEFAULT_QUIET_PERIODIC_RATIO,
    prometheus: bool = True,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
) -> Telemetry:
    """Build providers, exporters, instruments and the provisioning adapter.

    ``span_processors`` / ``metric_readers`` are added as given: the embedded trace
    store's processor, or in-memory ones in tests. The session histograms and
    counters are aggregated once and every metric reader (these, OTLP, Prometheus)
    receives the same points (`Instruments`, `session_metrics`). ``capacity`` feeds the
    ``cpe.provision.capacity`` gauge. ``quiet_periodic_ratio`` is the share of quiet
    periodic sessions whose traces are kept.
    """
    env = os.environ if environ is None else environ
    disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    resource = Resource.create(_resource_attributes(env))
    description: list[str] = []
    # Exporters first: a bad setting fails before any provider (or thread) exists.
    sampler = _sampler(env)
    span_exporter = None if disabled else _span_exporter(env)
    metric_exporter = None if disabled else _metric_exporter(env)

    tracer_provider = TracerProvider(sampler=sampler, resource=resource)
    readers: list[MetricReader] = list(metric_readers)
    registry: CollectorRegistry | None = None
    if not disabled:
        if metric_exporter is not None:
            interval = float(env.get("OTEL_METRIC_EXPORT_INTERVAL", "60000"))
            readers.append(
                PeriodicExportingMetricReader(metric_exporter, export_interval_millis=interval)
            )
            description.append(f"metrics: {type(metric_exporter).__name__}")
        if prometheus:
            registry = CollectorRegistry(auto_describe=True)
            readers.append(PrometheusMetricReader(registry=registry))
            description.append("metrics: prometheus /metrics")
    meter_provider = MeterProvider(
        metric_readers=readers if not disabled else [], resource=resource, views=views()
    )
    if not disabled:
        for processor in span_processors:
            tracer_provider.add_span_processor(processor)
            if isinstance(processor, TraceStoreProcessor):
                observe_trace_store(processor, meter_provider)
        if span_exporter is not None:
            # Our meter provider, not the global no-op one: with the SDK's
            # OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true, spans the batch queue drops
            # (Collector down, queue full) are counted on /metrics as
            # otel_sdk_processor_span_processed_total{error_type="queue_full"}.
            processor = EncodedSpanBatchProcessor(span_exporter, meter_provider=meter_provider)
            tracer_provider.add_span_processor(processor)
            description.insert(0, f"traces: {type(span_exporter).__name__}")
    port: ProvisioningTelemetry
    if disabled:
        port = NoOpProvisioningTelemetry()
    else:
        port = OtelProvisioningTelemetry(
            tracer_provider,
            Instruments(meter_provider, capacity, readers=readers, resource=resource),
            QuietSessionSampler(quiet_periodic_ratio),
        )
    return Telemetry(tracer_provider, meter_provider, port, registry, description)


# -- environment parsing ----------------------------------------------------------------


def parse_key_values(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` (values URL-encoded), the format of OTEL headers and attributes."""
    result: dict[str, str] = {}
    for item in text.split(","):
        if "=" not in item:
            continue
        key, value = item.split("=", 1)
        if key.strip():
            result[unquote(key.strip())] = unquote(value.strip())
    return result


def _resource_attributes(env: Mapping[str, str]) -> dict[str, str]:
    attributes = parse_key_values(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    attributes["service.name"] = (
        env.get("OTEL_SERVICE_NAME") or attributes.get("service.name") or DEFAULT_SERVICE_NAME
    )
    return attributes


def _sampler(env: Mapping[str, str]) -> Sampler:
    name = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    ratio_text = env.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
    try:
        ratio = float(ratio_text)
    except ValueError as exc:
        raise TelemetryConfigError(
            f"OTEL_TRACES_SAMPLER_ARG is not a number: {ratio_text}"
        ) from exc
    samplers: dict[str, Callable[[], Sampler]] = {
        "always_on": lambda: ALWAYS_ON,
        "always_off": lambda: ALWAYS_OFF,
        "traceidratio": lambda: TraceIdRatioBased(ratio),
        "parentbased_always_on": lambda: ParentBased(ALWAYS_ON),
        "parentbased_always_off": lambda: ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": lambda: ParentBased(TraceIdRatioBased(ratio)),
    }
    if name not in samplers:
        raise TelemetryConfigError(f"unsupported OTEL_TRACES_SAMPLER: {name}")
    return samplers[name]()


def _signal_setting(env: Mapping[str, str], signal: str, setting: str) -> str | None:
    return env.get(f"OTEL_EXPORTER_OTLP_{signal}_{setting}") or env.get(
        f"OTEL_EXPORTER_OTLP_{setting}"
    )


@dataclass(frozen=True)
class _OtlpTarget:
    protocol: str
    endpoint: str
    headers: dict[str, str]
    insecure: bool


def _otlp_target(env: Mapping[str, str], signal: str, path: str) -> _OtlpTarget | None:
    """Where OTLP for one signal goes, or ``None`` when no endpoint is configured."""
    protocol = (_signal_setting(env, signal, "PROTOCOL") or HTTP_PROTOBUF).strip().lower()
    if protocol not in (GRPC, HTTP_PROTOBUF):
        raise TelemetryConfigError(f"unsupported OTLP protocol: {protocol}")
    specific = env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    generic = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if specific:
        endpoint = specific
    elif generic:
        # The spec: the generic endpoint is a base URL for HTTP, used as is for gRPC.
        endpoint = generic if protocol == GRPC else generic.rstrip("/") + path
    else:
        return None
    headers = parse_key_values(_signal_setting(env, signal, "HEADERS") or "")
    insecure_text = _signal_setting(env, signal, "INSECURE") or ""
    insecure = insecure_text.strip().lower() == "true" or endpoint.startswith("http://")
    return _OtlpTarget(protocol, endpoint, headers, insecure)


def _exporter_names(env: Mapping[str, str], variable: str) -> set[str]:
    return {n.strip().lower() for n in env.get(variable, "otlp").split(",") if n.strip()}


def _span_exporter(env: Mapping[str, str]) -> SpanExporter | None:
    names = _exporter_names(env, "OTEL_TRACES_EXPORTER")
    if "console" in names:
        return ConsoleSpanExporter()
    target = _otlp_target(env, "TRACES", "/v1/traces") if "otlp" in names else None
    if target is None:
        return None
    if target.protocol == GRPC:
        return GrpcSpanExporter(
            endpoint=target.endpoint, insecure=target.insecure, headers=target.headers
        )
    return otlp_http_span_exporter(target.endpoint, target.headers)


def _metric_exporter(env: Mapping[str, str]) -> MetricExporter | None:
    names = _exporter_names(env, "OTEL_METRICS_EXPORTER")
    if "console" in names:
        return ConsoleMetricExporter()
    target = _otlp_target(env, "METRICS", "/v1/metrics") if "otlp" in names else None
    if target is None:
        return None
    if target.protocol == GRPC:
        return GrpcMetricExporter(
            endpoint=target.endpoint, insecure=target.insecure, headers=target.headers
        )
    return HttpMetricExporter(endpoint=target.endpoint, headers=target.headers)
