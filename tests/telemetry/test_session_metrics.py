"""The per-session metrics, aggregated once in process and shared by every reader,
export what the SDK's instruments (one aggregation per reader) exported."""

from __future__ import annotations

import re
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from prometheus_client import CollectorRegistry

from tests.telemetry.traces import MODEL, PLAN, RESULTS, provisioning_trace
from traceacs.telemetry.instruments import (
    PROVISION_COUNT,
    PROVISION_DURATION,
    PROVISION_STEP_DURATION,
    Instruments,
    views,
)
from traceacs.telemetry.prometheus import render_metrics
from traceacs.telemetry.session_metrics import CARDINALITY_LIMIT
from traceacs.telemetry.setup import build_telemetry

STEPS_MS = (("authenticate", 3.0), ("push_config", 40.0), ("verify", 700.0))


def _context(trace_id: int, span_id: int) -> Context:
    span = NonRecordingSpan(SpanContext(trace_id, span_id, False, TraceFlags(TraceFlags.SAMPLED)))
    return trace_api.set_span_in_context(span)


def _record_sessions(instruments: Instruments) -> None:
    """One of everything, one measurement per sum point (the SDK's sum reservoir
    samples at random among several)."""
    for n, result in enumerate(("success", "config_push_failed"), 1):
        instruments.record_provisioning(
            result=result,
            model=MODEL,
            service_plan=PLAN,
            total_ms=1_000.0 * n,
            steps_ms=STEPS_MS,
            verify_mismatches=n - 1,
            context=_context(0xABC0 + n, 0xDEF0 + n),
        )
    instruments.record_provisioning(
        result="success",
        model="other-model",
        service_plan=PLAN,
        total_ms=-5.0,  # clamped to 0, as before
        steps_ms=(("authenticate", 90_000.0),),
        verify_mismatches=0,
        context=None,  # no trace: no exemplar
    )
    instruments.record_rpc("SetParameterValues", 0.2, 9007)
    instruments.record_rpc("SetParameterValues", 0.03, None)
    instruments.record_rpc("GetParameterValues", 0.01, None)
    instruments.record_task("reboot", "done", 120.0)
    instruments.record_task("download", "waiting", None)


def _normalised(data: MetricsData | None) -> dict[str, Any]:
    """Every exported fact but timestamps (and the scope, asserted separately)."""
    assert data is not None
    out: dict[str, Any] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points = []
                for p in metric.data.data_points:
                    exemplars = sorted(
                        (e.value, e.span_id, e.trace_id, dict(e.filtered_attributes or {}))
                        for e in p.exemplars
                    )
                    if isinstance(p, HistogramDataPoint):
                        facts: tuple[Any, ...] = (
                            p.count,
                            p.sum,
                            tuple(p.bucket_counts),
                            tuple(p.explicit_bounds),
                            p.min,
                            p.max,
                        )
                    else:
                        assert isinstance(p, NumberDataPoint)
                        facts = (p.value,)
                    points.append((sorted(dict(p.attributes or {}).items()), facts, exemplars))
                data_type = type(metric.data).__name__
                out[metric.name] = {
                    "scope": sm.scope.name,
                    "unit": metric.unit,
                    "description": metric.description,
                    "type": data_type,
                    "temporality": getattr(metric.data, "aggregation_temporality", None),
                    "monotonic": getattr(metric.data, "is_monotonic", None),
                    "points": sorted(points, key=repr),
                }
    return out


def _shared_and_sdk() -> tuple[InMemoryMetricReader, InMemoryMetricReader]:
    shared_reader, sdk_reader = InMemoryMetricReader(), InMemoryMetricReader()
    shared = Instruments(
        MeterProvider([shared_reader], views=views()), readers=[shared_reader], resource=None
    )
    sdk = Instruments(MeterProvider([sdk_reader], views=views()))
    assert shared.shared is not None
    assert sdk.shared is None
    _record_sessions(shared)
    _record_sessions(sdk)
    return shared_reader, sdk_reader


def test_the_shared_aggregation_exports_what_the_sdk_instruments_did() -> None:
    shared_reader, sdk_reader = _shared_and_sdk()
    shared, sdk = (
        _normalised(shared_reader.get_metrics_data()),
        _normalised(sdk_reader.get_metrics_data()),
    )
    assert shared == sdk
    # The comparison covers the interesting cases (not two empty sides).
    duration = shared[PROVISION_DURATION]
    assert duration["scope"] == "cpe.acs"
    assert duration["unit"] == "ms"
    assert duration["temporality"] is AggregationTemporality.CUMULATIVE
    assert {0xABC1, 0xABC2} <= {e[2] for _, _, es in duration["points"] for e in es}
    assert shared[PROVISION_COUNT]["monotonic"] is True
    assert "cwmp.cpe.faults" in shared
    assert "cpe.task.duration" in shared


def test_later_collections_stay_cumulative_and_reset_only_exemplars() -> None:
    shared_reader, sdk_reader = _shared_and_sdk()
    for reader in (shared_reader, sdk_reader):
        reader.get_metrics_data()  # a first collection takes the exemplars
    second_shared = _normalised(shared_reader.get_metrics_data())
    assert second_shared == _normalised(sdk_reader.get_metrics_data())
    counts = [facts[0] for _, facts, _ in second_shared[PROVISION_STEP_DURATION]["points"]]
    assert sum(counts) == 7  # still every step ever recorded
    assert all(not es for m in second_shared.values() for _, _, es in m["points"])


def test_each_reader_gets_the_exemplars_sampled_since_its_own_collection() -> None:
    first, second = InMemoryMetricReader(), InMemoryMetricReader()
    instruments = Instruments(
        MeterProvider([first, second], views=views()), readers=[first, second]
    )

    def session(trace_id: int, total_ms: float) -> None:
        instruments.record_provisioning(
            result="success",
            model=MODEL,
            service_plan=PLAN,
            total_ms=total_ms,
            steps_ms=(),
            verify_mismatches=0,
            context=_context(trace_id, 1),
        )

    def exemplar_traces(reader: InMemoryMetricReader, name: str) -> set[int]:
        data = _normalised(reader.get_metrics_data())
        return {e[2] for _, _, es in data[name]["points"] for e in es}

    session(0xA, 7.0)  # bucket (5, 10]
    assert exemplar_traces(first, PROVISION_DURATION) == {0xA}
    session(0xB, 70.0)  # bucket (50, 100]
    session(0xC, 8.0)  # replaces 0xA in (5, 10]: the last one per bucket
    # The first reader's collection did not take the second reader's exemplars.
    assert exemplar_traces(second, PROVISION_DURATION) == {0xB, 0xC}
    assert exemplar_traces(first, PROVISION_DURATION) == {0xB, 0xC}
    assert exemplar_traces(first, PROVISION_DURATION) == set()
    # The counter's one-slot reservoir: one of the sessions since each reader's collection.
    assert exemplar_traces(second, PROVISION_COUNT) == set()
    session(0xD, 9.0)
    assert exemplar_traces(second, PROVISION_COUNT) == {0xD}
    assert exemplar_traces(first, PROVISION_COUNT) == {0xD}


def test_a_delta_reader_keeps_the_sdk_instruments() -> None:
    delta = InMemoryMetricReader(preferred_temporality={Counter: AggregationTemporality.DELTA})
    instruments = Instruments(MeterProvider([delta], views=views()), readers=[delta])
    assert instruments.shared is None
    _record_sessions(instruments)
    data = _normalised(delta.get_metrics_data())
    assert data[PROVISION_COUNT]["temporality"] is AggregationTemporality.DELTA


def test_attribute_sets_beyond_the_limit_go_to_the_overflow_point() -> None:
    reader = InMemoryMetricReader()
    instruments = Instruments(
        MeterProvider([reader], views=views()), readers=[reader], resource=Resource({})
    )
    for n in range(CARDINALITY_LIMIT + 5):
        instruments.record_rpc(f"Vendor{n}", 0.01, None)
    data = _normalised(reader.get_metrics_data())
    points = data["cwmp.rpc.duration"]["points"]
    assert len(points) == CARDINALITY_LIMIT + 1
    (overflow,) = [p for p in points if p[0] == [("otel.metric.overflow", True)]]
    assert overflow[1][0] == 5


class _KeptExports(MetricExporter):
    """What an OTLP exporter would be handed (cumulative, its default)."""

    def __init__(self) -> None:
        super().__init__()
        self.exported: list[MetricsData] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.exported.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


_COUNT = re.compile(r"^cpe_provision_step_duration_milliseconds_count\{(.*)\} (\S+)$", re.M)


def test_prometheus_and_the_otlp_export_carry_the_same_histogram_counts() -> None:
    exporter = _KeptExports()
    otlp = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    telemetry = build_telemetry({}, metric_readers=[otlp])
    try:
        port = telemetry.provisioning
        sessions = 0
        for _ in range(7):
            for result in RESULTS:
                port.session_started()
                port.session_finished(*provisioning_trace(result))
                sessions += 1
        assert telemetry.prometheus_registry is not None
        body, _ = render_metrics(telemetry.prometheus_registry)  # a scrape first
        assert telemetry.meter_provider.force_flush()
        (data, *_) = exporter.exported
        exported = {
            (dict(p.attributes or {})["step"], dict(p.attributes or {})["result"]): p.count
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == PROVISION_STEP_DURATION
            for p in m.data.data_points
            if isinstance(p, HistogramDataPoint)
        }
        scraped = {}
        for labels, value in _COUNT.findall(body.decode()):
            pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            scraped[(pairs["step"], pairs["result"])] = int(float(value))
        assert scraped == exported
        assert sum(exported.values()) >= sessions  # every session recorded steps
        exemplar_traces = {
            e.trace_id
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == PROVISION_DURATION
            for p in m.data.data_points
            for e in p.exemplars
        }
        assert exemplar_traces  # the OTLP export kept its exemplars despite the scrape
    finally:
        telemetry.shutdown()


def test_build_telemetry_shares_one_aggregation_among_its_readers() -> None:
    reader = InMemoryMetricReader()
    telemetry = build_telemetry({}, metric_readers=[reader])
    try:
        port = telemetry.provisioning
        trace, outcome = provisioning_trace("success")
        port.session_finished(trace, outcome)
        (point,) = [
            p
            for m in _metrics(reader.get_metrics_data())
            if m.name == PROVISION_DURATION
            for p in m.data.data_points
        ]
        assert isinstance(point, HistogramDataPoint)
        assert {f"{e.trace_id:032x}" for e in point.exemplars} == {trace.trace_id}
        body, _ = render_metrics(telemetry.prometheus_registry)  # type: ignore[arg-type]
        assert b'cpe_provision_duration_milliseconds_count{cpe_model="HG8245Q2"' in body
    finally:
        telemetry.shutdown()


def _metrics(data: MetricsData | None) -> list[Metric]:
    assert data is not None
    return [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]


def test_the_prometheus_exposition_is_what_the_sdk_instruments_gave() -> None:
    bodies = []
    for shared in (True, False):
        registry = CollectorRegistry(auto_describe=True)
        reader = PrometheusMetricReader(registry=registry)
        resource = Resource({"service.name": "traceacs-test"})
        provider = MeterProvider([reader], resource=resource, views=views())
        instruments = Instruments(provider, readers=[reader] if shared else None)
        assert (instruments.shared is not None) is shared
        _record_sessions(instruments)
        for accept in (None, "application/openmetrics-text"):
            body, _ = render_metrics(registry, accept)
            bodies.append(sorted(body.decode().splitlines()))
    assert bodies[:2] == bodies[2:]
    assert any(line.startswith("cwmp_cpe_faults_total{") for line in bodies[0])


def test_a_reader_no_provider_registered_is_left_alone() -> None:
    """A provider disabled by ``OTEL_SDK_DISABLED`` registers no reader: nothing to
    extend, and recording must not fail."""
    unregistered = InMemoryMetricReader()
    instruments = Instruments(MeterProvider([]), readers=[unregistered])
    _record_sessions(instruments)
    assert unregistered.get_metrics_data() is None
