"""Every metric instrument TraceACS emits, created in one place.

Names and units are an interface (dashboards, alert rules and the seed rely on them):
the first four are the seed's, exactly; the rest are what the seed's alerts need.

Better than the seed: histogram buckets reach 300 s (the SDK's default ms buckets stop
at 10 s, which would make the "average above 60 s" question unanswerable per bucket);
every instrument keeps *only* its documented attribute keys, so a serial number (or
anything else of high cardinality) can never become a metric label; histograms and the
provisioning counters are recorded with the session's root span as context, so points
carry exemplars that link to the trace (under the trace-based exemplar filter).

Cheap on the hot path, in two ways, with the same names, units, descriptions, kinds,
attributes, buckets and exemplars on the wire:

* the active-session count and the Inform event counter (touched by every session)
  are plain integers under a lock, reported by observable instruments when a reader
  collects;
* the histograms and counters (9 measurements per bootstrap session) are aggregated
  once, in process, by `SessionMetrics`, whose points every metric reader (OTLP and
  Prometheus) receives with its own collection: ~20 CPU-µs for a bootstrap session's
  measurements instead of ~300 through SDK instruments, which hash and filter attributes, match
  Views and aggregate once per reader. When a reader wants delta temporality they
  are SDK instruments again, shaped by `views`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation
from opentelemetry.metrics import Counter as SdkCounter
from opentelemetry.metrics import Histogram as SdkHistogram
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from traceacs.telemetry.session_metrics import (
    HistogramStream,
    SessionMetrics,
    SumStream,
    shareable,
)

METER_NAME = "cpe.acs"
"""The seed's meter (and tracer) scope name."""

DURATION_BUCKETS_MS: tuple[float, ...] = (
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    20_000,
    30_000,
    60_000,
    120_000,
    300_000,
)
"""Bucket bounds for every duration histogram, in ms: reaches past the 60 s alert."""

# instrument name -> attribute keys it may carry (enforced by a View)
PROVISION_DURATION = "cpe.provision.duration"
PROVISION_COUNT = "cpe.provision.count"
PROVISION_STEP_DURATION = "cpe.provision.step_duration"
ACTIVE_SESSIONS = "cpe.provision.active_sessions"
VERIFY_MISMATCHES = "cpe.provision.verify.mismatches"
CAPACITY = "cpe.provision.capacity"
RPC_DURATION = "cwmp.rpc.duration"
CPE_FAULTS = "cwmp.cpe.faults"
INFORMS = "cwmp.informs"
TASK_COUNT = "cpe.task.count"
TASK_DURATION = "cpe.task.duration"
TASK_RESULTS: tuple[str, ...] = ("done", "failed", "retry", "interrupted", "waiting")
"""``result`` of the task metrics: ended done / failed for good / faulted and queued
again / session ended before the answer / transfer accepted, TransferComplete to come."""

ATTRIBUTE_KEYS: dict[str, frozenset[str]] = {
    PROVISION_DURATION: frozenset({"cpe.model", "cpe.service_plan", "result"}),
    PROVISION_COUNT: frozenset({"result"}),
    PROVISION_STEP_DURATION: frozenset({"step", "result"}),
    ACTIVE_SESSIONS: frozenset(),
    VERIFY_MISMATCHES: frozenset({"cpe.model"}),
    CAPACITY: frozenset(),
    RPC_DURATION: frozenset({"cwmp.method", "cwmp.fault_code"}),
    CPE_FAULTS: frozenset({"cwmp.method", "cwmp.fault_code"}),
    INFORMS: frozenset({"cwmp.event_code"}),
    TASK_COUNT: frozenset({"cpe.task.name", "result"}),
    TASK_DURATION: frozenset({"cpe.task.name", "result"}),
}
"""The only attribute keys each instrument keeps; none of them identifies a device."""

_HISTOGRAMS = frozenset({PROVISION_DURATION, PROVISION_STEP_DURATION, RPC_DURATION, TASK_DURATION})


def views() -> list[View]:
    """The Views to give the SDK MeterProvider: attribute allow-lists and buckets."""
    result: list[View] = []
    for name, keys in ATTRIBUTE_KEYS.items():
        if name in _HISTOGRAMS:
            result.append(
                View(
                    instrument_name=name,
                    attribute_keys=set(keys),
                    aggregation=ExplicitBucketHistogramAggregation(DURATION_BUCKETS_MS),
                )
            )
        else:
            result.append(View(instrument_name=name, attribute_keys=set(keys)))
    return result


MAX_EVENT_CODES = 256
"""Distinct ``cwmp.event_code`` values kept (TR-069 defines ~20, vendors collapse to
``X``): a CPE sending made-up codes cannot grow the counter table without bound."""
OVERFLOW_EVENT_CODE = "other"
"""Where Informs with event codes beyond `MAX_EVENT_CODES` distinct ones are counted."""


_SYNCHRONOUS: dict[str, tuple[str, str]] = {
    PROVISION_DURATION: ("ms", "Total time for CPE provisioning workflow"),
    PROVISION_COUNT: ("{attempt}", "Number of provisioning attempts by result"),
    PROVISION_STEP_DURATION: ("ms", "Duration of each provisioning step"),
    VERIFY_MISMATCHES: (
        "{mismatch}",
        "Parameters the CPE reported back different from what was set",
    ),
    RPC_DURATION: (
        "ms",
        "Round trip of one ACS-to-CPE RPC, request sent to response received",
    ),
    CPE_FAULTS: ("{fault}", "CWMP faults returned by CPEs, by fault code"),
    TASK_COUNT: ("{task}", "Device tasks run, by task name and result"),
    TASK_DURATION: (
        "ms",
        "Time a device task took in its CWMP session, first RPC to outcome",
    ),
}
"""Unit and description of each synchronous instrument (histograms and counters)."""


def _metric_event_code(code: str) -> str:
    """Vendor event codes (``X <OUI> <name>``) collapse to ``X``: bounded cardinality."""
    return "X" if code.startswith("X ") else code


class Instruments:
    """The instruments, created from an injected MeterProvider (never the global one).

    ``capacity`` is read at each collection for the ``cpe.provision.capacity`` gauge
    (how many concurrent sessions this process is sized for); ``None`` omits it.

    ``readers`` are the provider's metric readers: when given and all cumulative (see
    `session_metrics.shareable`), the synchronous instruments are aggregated once in
    process (`SessionMetrics`) and their points appended to every reader's collection,
    and ``resource`` is the provider's (for a collection that has nothing else).
    Otherwise they are SDK instruments, filtered and bucketed by `views`.
    """

    def __init__(
        self,
        meter_provider: MeterProvider,
        capacity: Callable[[], int | None] | None = None,
        *,
        readers: Sequence[MetricReader] | None = None,
        resource: Resource | None = None,
    ) -> None:
        meter = meter_provider.get_meter(METER_NAME)
        self._capacity = capacity
        self._lock = threading.Lock()
        self._active_sessions = 0
        self._informs: dict[str, int] = {}
        self._informs_by_codes: dict[tuple[str, ...], int] = {}
        """Informs by their whole tuple of event codes, not yet counted per code."""
        self.shared: SessionMetrics | None = None
        if readers is not None and shareable(readers):
            self.shared = SessionMetrics(
                InstrumentationScope(METER_NAME), resource or Resource.get_empty()
            )
            self._create_shared(self.shared)
            self.shared.attach(readers)
        else:
            self._create_sdk(meter)
        meter.create_observable_up_down_counter(
            ACTIVE_SESSIONS,
            callbacks=[self._observe_active_sessions],
            unit="{session}",
            description="Currently active provisioning sessions",
        )
        meter.create_observable_counter(
            INFORMS,
            callbacks=[self._observe_informs],
            unit="{event}",
            description="Inform event codes received",
        )
        meter.create_observable_gauge(
            CAPACITY,
            callbacks=[self._observe_capacity],
            unit="{session}",
            description="Concurrent provisioning sessions this ACS process is sized for",
        )

    def _create_shared(self, shared: SessionMetrics) -> None:
        def histogram(name: str, keys: Sequence[str]) -> HistogramStream:
            unit, description = _SYNCHRONOUS[name]
            return shared.histogram(name, unit, description, keys, DURATION_BUCKETS_MS)

        def counter(name: str, keys: Sequence[str]) -> SumStream:
            unit, description = _SYNCHRONOUS[name]
            return shared.counter(name, unit, description, keys)

        # Key order: the attribute order of the points (as the SDK keeps a caller's).
        self._s_provision_count = counter(PROVISION_COUNT, ("result",))
        self._s_provision_duration = histogram(
            PROVISION_DURATION, ("cpe.model", "cpe.service_plan", "result")
        )
        self._s_step_duration = histogram(PROVISION_STEP_DURATION, ("step", "result"))
        self._s_verify_mismatches = counter(VERIFY_MISMATCHES, ("cpe.model",))
        self._s_rpc_duration = histogram(RPC_DURATION, ("cwmp.method", "cwmp.fault_code"))
        self._s_cpe_faults = counter(CPE_FAULTS, ("cwmp.method", "cwmp.fault_code"))
        self._s_task_count = counter(TASK_COUNT, ("cpe.task.name", "result"))
        self._s_task_duration = histogram(TASK_DURATION, ("cpe.task.name", "result"))

    def _create_sdk(self, meter: Meter) -> None:
        def histogram(name: str) -> SdkHistogram:
            unit, description = _SYNCHRONOUS[name]
            return meter.create_histogram(
                name,
                unit=unit,
                description=description,
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS_MS,
            )

        def counter(name: str) -> SdkCounter:
            unit, description = _SYNCHRONOUS[name]
            return meter.create_counter(name, unit=unit, description=description)

        self.provision_duration = histogram(PROVISION_DURATION)
        self.provision_count = counter(PROVISION_COUNT)
        self.step_duration = histogram(PROVISION_STEP_DURATION)
        self.verify_mismatches = counter(VERIFY_MISMATCHES)
        self.rpc_duration = histogram(RPC_DURATION)
        self.cpe_faults = counter(CPE_FAULTS)
        self.task_count = counter(TASK_COUNT)
        self.task_duration = histogram(TASK_DURATION)

    def _observe_capacity(self, options: CallbackOptions) -> Iterable[Observation]:
        value = self._capacity() if self._capacity is not None else None
        return [] if value is None else [Observation(value)]

    def _observe_active_sessions(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self._active_sessions)]

    def _observe_informs(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:  # a collection runs on the reader's thread
            self._count_informs_per_code()
            counts = list(self._informs.items())
        return [Observation(count, {"cwmp.event_code": code}) for code, count in counts]

    def add_active_sessions(self, delta: int) -> None:
        """Sessions this process holds: +1 when one starts here, -1 when it leaves."""
        lock = self._lock
        lock.acquire()  # twice a session: a `with` block costs more than the addition
        try:
            self._active_sessions += delta
        finally:
            lock.release()

    @property
    def active_sessions(self) -> int:
        """The current count (what the next collection reports)."""
        return self._active_sessions

    def record_provisioning(
        self,
        *,
        result: str,
        model: str,
        service_plan: str,
        total_ms: float,
        steps_ms: Iterable[tuple[str, float]],
        verify_mismatches: int,
        context: Context | None,
    ) -> None:
        """Record one finished provisioning (on every result path, success or not)."""
        total = max(total_ms, 0.0)
        if self.shared is not None:
            step_stream = self._s_step_duration
            histograms: list[tuple[HistogramStream, tuple[object, ...], float]] = [
                (self._s_provision_duration, (model, service_plan, result), total)
            ]
            histograms += [(step_stream, (step, result), max(ms, 0.0)) for step, ms in steps_ms]
            sums: list[tuple[SumStream, tuple[object, ...], int | float]] = [
                (self._s_provision_count, (result,), 1)
            ]
            if verify_mismatches > 0:
                sums.append((self._s_verify_mismatches, (model,), verify_mismatches))
            self.shared.measure(context, histograms, sums)
            return
        self.provision_count.add(1, {"result": result}, context=context)
        self.provision_duration.record(
            total,
            {"cpe.model": model, "cpe.service_plan": service_plan, "result": result},
            context=context,
        )
        for step, ms in steps_ms:
            self.step_duration.record(
                max(ms, 0.0), {"step": step, "result": result}, context=context
            )
        if verify_mismatches > 0:
            self.verify_mismatches.add(verify_mismatches, {"cpe.model": model}, context=context)

    def record_rpc(self, method: str, duration_s: float, fault_code: int | None) -> None:
        duration_ms = max(duration_s * 1000.0, 0.0)
        if self.shared is not None:
            key = (method, None if fault_code is None else str(fault_code))
            faults = () if fault_code is None else ((self._s_cpe_faults, key, 1),)
            self.shared.measure(None, ((self._s_rpc_duration, key, duration_ms),), faults)
            return
        attributes: dict[str, str] = {"cwmp.method": method}
        if fault_code is not None:
            attributes["cwmp.fault_code"] = str(fault_code)
            self.cpe_faults.add(1, attributes)
        self.rpc_duration.record(duration_ms, attributes)

    def record_inform(self, event_codes: Sequence[str]) -> None:
        """Count an Inform's event codes (every session: the Inform's tuple is counted
        as a whole here, and per code when a reader collects).

        What a collection reports is what counting each code at once would have
        reported: the tuples are counted per code in the order they first came, so the
        codes are given their own point (up to `MAX_EVENT_CODES`) in the order they
        first came too."""
        codes = event_codes if type(event_codes) is tuple else tuple(event_codes)
        lock = self._lock
        lock.acquire()
        try:
            by_codes = self._informs_by_codes
            by_codes[codes] = by_codes.get(codes, 0) + 1
            if len(by_codes) > MAX_EVENT_CODES:  # made-up codes: bounded here too
                self._count_informs_per_code()
        finally:
            lock.release()

    def _count_informs_per_code(self) -> None:
        """Move the Informs counted by tuple into the per-code counts (under the lock)."""
        informs = self._informs
        for codes, count in self._informs_by_codes.items():
            for code in codes:
                key = _metric_event_code(code)
                if key not in informs and len(informs) >= MAX_EVENT_CODES:
                    key = OVERFLOW_EVENT_CODE
                informs[key] = informs.get(key, 0) + count
        self._informs_by_codes.clear()

    def record_task(self, name: str, result: str, duration_ms: float | None) -> None:
        """One task outcome; ``duration_ms`` None when it did not run in this session."""
        if self.shared is not None:
            key = (name, result)
            durations = (
                ()
                if duration_ms is None
                else ((self._s_task_duration, key, max(duration_ms, 0.0)),)
            )
            self.shared.measure(None, durations, ((self._s_task_count, key, 1),))
            return
        attributes = {"cpe.task.name": name, "result": result}
        self.task_count.add(1, attributes)
        if duration_ms is not None:
            self.task_duration.record(max(duration_ms, 0.0), attributes)
