"""The telemetry adapter behind the provisioning port: SessionTrace in, OTel out.

At session end each `SpanRecord` of the recorded `SessionTrace` becomes a finished SDK
`ReadableSpan` (its recorded trace id, span id, parent, start and end times,
allow-listed attributes, status, kind and, on the root, the connection-request link)
handed straight to the tracer provider's span processors (batch OTLP export, the
embedded trace store, in-memory ones in tests), after the provider's sampler decided
for the root. The spans are finished before they are exported, so nothing is gained by
starting and ending live spans through the SDK tracer: that cost ~90 CPU-µs per span
(context objects, attribute validation, locks) against ~12 here. What the tracer did
besides is done here: the sampler (and its trace state), the resource, the span limits
(``OTEL_SPAN_ATTRIBUTE_*``), the instrumentation scope. Not done: the SDK's own
span-lifecycle metrics (``otel.sdk.span.*``, counted only for spans started through a
tracer) and `SpanProcessor._on_ending`, which no processor used here implements.

The OTLP/HTTP batch processor (`EncodedSpanBatchProcessor`) does not even get a
`ReadableSpan`: each span is encoded straight from its record to the OTLP bytes its
exporter would have written for one (`encode_span_fields`) and queued as such: a session
whose only processor is that one builds no SDK span, context or status objects, the
batch queue holds bytes instead of span object graphs, and the export thread only
joins bytes and sends them.
Metrics are recorded in the same call, with the root span as context so histogram
points carry exemplars that link to the trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Final

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util.types import Attributes

from traceacs.provisioning.session_trace import AttributeValue, SessionTrace, SpanRecord
from traceacs.provisioning.telemetry_port import ProvisioningOutcome
from traceacs.telemetry.instruments import METER_NAME, Instruments
from traceacs.telemetry.otlp_encoding import (
    KIND_FIELDS,
    EncodedSpan,
    ascii_string_attribute_field,
    attribute_fields,
    encode_session_span,
    encode_span_fields,
    status_field,
    trace_id_fields,
)
from traceacs.telemetry.otlp_http import EncodedSpanBatchProcessor
from traceacs.telemetry.redaction import (
    ALLOWED_SPAN_ATTRIBUTES,
    PARAMETER_BEARING_ATTRIBUTES,
    redact_attributes,
    redact_text,
)
from traceacs.telemetry.sampling import QuietSessionSampler

log = logging.getLogger(__name__)

CAUSE_TRACE_ID = "cpe.connection_request.trace_id"
CAUSE_SPAN_ID = "cpe.connection_request.span_id"
"""A root span carrying these was caused by that connection request: it gets a link."""

SESSION_SPANS_SCOPE: Final = InstrumentationScope(METER_NAME, "")
"""The instrumentation scope of every span built here (what ``get_tracer(METER_NAME)``
gave them: the version defaults to ``""`` there). The object itself marks spans whose
attributes and status message were redacted when built: the trace store does not
redact those a second time."""

_NO_PARENT = Context()  # a root never adopts an ambient span as its parent
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_OK = Status(StatusCode.OK)
_UNSET = Status(StatusCode.UNSET)
_STATUS_FIELDS: Final = {"ok": status_field(_OK), "unset": status_field(_UNSET)}
"""The encoded status of a span recorded without an error."""
_SERVER_FIELD: Final = KIND_FIELDS[SpanKind.SERVER]
_INTERNAL_FIELD: Final = KIND_FIELDS[SpanKind.INTERNAL]


def cause_links(attributes: Mapping[str, object]) -> list[Link]:
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

    Spans go to ``tracer_provider``'s span processors under its sampler, resource and
    span limits; ``quiet_sampler`` decides which quiet periodic sessions are exported.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider,
        instruments: Instruments,
        quiet_sampler: QuietSessionSampler | None = None,
    ) -> None:
        self._sampler_of_provider = tracer_provider.sampler
        self._resource = tracer_provider.resource
        # What `add_span_processor` feeds: every processor the provider has, now or later.
        self._processor = tracer_provider._active_span_processor
        self._limits = SpanLimits()  # from OTEL_*_LIMIT, as the provider's own
        limit = self._limits.max_span_attributes
        self._unlimited = self._limits.max_span_attribute_length is None and (
            limit is None or limit >= len(ALLOWED_SPAN_ATTRIBUTES)
        )
        """No span limit can cut a span's allow-listed attributes."""
        self._scope = SESSION_SPANS_SCOPE
        self._samples_every_root = samples_every_root(self._sampler_of_provider)
        """The provider's sampler keeps every root as it is: `export_trace` need not ask."""
        self._instruments = instruments
        self._sampler = quiet_sampler or QuietSessionSampler(1.0)
        self._split_of: object = None
        self._split: tuple[tuple[EncodedSpanBatchProcessor, ...], tuple[SpanProcessor, ...]] = (
            (),
            (),
        )

    # -- the port -------------------------------------------------------------------

    def session_started(self) -> None:
        self._instruments.add_active_sessions(1)

    def session_released(self) -> None:
        self._instruments.add_active_sessions(-1)

    def samples_quiet_trace(self, trace_id: str) -> bool:
        return self._sampler.keeps_quiet(trace_id)

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

    # -- export ---------------------------------------------------------------------

    def export_trace(self, trace: SessionTrace) -> SpanContext:
        """Hand every span of ``trace`` to the span processors; returns the root's context.

        The configured sampler decides for the root (as ``start_span`` would, with no
        ambient parent); the other spans follow the root's decision, which is what every
        sampler `setup.py` accepts decides for them (the parent-based ones by the
        parent, the others by the shared trace id). A dropped trace reaches no
        processor. Spans are handed over parents first; a span whose parent is missing
        from the record is attached to the root rather than exported as an orphan.

        A processor that `accepts_encoded` spans (the OTLP/HTTP batch processor) gets
        each sampled span encoded on the spot (`encode_span_fields`), the bytes its
        exporter would have written for the `ReadableSpan`; the others get the
        `ReadableSpan`, built only when there is one to give it to.
        """
        trace_id = int(trace.trace_id, 16)
        root_record = trace.root
        if self._samples_every_root and self._unlimited:
            encoded_to, readable_to = self._targets()
            if encoded_to and not readable_to:
                return self._export_encoded(trace, trace_id, encoded_to)
        root_attributes = redact_attributes(root_record.attributes)
        links = cause_links(root_record.attributes)
        decision = self._sampler_of_provider.should_sample(
            _NO_PARENT, trace_id, root_record.name, SpanKind.SERVER, root_attributes, links
        )
        sampled = decision.decision is Decision.RECORD_AND_SAMPLE
        flags = _SAMPLED if sampled else _NOT_SAMPLED
        state = decision.trace_state
        root_context = SpanContext(trace_id, int(root_record.span_id, 16), False, flags, state)
        if decision.decision is Decision.DROP:
            return root_context
        encoded_to, readable_to = self._targets()
        if not sampled:
            encoded_to = ()  # a batch processor exports sampled spans only
        if not encoded_to and not readable_to:
            return root_context
        fallback_end = _fallback_end(trace)
        root_id = root_record.span_id
        contexts = {root_id: root_context}
        encoded_spans: list[EncodedSpan] = []
        trace_id_bytes = trace_id.to_bytes(16, "big")
        # Spans without a readable twin take their attributes straight from the record
        # (`_safe_attribute_fields`) when no span limit can cut them.
        from_record = not readable_to and self._unlimited
        for record in _parents_first(trace.spans):
            attributes: Attributes = None
            if record is root_record:
                parent_id, kind = None, SpanKind.SERVER
                attributes = self._bounded(decision.attributes or root_attributes)
                span_links: Sequence[Link] = links
            else:
                parent_id = record.parent_span_id
                if parent_id not in contexts:
                    parent_id = root_id
                kind, span_links = SpanKind.INTERNAL, ()
                if not from_record:
                    attributes = self._bounded(redact_attributes(record.attributes))
            status = _status_of(record)
            end_ns = record.end_ns if record.end_ns is not None else fallback_end
            end_ns = max(end_ns, record.start_ns)
            if readable_to:
                context = (
                    root_context
                    if parent_id is None
                    else SpanContext(trace_id, int(record.span_id, 16), False, flags, state)
                )
                readable = ReadableSpan(
                    name=record.name,
                    context=context,
                    parent=contexts[parent_id] if parent_id is not None else None,
                    resource=self._resource,
                    attributes=attributes,
                    links=span_links,
                    kind=kind,
                    status=status,
                    start_time=record.start_ns,
                    end_time=end_ns,
                    instrumentation_scope=self._scope,
                )
                contexts[record.span_id] = context
                for processor in readable_to:
                    processor.on_end(readable)
            else:
                contexts[record.span_id] = root_context  # only membership matters here
            if encoded_to:
                if attributes is None:
                    fields, dropped = _safe_attribute_fields(record.attributes), 0
                else:
                    fields = attribute_fields(attributes)
                    dropped = getattr(attributes, "dropped", 0)
                encoded_spans.append(
                    EncodedSpan(
                        encode_span_fields(
                            trace_id_bytes,
                            bytes.fromhex(record.span_id),
                            state,
                            bytes.fromhex(parent_id) if parent_id is not None else None,
                            False,
                            record.name,
                            KIND_FIELDS[kind],
                            record.start_ns,
                            end_ns,
                            fields,
                            dropped,
                            (),
                            0,
                            span_links,
                            0,
                            _STATUS_FIELDS.get(record.status) or status_field(status),
                        ),
                        self._resource,
                        self._scope,
                    )
                )
        for batch in encoded_to:
            batch.emit_encoded(encoded_spans)
        return root_context

    def _export_encoded(
        self, trace: SessionTrace, trace_id: int, encoded_to: Sequence[EncodedSpanBatchProcessor]
    ) -> SpanContext:
        """`export_trace` when its result is known without building anything: the
        sampler keeps every root as it is (no trace state, the root's attributes as
        given), only batch processors taking encoded spans are fed and no span limit can
        cut an allow-listed attribute. Each span is encoded from its record, attributes
        through the cache of values redaction keeps (`_safe_attribute_fields`), into the
        bytes the general path writes (the differential tests compare the two)."""
        spans = trace.spans
        root_record = spans[0]
        root_id = root_record.span_id
        root_context = SpanContext(trace_id, int(root_id, 16), False, _SAMPLED, None)
        prefix = trace_id_fields(trace_id.to_bytes(16, "big"))
        resource, scope = self._resource, self._scope
        fallback_end: int | None = None
        placed = {root_id}
        encoded_spans: list[EncodedSpan] = []
        for record in _parents_first(spans):
            if record is root_record:
                parent: bytes | None = None
                kind_field = _SERVER_FIELD
                attributes = record.attributes
                span_links: Sequence[Link] = (
                    cause_links(attributes) if CAUSE_TRACE_ID in attributes else ()
                )
            else:
                parent_id = record.parent_span_id
                if parent_id not in placed:
                    parent_id = root_id
                parent = bytes.fromhex(parent_id)
                kind_field, span_links = _INTERNAL_FIELD, ()
                placed.add(record.span_id)
            status_fields = _STATUS_FIELDS.get(record.status)
            if status_fields is None:
                status_fields = status_field(_status_of(record))
            start_ns, end_ns = record.start_ns, record.end_ns
            if end_ns is None:
                if fallback_end is None:
                    fallback_end = _fallback_end(trace)
                end_ns = fallback_end
            if end_ns < start_ns:
                end_ns = start_ns
            payload = encode_session_span(
                prefix,
                bytes.fromhex(record.span_id),
                parent,
                record.name,
                kind_field,
                start_ns,
                end_ns,
                _safe_attribute_fields(record.attributes),
                span_links,
                status_fields,
            )
            encoded_spans.append(EncodedSpan(payload, resource, scope))
        for batch in encoded_to:
            batch.emit_encoded(encoded_spans)
        return root_context

    def _targets(self) -> tuple[tuple[EncodedSpanBatchProcessor, ...], tuple[SpanProcessor, ...]]:
        """The provider's processors split into those taking encoded spans and the rest
        (worked out again whenever a processor is added)."""
        processors = getattr(self._processor, "_span_processors", None)
        if processors is None:  # a composite this adapter does not know: SDK spans only
            return (), (self._processor,)
        if processors is not self._split_of:
            encoded = tuple(
                p
                for p in processors
                if isinstance(p, EncodedSpanBatchProcessor) and p.accepts_encoded
            )
            self._split = (encoded, tuple(p for p in processors if p not in encoded))
            self._split_of = processors
        return self._split

    def _bounded(self, attributes: Mapping[str, AttributeValue]) -> Attributes:
        """The attributes as given when within the span limits (they are already valid
        OTel values); otherwise through the SDK's limits, as a started span would be."""
        limits = self._limits
        if limits.max_span_attribute_length is None and (
            limits.max_span_attributes is None or len(attributes) <= limits.max_span_attributes
        ):
            return attributes
        return BoundedAttributes(
            limits.max_span_attributes,
            attributes,
            immutable=True,
            max_value_len=limits.max_span_attribute_length,
        )


_SAFE_FIELDS: dict[tuple[object, ...], bytes] = {}
_MAX_SAFE_FIELDS: Final = 4096
_PLAIN_TEXT_KEYS: Final = ALLOWED_SPAN_ATTRIBUTES - PARAMETER_BEARING_ATTRIBUTES
"""Keys whose string values redaction passes through `redact_text` alone."""
_ONE_DEVICE_KEYS: Final = frozenset(
    {"cpe.serial_number", "cpe.customer_id", "cpe.location_id", "cwmp.session.id"}
)
"""Keys whose values belong to one device or one session: not remembered, they would
only push out the values every session shares (and they are cheap to encode anew)."""


def _safe_attribute_fields(attributes: Mapping[str, AttributeValue]) -> bytes:
    """``attribute_fields(redact_attributes(attributes))``, remembering the encoding of
    each (key, value) that redaction keeps as it is (an allow-listed key, a value with
    no secret in it): the same plans, counts and methods come back in every session.
    What redaction drops or changes is never remembered (nor, so, held). An ASCII
    string of a plain key is redacted and encoded directly (`redact_text`,
    `ascii_string_attribute_field`) when not remembered."""
    cache = _SAFE_FIELDS
    out = bytearray()
    cache_key: tuple[object, ...] | None
    for key, value in attributes.items():
        kind = type(value)
        if kind is str:
            text_key = (key, value)
            encoded = cache.get(text_key)
            if encoded is not None:
                out += encoded
                continue
            if key in _PLAIN_TEXT_KEYS and isinstance(value, str) and value.isascii():
                text = redact_text(value)
                encoded = ascii_string_attribute_field(key, text)
                if text == value and key not in _ONE_DEVICE_KEYS:
                    _remember(text_key, encoded)
                out += encoded
                continue
            cache_key = text_key
        elif kind is int or kind is bool:  # the type in the key: True == 1
            cache_key = (key, kind, value)
            encoded = cache.get(cache_key)
            if encoded is not None:
                out += encoded
                continue
        else:
            cache_key = None
        safe = redact_attributes({key: value})
        encoded = attribute_fields(safe)
        if cache_key is not None and key in safe and safe[key] == value:  # kept as it is
            _remember(cache_key, encoded)
        out += encoded
    return bytes(out)


def _remember(cache_key: tuple[object, ...], encoded: bytes) -> None:
    if len(_SAFE_FIELDS) >= _MAX_SAFE_FIELDS:
        _SAFE_FIELDS.clear()
    _SAFE_FIELDS[cache_key] = encoded


def samples_every_root(sampler: Sampler) -> bool:
    """Whether ``sampler`` keeps a root span (no parent) with no trace state and its
    attributes as given, whatever the span: ``always_on`` and ``parentbased_always_on``
    (the default), recognised as the SDK builds them; any other sampler is asked."""
    if sampler is ALWAYS_ON:
        return True
    return type(sampler) is ParentBased and getattr(sampler, "_root", None) is ALWAYS_ON


def _status_of(record: SpanRecord) -> Status:
    """The span's status (an error's message redacted, as every exported text)."""
    if record.status == "error":
        return Status(StatusCode.ERROR, redact_text(record.status_message))
    return _OK if record.status == "ok" else _UNSET


def _fallback_end(trace: SessionTrace) -> int:
    """The end time of a span never ended: the trace's last end (or the root's start)."""
    return max((s.end_ns for s in trace.spans if s.end_ns is not None), default=trace.root.start_ns)


def _parents_first(spans: Sequence[SpanRecord]) -> list[SpanRecord]:
    """The root first, then each span after its parent (recording order otherwise)."""
    placed = {spans[0].span_id}
    for span in spans[1:]:  # nearly always recorded parents first already
        if span.parent_span_id not in placed:
            break
        placed.add(span.span_id)
    else:
        return list(spans)
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
