"""The trace store's span processor never makes span end wait for the database.

The sinks here are in-memory; threading Events (not sleeps) decide what the writer is
doing at each point.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from traceacs.storage.trace_records import StoredSpan
from traceacs.telemetry.trace_store import (
    TraceSink,
    TraceStoreOptions,
    TraceStoreProcessor,
    embedded_store_wanted,
    retention_days_from,
    trace_processors_from_env,
)

BOUND_S = 10.0  # upper bound on waits, so a broken processor fails instead of hanging


class RecordingSink:
    """Stores spans in a list; ``gate`` (when given) holds every write until set."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.entered = threading.Event()
        self.written: list[StoredSpan] = []
        self.failures_left = 0
        self.closed = False

    async def write_spans(self, spans: Sequence[StoredSpan]) -> int:
        self.entered.set()
        if self.gate is not None and not self.gate.wait(BOUND_S):
            raise TimeoutError("test gate never opened")
        if self.failures_left:
            self.failures_left -= 1
            raise OSError("disk on fire")
        self.written.extend(spans)
        return len({s.trace_id for s in spans})

    async def delete_older_than(self, cutoff: float, *, batch_size: int = 1000) -> int:
        return 0

    async def close(self) -> None:
        self.closed = True


def _processor(sink: RecordingSink, **options: int | float | None) -> TraceStoreProcessor:
    async def open_sink() -> TraceSink:
        return sink

    settings: dict[str, int | float | None] = {"retention_days": None, "linger_s": 0.0}
    settings.update(options)
    return TraceStoreProcessor(open_sink, TraceStoreOptions(**settings))  # type: ignore[arg-type]


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    made = TracerProvider()
    yield made
    made.shutdown()


def _end(tracer: Tracer, *names: str) -> None:
    for name in names:
        tracer.start_span(name).end()


def test_a_hanging_store_does_not_stall_span_end_and_drops_are_counted(
    provider: TracerProvider,
) -> None:
    gate = threading.Event()
    sink = RecordingSink(gate)
    processor = _processor(sink, max_queue_spans=3, max_batch_spans=1)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    try:
        _end(tracer, "first")
        assert sink.entered.wait(BOUND_S)  # the writer is now stuck inside the store

        ended = threading.Event()

        def end_more() -> None:
            _end(tracer, "s0", "s1", "s2", "s3", "s4")
            ended.set()

        threading.Thread(target=end_more, daemon=True).start()
        assert ended.wait(BOUND_S), "span.end() blocked on the store"
        assert processor.dropped_spans == 2  # queue holds 3; s3 and s4 did not fit
        assert not processor.force_flush(timeout_millis=50)  # still stuck: not flushed
    finally:
        gate.set()
    assert processor.force_flush(int(BOUND_S * 1000))
    assert [s.name for s in sink.written] == ["first", "s0", "s1", "s2"]
    assert processor.written_spans == 4


def test_a_failing_store_loses_that_batch_only(provider: TracerProvider) -> None:
    sink = RecordingSink()
    sink.failures_left = 1
    processor = _processor(sink)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    _end(tracer, "lost")
    assert processor.force_flush(int(BOUND_S * 1000))
    _end(tracer, "kept")
    assert processor.force_flush(int(BOUND_S * 1000))
    assert processor.failed_spans == 1
    assert [s.name for s in sink.written] == ["kept"]


def test_shutdown_writes_what_is_queued_and_closes_the_store() -> None:
    gate = threading.Event()
    sink = RecordingSink(gate)
    processor = _processor(sink, max_batch_spans=2)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    _end(tracer, "a")
    assert sink.entered.wait(BOUND_S)
    _end(tracer, "b", "c", "d")
    gate.set()
    provider.shutdown()
    assert [s.name for s in sink.written] == ["a", "b", "c", "d"]
    assert sink.closed
    _end(tracer, "after")  # ended after shutdown: ignored, no error
    assert len(sink.written) == 4


def test_spans_of_one_trace_keep_their_ids_and_parents(provider: TracerProvider) -> None:
    sink = RecordingSink()
    processor = _processor(sink)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("cpe.inform") as root:
        tracer.start_span("cpe.provision.verify").end()
    assert processor.force_flush(int(BOUND_S * 1000))
    child, parent = sink.written
    context = root.get_span_context()
    assert parent.trace_id == child.trace_id == format(context.trace_id, "032x")
    assert parent.parent_span_id is None
    assert child.parent_span_id == parent.span_id == format(context.span_id, "016x")


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "TRACEACS_TRACE_STORE": "on"}, True),
        ({"TRACEACS_TRACE_STORE": "off"}, False),
        ({"OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_embedded_store_is_the_default_without_an_otlp_endpoint(
    env: dict[str, str], wanted: bool
) -> None:
    assert embedded_store_wanted(env) is wanted


def test_store_settings_from_the_environment() -> None:
    assert retention_days_from({}) == 14.0
    assert retention_days_from({"TRACEACS_TRACE_RETENTION_DAYS": "3.5"}) == 3.5
    assert retention_days_from({"TRACEACS_TRACE_RETENTION_DAYS": "0"}) is None
    with pytest.raises(ValueError, match="number"):
        retention_days_from({"TRACEACS_TRACE_RETENTION_DAYS": "soon"})
    with pytest.raises(ValueError, match="on, off or auto"):
        embedded_store_wanted({"TRACEACS_TRACE_STORE": "maybe"})
    assert trace_processors_from_env("sqlite:///unused.db", {"TRACEACS_TRACE_STORE": "off"}) == []
