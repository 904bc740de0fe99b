"""A SpanProcessor that keeps finished traces in the ACS's own database.

This is the embedded trace store's write path (``traceacs trace SERIAL`` is the read
path). It must never slow a CWMP session down, so `on_end` only converts the span to a
plain `StoredSpan` and appends it to a bounded in-memory queue; a dedicated writer
thread drains the queue in batches into the store. When the queue is full the span is
dropped and counted (`dropped_spans`): losing a trace is better than stalling the ACS.

The writer runs its own event loop and opens its *own* database connection (from the
URL), because the SDK calls span processors synchronously from whatever thread ends a
span, and the application's `Database` belongs to the application's loop (and, for
SQLite, its one statement thread serves the device lookups of every Inform: trace
writes must not queue ahead of them).

Spans reach processors already redacted by `exporter.py` (allow-listed attributes,
masked status messages); `stored_span` applies the same redaction again to any span not
built there (recognised by its `SESSION_SPANS_SCOPE` object), so spans from any other
tracer on the same provider cannot carry a secret into the database either.
The writer also enforces retention: every ``retention_interval_s`` it deletes traces
older than ``retention_days``, in small batches.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from traceacs.provisioning.repository import RepositoryError
from traceacs.provisioning.session_trace import AttributeValue
from traceacs.storage.trace_records import JsonValue, StoredSpan
from traceacs.telemetry.exporter import SESSION_SPANS_SCOPE
from traceacs.telemetry.redaction import (
    ALLOWED_SPAN_ATTRIBUTES,
    redact_attributes,
    redact_text,
)

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS: Final = 14.0
DAY_S: Final = 86_400.0
_STATUS: Final = {StatusCode.OK: "ok", StatusCode.ERROR: "error"}


class TraceSink(Protocol):
    """Where the writer puts spans: `traceacs.storage.traces.SqlTraceStore` in practice."""

    async def write_spans(self, spans: Sequence[StoredSpan]) -> int: ...

    async def delete_older_than(self, cutoff: float, *, batch_size: int = ...) -> int: ...

    async def close(self) -> None: ...


SinkOpener = Callable[[], Awaitable[TraceSink]]


@dataclass(frozen=True, slots=True)
class TraceStoreOptions:
    """Tuning of the writer; the defaults suit one ACS process."""

    max_queue_spans: int = 20_000
    """Spans held in memory while the store is slow; more are dropped and counted."""
    max_batch_spans: int = 2_000
    """Spans written per transaction."""
    linger_s: float = 0.05
    """How long the writer waits for a batch to fill once a span has arrived."""
    retention_days: float | None = DEFAULT_RETENTION_DAYS
    """Traces older than this are deleted; None keeps them forever."""
    retention_interval_s: float = 3600.0
    delete_batch: int = 1000

    def __post_init__(self) -> None:
        if self.max_queue_spans < 1 or self.max_batch_spans < 1:
            raise ValueError("queue and batch sizes must be at least 1")
        if self.retention_days is not None and self.retention_days <= 0:
            raise ValueError("trace retention must be a positive number of days")


class TraceStoreProcessor(SpanProcessor):
    """Queues finished spans and writes them from a background thread.

    ``open_sink`` is awaited on the writer's own event loop (first write); the sink is
    closed there at `shutdown`. ``clock`` gives the wall time retention counts from.
    """

    def __init__(
        self,
        open_sink: SinkOpener,
        options: TraceStoreOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options or TraceStoreOptions()
        self._open_sink = open_sink
        self._clock = clock
        self._queue: collections.deque[StoredSpan] = collections.deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._flush_waiters = 0
        self._stopping = False
        self._dropped = 0
        self._failed = 0
        self._written = 0
        self._sink: TraceSink | None = None
        self._next_retention = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="traceacs-trace-store", daemon=True)
        self._thread.start()

    # -- counters ------------------------------------------------------------------------

    @property
    def dropped_spans(self) -> int:
        """Spans refused because the queue was full (the store could not keep up)."""
        return self._dropped

    @property
    def failed_spans(self) -> int:
        """Spans lost because the store raised while writing them."""
        return self._failed

    @property
    def written_spans(self) -> int:
        return self._written

    # -- SpanProcessor --------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        """Never blocks on the store: converts, enqueues (or drops), returns."""
        if not span.context.trace_flags.sampled:
            return
        record = stored_span(span)
        with self._cond:
            if self._stopping:
                return
            if len(self._queue) >= self.options.max_queue_spans:
                self._dropped += 1
                if self._dropped == 1 or self._dropped % 10_000 == 0:
                    log.warning("trace store queue full: %d spans dropped so far", self._dropped)
                return
            self._queue.append(record)
            if len(self._queue) == 1 or len(self._queue) >= self.options.max_batch_spans:
                self._cond.notify_all()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every queued span has been written (or has failed)."""
        if threading.current_thread() is self._thread:
            return False
        with self._cond:
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(
                    lambda: (
                        (not self._queue and self._in_flight == 0) or not self._thread.is_alive()
                    ),
                    timeout=timeout_millis / 1000,
                )
                return not self._queue and self._in_flight == 0
            finally:
                self._flush_waiters -= 1

    def shutdown(self) -> None:
        """Write what is queued, close the store, stop the thread (idempotent)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        with asyncio.Runner() as runner:
            while True:
                batch, retention_due = self._next_work()
                if batch:
                    runner.run(self._write(batch))
                    with self._cond:
                        self._in_flight = 0
                        self._cond.notify_all()
                elif retention_due:
                    runner.run(self._prune())
                elif self._stopping:
                    break
            if self._sink is not None:
                try:
                    runner.run(self._sink.close())
                except Exception as exc:
                    log.warning("closing the trace store failed: %s", type(exc).__name__)

    def _next_work(self) -> tuple[list[StoredSpan], bool]:
        """Block until there are spans to write, retention is due, or we stop."""
        options = self.options
        with self._cond:
            while True:
                wait = self._retention_wait()
                if wait is not None and wait <= 0 and not self._stopping:
                    return [], True
                if self._queue or self._stopping:
                    break
                self._cond.wait(timeout=wait)
            if self._queue and not self._stopping and not self._flush_waiters:
                self._cond.wait_for(
                    lambda: (
                        len(self._queue) >= options.max_batch_spans
                        or self._stopping
                        or self._flush_waiters > 0
                    ),
                    timeout=options.linger_s,
                )
            count = min(len(self._queue), options.max_batch_spans)
            batch = [self._queue.popleft() for _ in range(count)]
            self._in_flight = len(batch)
            return batch, False

    def _retention_wait(self) -> float | None:
        if self.options.retention_days is None:
            return None
        return self._next_retention - time.monotonic()

    async def _ensure_sink(self) -> TraceSink:
        if self._sink is None:
            self._sink = await self._open_sink()
        return self._sink

    async def _write(self, batch: list[StoredSpan]) -> None:
        try:
            sink = await self._ensure_sink()
            await sink.write_spans(batch)
        except Exception as exc:  # the store is best effort; never crash the writer
            self._failed += len(batch)
            log.warning("trace store write failed (%d spans lost): %s", len(batch), _why(exc))
        else:
            self._written += len(batch)

    async def _prune(self) -> None:
        days = self.options.retention_days
        self._next_retention = time.monotonic() + self.options.retention_interval_s
        if days is None:
            return
        try:
            sink = await self._ensure_sink()
            deleted = await sink.delete_older_than(
                self._clock() - days * DAY_S, batch_size=self.options.delete_batch
            )
        except Exception as exc:
            log.warning("trace store retention failed: %s", _why(exc))
        else:
            if deleted:
                log.info("trace store: deleted %d traces older than %g days", deleted, days)


def _why(exc: Exception) -> str:
    """The storage layer's messages are credential-free; anything else: its type only."""
    return str(exc) if isinstance(exc, RepositoryError) else type(exc).__name__


# -- conversion ---------------------------------------------------------------------------


def stored_span(span: ReadableSpan) -> StoredSpan:
    """The redacted, plain-data form of a finished SDK span."""
    context = span.context
    parent = span.parent
    start = span.start_time or 0
    end = span.end_time if span.end_time is not None else start
    description = span.status.description or ""
    if span.instrumentation_scope is SESSION_SPANS_SCOPE:  # redacted by the adapter
        message, attributes = description, _plain_json(span.attributes or {})
    else:
        message, attributes = redact_text(description), _json_attributes(span.attributes or {})
    return StoredSpan(
        trace_id=format(context.trace_id, "032x"),
        span_id=format(context.span_id, "016x"),
        parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
        name=span.name,
        start_ns=start,
        end_ns=max(end, start),
        status=_STATUS.get(span.status.status_code, "unset"),
        status_message=message,
        attributes=attributes,
    )


def _plain_json(attributes: Mapping[str, object]) -> dict[str, JsonValue]:
    """Attributes the adapter already allow-listed and redacted, as JSON values."""
    return {
        key: list(value) if isinstance(value, tuple) else value  # type: ignore[misc]
        for key, value in attributes.items()
    }


def _json_attributes(attributes: Mapping[str, object]) -> dict[str, JsonValue]:
    plain: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if key not in ALLOWED_SPAN_ATTRIBUTES:
            continue
        if isinstance(value, str | bool | int | float):
            plain[key] = value
        elif isinstance(value, Sequence):
            plain[key] = tuple(str(item) for item in value)
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in redact_attributes(plain).items()
    }


# -- wiring -------------------------------------------------------------------------------

TRACE_STORE_SPANS: Final = "traceacs.trace_store.spans"


def observe_trace_store(processor: TraceStoreProcessor, meter_provider: MeterProvider) -> None:
    """Count the store's written, dropped (queue full) and failed spans as a metric.

    Prometheus: ``traceacs_trace_store_spans_total{outcome="written|dropped|failed"}``,
    so an embedded store that cannot keep up is visible before anyone misses a trace.
    """

    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(processor.written_spans, {"outcome": "written"}),
            Observation(processor.dropped_spans, {"outcome": "dropped"}),
            Observation(processor.failed_spans, {"outcome": "failed"}),
        ]

    meter_provider.get_meter(__name__).create_observable_counter(
        TRACE_STORE_SPANS,
        callbacks=[observe],
        unit="{span}",
        description="Spans given to the embedded trace store, by what became of them",
    )


def embedded_trace_processor(
    database_url: str,
    options: TraceStoreOptions | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> TraceStoreProcessor:
    """The embedded store's processor on ``database_url`` (its own connection)."""
    from traceacs.storage.traces import open_trace_store

    async def open_sink() -> TraceSink:
        return await open_trace_store(database_url)

    return TraceStoreProcessor(open_sink, options, clock=clock)


def embedded_store_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the embedded store should receive traces, from the environment.

    ``TRACEACS_TRACE_STORE``: ``on``, ``off`` or ``auto`` (default): on exactly when no
    OTLP traces endpoint is configured (issue 5: the default without a Collector).
    ``OTEL_SDK_DISABLED=true`` turns it off with the rest of telemetry.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    mode = env.get("TRACEACS_TRACE_STORE", "auto").strip().lower() or "auto"
    if mode in ("on", "true", "1", "yes"):
        return True
    if mode in ("off", "false", "0", "no"):
        return False
    if mode != "auto":
        raise ValueError(f"TRACEACS_TRACE_STORE must be on, off or auto, not {mode!r}")
    return not (
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def retention_days_from(environ: Mapping[str, str] | None = None) -> float | None:
    """``TRACEACS_TRACE_RETENTION_DAYS`` (default 14; ``0`` keeps traces forever)."""
    env = os.environ if environ is None else environ
    text = env.get("TRACEACS_TRACE_RETENTION_DAYS", "").strip()
    if not text:
        return DEFAULT_RETENTION_DAYS
    try:
        days = float(text)
    except ValueError:
        raise ValueError(f"TRACEACS_TRACE_RETENTION_DAYS must be a number, not {text!r}") from None
    if days < 0:
        raise ValueError("TRACEACS_TRACE_RETENTION_DAYS must not be negative")
    return days or None


def trace_processors_from_env(
    database_url: str, environ: Mapping[str, str] | None = None
) -> list[SpanProcessor]:
    """What the app passes as ``build_telemetry(span_processors=...)``: the embedded
    store's processor when `embedded_store_wanted`, else nothing."""
    if not embedded_store_wanted(environ):
        return []
    options = TraceStoreOptions(retention_days=retention_days_from(environ))
    return [embedded_trace_processor(database_url, options)]
