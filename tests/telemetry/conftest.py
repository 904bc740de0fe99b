"""A Telemetry wired to in-memory exporters, as the application would build it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceacs.telemetry.exporter import OtelProvisioningTelemetry
from traceacs.telemetry.setup import Telemetry, build_telemetry

CAPACITY = 50


@dataclass
class Harness:
    telemetry: Telemetry
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    @property
    def port(self) -> OtelProvisioningTelemetry:
        port = self.telemetry.provisioning
        assert isinstance(port, OtelProvisioningTelemetry)
        return port

    def finished_spans(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def metric_map(self) -> dict[str, Metric]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return {
            metric.name: metric
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        }

    def points(self, name: str) -> list[NumberDataPoint | HistogramDataPoint]:
        metric = self.metric_map()[name]
        return [
            p
            for p in metric.data.data_points
            if isinstance(p, NumberDataPoint | HistogramDataPoint)
        ]


def make_harness(quiet_ratio: float = 1.0) -> Harness:
    spans = InMemorySpanExporter()
    metrics = InMemoryMetricReader()
    telemetry = build_telemetry(
        {"OTEL_SERVICE_NAME": "traceacs-test"},
        capacity=lambda: CAPACITY,
        quiet_periodic_ratio=quiet_ratio,
        span_processors=[SimpleSpanProcessor(spans)],
        metric_readers=[metrics],
    )
    return Harness(telemetry, spans, metrics)


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = make_harness()
    yield h
    h.telemetry.shutdown()
