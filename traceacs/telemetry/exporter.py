"""The telemetry adapter behind the provisioning port: SessionTrace in, OTel out.

At session end the recorded `SessionTrace` is replayed through an ordinary SDK tracer:
each `SpanRecord` becomes a real span with its recorded trace id, span id, parent,
start and end times, allow-listed attributes and status. Replaying through the tracer
(rather than forging ReadableSpans) keeps every configured span processor, sampler,
resource and exporter working as usual; `RecordedIdGenerator` supplies the ids.
Metrics are recorded in the same call, with the root span as context so histogram
points carry exemplars that link to the trace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.telemetry_port import ProvisioningOutcome
from traceacs.telemetry.ids import RecordedIdGenerator
from traceacs.telemetry.instruments import METER_NAME, Instruments
from traceacs.telemetry.redaction import redact_attributes, redact_text
from traceacs.telemetry.sampling import QuietSessionSampler

log = logging.getLogger(__name__)

CAUSE_TRACE_ID = "cpe.connection_request.trace_id"
CAUSE_SPAN_ID = "cpe.connection_request.span_id"
"""A root span carrying these was caused by that connection request: it gets a link."""


def cause_links(attributes: dict[str, object]) -> list[Link]:
    """The span link a session's root records as attributes (none if malformed)."""
    trace_id, span_id = attributes.get(CAUSE_TRACE_ID), attributes.get(CAUSE_SPAN_ID)
    if not isinstance(trace_id, str) or not isinstance(span_id, str):
        return []
    try:
        context = SpanContext(
            trace_id=int(trace_id, 16),
            span_id=int(span_id, 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    except ValueError:
        return []
    if not context.is_valid:
        return []
    return [Link(context, {"link.kind": "connection_request"})]


class OtelProvisioningTelemetry:
    """Implements `traceacs.provisioning.telemetry_port.ProvisioningTelemetry`.

    ``tracer_provider`` must have been built with a `RecordedIdGenerator` (setup.py
    does this); ``quiet_sampler`` decides which quiet periodic sessions are exported.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider,
        instruments: Instruments,
        quiet_sampler: QuietSessionSampler | None = None,
    ) -> None:
        id_generator = tracer_provider.id_generator
        if not isinstance(id_generator, RecordedIdGenerator):
            raise TypeError("the TracerProvider needs id_generator=RecordedIdGenerator()")
        self._ids = id_generator
        self._tracer = tracer_provider.get_tracer(METER_NAME)
        self._instruments = instruments
        self._sampler = quiet_sampler or QuietSessionSampler(1.0)

    # -- the port -------------------------------------------------------------------

    def session_started(self) -> None:
        self._instruments.add_active_sessions(1)

    def session_released(self) -> None:
        self._instruments.add_active_sessions(-1)

    def session_finished(self, trace: SessionTrace, outcome: ProvisioningOutcome | None) -> None:
        self._instruments.add_active_sessions(-1)
        root: SpanContext | None = None
        try:
            if trace.spans and self._sampler.keep(trace):
                root = self.export_trace(trace)
        except Exception as exc:  # telemetry must never break a CWMP session
            log.warning("trace export failed: %s", type(exc).__name__)
        if outcome is None:
            return
        context = _context_of(root) if root is not None else None
        try:
            self._instruments.record_provisioning(
                result=outcome.result,
                model=outcome.model,
                service_plan=outcome.service_plan,
                total_ms=outcome.total_duration_ms,
                steps_ms=outcome.step_durations_ms.items(),
                verify_mismatches=outcome.verify_mismatches,
                context=context,
            )
        except Exception as exc:
            log.warning("metric recording failed: %s", type(exc).__name__)

    def rpc_finished(self, method: str, duration_s: float, fault_code: int | None) -> None:
        self._instruments.record_rpc(method, duration_s, fault_code)

    def inform_received(self, event_codes: Sequence[str]) -> None:
        self._instruments.record_inform(event_codes)

    def task_finished(self, name: str, result: str, duration_ms: float | None) -> None:
        try:
            self._instruments.record_task(name, result, duration_ms)
        except Exception as exc:  # telemetry must never break a CWMP session
            log.warning("task metric recording failed: %s", type(exc).__name__)

    # -- replay ---------------------------------------------------------------------

    def export_trace(self, trace: SessionTrace) -> SpanContext:
        """Replay every span of ``trace``; returns the root's span context.

        Spans are replayed parents first. A span whose parent is missing from the
        record is attached to the root rather than exported as an orphan.
        """
        trace_id = int(trace.trace_id, 16)
        root_record = trace.root
        fallback_end = max(
            (s.end_ns for s in trace.spans if s.end_ns is not None), default=root_record.start_ns
        )
        started: dict[str, SpanContext] = {}
        for record in _parents_first(trace.spans):
            if record is root_record:
                parent_context = Context()  # never adopt an ambient span as parent
            else:
                parent = started.get(record.parent_span_id or "") or started[root_record.span_id]
                parent_context = trace_api.set_span_in_context(NonRecordingSpan(parent))
            started[record.span_id] = self._replay(
                record, trace_id, parent_context, fallback_end, is_root=record is root_record
            )
        return started[root_record.span_id]

    def _replay(
        self,
        record: SpanRecord,
        trace_id: int,
        parent_context: Context,
        fallback_end_ns: int,
        *,
        is_root: bool,
    ) -> SpanContext:
        with self._ids.staged(trace_id, int(record.span_id, 16)):
            span = self._tracer.start_span(
                record.name,
                context=parent_context,
                kind=SpanKind.SERVER if is_root else SpanKind.INTERNAL,
                attributes=redact_attributes(record.attributes),
                start_time=record.start_ns,
                links=cause_links(dict(record.attributes)) if is_root else None,
            )
        if record.status == "error":
            span.set_status(Status(StatusCode.ERROR, redact_text(record.status_message)))
        elif record.status == "ok":
            span.set_status(Status(StatusCode.OK))
        end_ns = record.end_ns if record.end_ns is not None else fallback_end_ns
        span.end(end_time=max(end_ns, record.start_ns))
        return span.get_span_context()


def _parents_first(spans: Sequence[SpanRecord]) -> list[SpanRecord]:
    """The root first, then each span after its parent (recording order otherwise)."""
    ordered = [spans[0]]
    placed = {spans[0].span_id}
    pending = list(spans[1:])
    while pending:
        progress = [s for s in pending if s.parent_span_id in placed]
        if not progress:  # parents missing from the record: keep them, under the root
            progress = pending
        for span in progress:
            ordered.append(span)
            placed.add(span.span_id)
        pending = [s for s in pending if s.span_id not in placed]
    return ordered


def _context_of(span_context: SpanContext) -> Context:
    return trace_api.set_span_in_context(NonRecordingSpan(span_context))
