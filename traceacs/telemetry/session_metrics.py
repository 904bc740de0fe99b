"""One in-process aggregation of the per-session metrics, shared by every metric reader.

Why: through the SDK, each measurement (9 per bootstrap session) validates and copies
its attributes, hashes them recursively, matches Views and aggregates once *per metric
reader* (OTLP and Prometheus are two), ~30 CPU-µs each. Here the attribute values are
a tuple key into a dict of points, aggregated once under one lock, and every reader
gets the same cumulative points appended to what the SDK collected for it (the
observable instruments, the trace store's gauges): ~2 µs per measurement.

What a reader receives is what the SDK would have produced for the same instrument
and View: same name, unit, description, kind (monotonic cumulative sum, or explicit
bucket histogram with `DURATION_BUCKETS_MS` and min/max), attributes (only the keys
the caller names: nothing else can become a label), the SDK's cardinality limit
(2,000 attribute sets, then one ``otel.metric.overflow`` point), point start times
(the first measurement of the attribute set), and exemplars as the SDK's default
reservoirs choose them *per reader*: the last measurement per histogram bucket since
that reader's previous collection, one uniformly sampled measurement per sum point,
under the ``OTEL_METRICS_EXEMPLAR_FILTER`` filter (trace based by default).

Only cumulative readers can share it (the Prometheus reader always is; the OTLP
reader is unless ``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`` asks for delta):
`shareable` says so, and `Instruments` falls back to SDK instruments otherwise.
Hooking into a reader uses the SDK's collect callback (`MetricReader._collect`, set
by the MeterProvider), the one place where a reader's collection can be extended
(the Python SDK has no MetricProducer).
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from random import randrange
from time import time_ns
from typing import Any, Generic, TypeVar

from opentelemetry import trace as trace_api
from opentelemetry.context import Context, get_current
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    Counter,
    Exemplar,
    ExemplarFilter,
    Histogram,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    Metric,
    MetricReader,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.export import (
    Histogram as HistogramData,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import INVALID_SPAN

CARDINALITY_LIMIT = 2000
"""Attribute sets per instrument before the overflow point (the SDK's default)."""
OVERFLOW_ATTRIBUTES: Mapping[str, bool] = {"otel.metric.overflow": True}
_OVERFLOW_KEY: tuple[object, ...] = ("otel.metric.overflow",)
_CUMULATIVE = AggregationTemporality.CUMULATIVE
_NO_ATTRIBUTES: Mapping[str, Any] = {}

ExemplarSlot = tuple[int, float, int, int | None, int | None]
"""(sequence number, value, time, span id, trace id) of one sampled measurement."""


def exemplar_filter_from_env(environ: Mapping[str, str] | None = None) -> ExemplarFilter:
    """The filter the SDK's MeterProvider reads from ``OTEL_METRICS_EXEMPLAR_FILTER``."""
    env = os.environ if environ is None else environ
    name = env.get("OTEL_METRICS_EXEMPLAR_FILTER", "trace_based").strip().lower()
    if name == "always_on":
        return AlwaysOnExemplarFilter()
    if name == "always_off":
        return AlwaysOffExemplarFilter()
    return TraceBasedExemplarFilter()


def shareable(readers: Sequence[MetricReader]) -> bool:
    """Whether every reader collects counters and histograms cumulatively."""
    return all(
        temporality is _CUMULATIVE
        for reader in readers
        for kind, temporality in reader._instrument_class_temporality.items()
        if issubclass(kind, Counter | Histogram)  # keyed by the SDK's concrete classes
    )


@dataclass
class _HistogramPoint:
    attributes: Mapping[str, Any]
    start_ns: int
    counts: list[int]
    sum: float = 0.0
    min: float = float("inf")
    max: float = float("-inf")
    exemplars: dict[int, ExemplarSlot] = field(default_factory=dict)
    """Bucket index -> the last sampled measurement in it."""


@dataclass
class _SumPoint:
    attributes: Mapping[str, Any]
    start_ns: int
    value: int | float = 0
    exemplars: dict[int, ExemplarSlot] = field(default_factory=dict)
    """Reader index -> its uniformly sampled measurement since it last collected."""
    seen: dict[int, int] = field(default_factory=dict)
    """Reader index -> measurements offered to its reservoir since it last collected."""


_P = TypeVar("_P", _HistogramPoint, _SumPoint)


class _Stream(Generic[_P]):
    """One instrument's points, keyed by the tuple of its attribute values.

    Beyond `CARDINALITY_LIMIT` attribute sets, new ones share the overflow point, as
    the SDK does.
    """

    def __init__(self, name: str, unit: str, description: str, keys: Sequence[str]) -> None:
        self.name, self.unit, self.description = name, unit, description
        self.keys = tuple(keys)
        self.points: dict[tuple[object, ...], _P] = {}

    def _attributes(self, key: tuple[object, ...]) -> Mapping[str, Any]:
        if key is _OVERFLOW_KEY:
            return dict(OVERFLOW_ATTRIBUTES)
        return {k: v for k, v in zip(self.keys, key, strict=True) if v is not None}

    def point(self, key: tuple[object, ...], now: int) -> _P:
        point = self.points.get(key)
        if point is None:
            if len(self.points) >= CARDINALITY_LIMIT:
                key = _OVERFLOW_KEY
                point = self.points.get(key)
            if point is None:
                point = self._new_point(self._attributes(key), now)
                self.points[key] = point
        return point

    def _new_point(self, attributes: Mapping[str, Any], now: int) -> _P:
        raise NotImplementedError


class HistogramStream(_Stream[_HistogramPoint]):
    def __init__(
        self,
        name: str,
        unit: str,
        description: str,
        keys: Sequence[str],
        boundaries: Sequence[float],
    ) -> None:
        super().__init__(name, unit, description, keys)
        self.boundaries = tuple(boundaries)

    def _new_point(self, attributes: Mapping[str, Any], now: int) -> _HistogramPoint:
        return _HistogramPoint(attributes, now, [0] * (len(self.boundaries) + 1))


class SumStream(_Stream[_SumPoint]):
    def _new_point(self, attributes: Mapping[str, Any], now: int) -> _SumPoint:
        return _SumPoint(attributes, now)


class SessionMetrics:
    """The streams, the readers they are attached to, and each reader's exemplar state.

    Record with `measure`: one lock for a batch of measurements taken at one instant
    under one context (a session's end records its total, its count and its steps).
    """

    def __init__(
        self,
        scope: InstrumentationScope,
        resource: Resource,
        exemplar_filter: ExemplarFilter | None = None,
    ) -> None:
        self._scope = scope
        self._resource = resource
        self._filter = exemplar_filter or exemplar_filter_from_env()
        self._trace_based = type(self._filter) is TraceBasedExemplarFilter
        self._lock = threading.Lock()
        self._streams: list[HistogramStream | SumStream] = []
        self._readers: list[MetricReader] = []
        self._collected_up_to: dict[int, int] = {}
        """Reader index -> the exemplar sequence number of its last collection."""
        self._sequence = 0

    def histogram(
        self, name: str, unit: str, description: str, keys: Sequence[str], bounds: Sequence[float]
    ) -> HistogramStream:
        stream = HistogramStream(name, unit, description, keys, bounds)
        self._streams.append(stream)
        return stream

    def counter(self, name: str, unit: str, description: str, keys: Sequence[str]) -> SumStream:
        stream = SumStream(name, unit, description, keys)
        self._streams.append(stream)
        return stream

    def attach(self, readers: Sequence[MetricReader]) -> None:
        """Append the streams' points to what each reader collects (after the provider
        registered them: it sets the collect callback this wraps)."""
        for reader in readers:
            sdk_collect: Callable[..., MetricsData | None] | None = reader._collect  # type: ignore[assignment]
            if sdk_collect is None:  # not registered (a disabled provider): never collects
                continue
            index = len(self._readers)
            self._readers.append(reader)
            self._collected_up_to[index] = 0
            reader._set_collect_callback(self._collector(index, sdk_collect))  # type: ignore[arg-type]

    def _collector(
        self, index: int, sdk_collect: Callable[..., MetricsData | None]
    ) -> Callable[..., MetricsData | None]:
        def collect(reader: MetricReader, timeout_millis: float = 10_000) -> MetricsData | None:
            data = sdk_collect(reader, timeout_millis=timeout_millis)
            return self._merged(data, self.collect(index))

        return collect

    # -- recording (the session's thread) -------------------------------------------

    def measure(
        self,
        context: Context | None,
        histograms: Sequence[tuple[HistogramStream, tuple[object, ...], float]] = (),
        sums: Sequence[tuple[SumStream, tuple[object, ...], int | float]] = (),
    ) -> None:
        """Aggregate measurements taken now under ``context`` (None: the ambient one).

        The exemplar filter decides once for the call: the SDK's filters look at the
        context (and the time), never at the value.
        """
        now = time_ns()
        ctx = context if context is not None else get_current()
        span_id = trace_id = None
        if self._trace_based:  # the default filter: sampled when the context's span is
            span_context = trace_api.get_current_span(ctx).get_span_context()
            sample = span_context.trace_flags.sampled
            if sample:
                span_id, trace_id = span_context.span_id, span_context.trace_id
        else:
            sample = self._filter.should_sample(0, now, _NO_ATTRIBUTES, ctx)
            if sample:
                span = trace_api.get_current_span(ctx)
                if span is not INVALID_SPAN:
                    span_context = span.get_span_context()
                    span_id, trace_id = span_context.span_id, span_context.trace_id
        with self._lock:
            for stream, key, value in histograms:
                point = stream.point(key, now)
                bucket = bisect_left(stream.boundaries, value)
                point.counts[bucket] += 1
                point.sum += value
                point.min = value if value < point.min else point.min
                point.max = value if value > point.max else point.max
                if sample:
                    self._sequence += 1
                    point.exemplars[bucket] = (self._sequence, value, now, span_id, trace_id)
            for sum_stream, key, amount in sums:
                sum_point = sum_stream.point(key, now)
                sum_point.value += amount
                if sample:
                    self._sequence += 1
                    slot = (self._sequence, amount, now, span_id, trace_id)
                    for reader in self._collected_up_to:
                        seen = sum_point.seen.get(reader, 0) + 1
                        sum_point.seen[reader] = seen
                        if seen == 1 or randrange(seen) == 0:  # noqa: S311 (sampling, not secrets)
                            sum_point.exemplars[reader] = slot

    # -- collection (a reader's thread) ---------------------------------------------

    def collect(self, reader: int) -> list[Metric]:
        """The cumulative points of every stream as reader number ``reader`` sees them:
        exemplars sampled since its previous collection (its reservoirs reset)."""
        now = time_ns()
        metrics: list[Metric] = []
        with self._lock:
            since = self._collected_up_to[reader]
            self._collected_up_to[reader] = self._sequence
            for stream in self._streams:
                if not stream.points:
                    continue
                data: HistogramData | Sum
                if isinstance(stream, HistogramStream):
                    data = HistogramData(
                        [
                            HistogramDataPoint(
                                attributes=p.attributes,
                                start_time_unix_nano=p.start_ns,
                                time_unix_nano=now,
                                count=sum(p.counts),
                                sum=p.sum,
                                bucket_counts=tuple(p.counts),
                                explicit_bounds=stream.boundaries,
                                min=p.min,
                                max=p.max,
                                exemplars=[
                                    _exemplar(p.exemplars[b])
                                    for b in sorted(p.exemplars)
                                    if p.exemplars[b][0] > since
                                ],
                            )
                            for p in stream.points.values()
                        ],
                        aggregation_temporality=_CUMULATIVE,
                    )
                else:
                    points = []
                    for p in stream.points.values():
                        sampled = p.exemplars.pop(reader, None)
                        p.seen.pop(reader, None)
                        points.append(
                            NumberDataPoint(
                                attributes=p.attributes,
                                start_time_unix_nano=p.start_ns,
                                time_unix_nano=now,
                                value=p.value,
                                exemplars=[] if sampled is None else [_exemplar(sampled)],
                            )
                        )
                    data = Sum(points, aggregation_temporality=_CUMULATIVE, is_monotonic=True)
                metrics.append(Metric(stream.name, stream.description, stream.unit, data))
        return metrics

    def _merged(self, data: MetricsData | None, metrics: list[Metric]) -> MetricsData | None:
        """``data`` with ``metrics`` added to its scope (created if it has none)."""
        if not metrics:
            return data
        if data is None or not data.resource_metrics:
            scope = ScopeMetrics(self._scope, metrics, "")
            return MetricsData([ResourceMetrics(self._resource, [scope], "")])
        first, *others = data.resource_metrics
        scopes = list(first.scope_metrics)
        for index, scope_metrics in enumerate(scopes):
            if scope_metrics.scope == self._scope:
                scopes[index] = ScopeMetrics(
                    scope_metrics.scope,
                    [*scope_metrics.metrics, *metrics],
                    scope_metrics.schema_url,
                )
                break
        else:
            scopes.append(ScopeMetrics(self._scope, metrics, ""))
        return MetricsData([ResourceMetrics(first.resource, scopes, first.schema_url), *others])


def _exemplar(slot: ExemplarSlot) -> Exemplar:
    _, value, time_unix_nano, span_id, trace_id = slot
    return Exemplar({}, value, time_unix_nano, span_id, trace_id)
