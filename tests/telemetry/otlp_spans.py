"""Flattening what the in-process OTLP receiver got into plain, comparable records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.telemetry.test_otlp_export import Received


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    status_code: int
    status_message: str
    attributes: dict[str, object]
    events: tuple[str, ...]


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    return getattr(value, kind) if kind else None


def received_spans(received: Received) -> list[ReceivedSpan]:
    out: list[ReceivedSpan] = []
    with received.lock:
        for request in received.traces:
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out.append(
                            ReceivedSpan(
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex() or None,
                                name=span.name,
                                status_code=span.status.code,
                                status_message=span.status.message,
                                attributes={a.key: _value(a.value) for a in span.attributes},
                                events=tuple(
                                    f"{e.name} {[(a.key, _value(a.value)) for a in e.attributes]}"
                                    for e in span.events
                                ),
                            )
                        )
    return out


def by_trace(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    traces: dict[str, list[ReceivedSpan]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    return dict(traces)


def metric_points(received: Received, name: str) -> dict[tuple[tuple[str, object], ...], float]:
    """The latest cumulative value of a sum (or a histogram's count) per attribute set."""
    latest: dict[tuple[tuple[str, object], ...], float] = {}
    with received.lock:
        for request in received.metrics:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.name != name:
                            continue
                        kind = metric.WhichOneof("data")
                        if kind == "sum":
                            for p in metric.sum.data_points:
                                value = p.as_int if p.HasField("as_int") else p.as_double
                                latest[_key(p.attributes)] = float(value)
                        elif kind == "histogram":
                            for h in metric.histogram.data_points:
                                latest[_key(h.attributes)] = float(h.count)
    return latest


def _key(attributes: Iterable[KeyValue]) -> tuple[tuple[str, object], ...]:
    return tuple(sorted((a.key, _value(a.value)) for a in attributes))
