"""OTLP trace export requests encoded straight to protobuf bytes, without message objects.

The SDK's OTLP exporters build an ``ExportTraceServiceRequest`` of protobuf message
objects (a ``Span``, a ``KeyValue`` and an ``AnyValue`` per attribute, ...) and then
serialize it: ~60 CPU-µs per session span on the export thread, more than the rest of
a span's journey. The messages are only ever serialized, so this module writes the
protobuf wire format of the same request directly (~15 µs per span): what the
SDK's ``encode_spans`` produces, which the round-trip tests check by parsing both with
the generated classes. The resource and instrumentation scope of a batch are encoded
once, not per span.

Wire format reminders: a field is ``varint(number << 3 | wire type)`` then its value;
type 0 varint, 1 fixed64 (little-endian), 2 length-delimited (varint length, bytes),
5 fixed32. proto3 leaves default scalars out, except inside a ``oneof`` (``AnyValue``).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceState

log = logging.getLogger(__name__)

_KIND: Final = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}
_HAS_IS_REMOTE: Final = 0x100  # SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE: Final = 0x200  # SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack
_pack_double = struct.Struct("<d").pack

# Field tags (number << 3 | wire type), by message.
_REQUEST_RESOURCE_SPANS: Final = b"\x0a"  # ExportTraceServiceRequest.resource_spans = 1
_RS_RESOURCE, _RS_SCOPE_SPANS, _RS_SCHEMA_URL = b"\x0a", b"\x12", b"\x1a"
_SS_SCOPE, _SS_SPANS, _SS_SCHEMA_URL = b"\x0a", b"\x12", b"\x1a"
_SPAN_TRACE_ID, _SPAN_SPAN_ID, _SPAN_TRACE_STATE, _SPAN_PARENT = b"\x0a", b"\x12", b"\x1a", b"\x22"
_SPAN_NAME, _SPAN_KIND, _SPAN_START, _SPAN_END = b"\x2a", b"\x30", b"\x39", b"\x41"
_SPAN_ATTRIBUTE, _SPAN_DROPPED_ATTRIBUTES, _SPAN_EVENT = b"\x4a", b"\x50", b"\x5a"
_SPAN_DROPPED_EVENTS, _SPAN_LINK, _SPAN_DROPPED_LINKS = b"\x60", b"\x6a", b"\x70"
_SPAN_STATUS, _SPAN_FLAGS = b"\x7a", b"\x85\x01"  # status = 15, flags = 16 (fixed32)
_EVENT_TIME, _EVENT_NAME, _EVENT_ATTRIBUTE, _EVENT_DROPPED = b"\x09", b"\x12", b"\x1a", b"\x20"
_LINK_TRACE_ID, _LINK_SPAN_ID = b"\x0a", b"\x12"  # no trace_state (3): the SDK sends none
_LINK_ATTRIBUTE, _LINK_DROPPED, _LINK_FLAGS = b"\x22", b"\x28", b"\x35"
_STATUS_MESSAGE, _STATUS_CODE = b"\x12", b"\x18"
_KV_KEY, _KV_VALUE = b"\x0a", b"\x12"
_ANY_STRING, _ANY_BOOL, _ANY_INT, _ANY_DOUBLE = b"\x0a", b"\x10", b"\x18", b"\x21"
_ANY_ARRAY, _ANY_KVLIST, _ANY_BYTES = b"\x2a", b"\x32", b"\x3a"
_LIST_VALUE = b"\x0a"  # ArrayValue.values = 1, KeyValueList.values = 1
_RESOURCE_ATTRIBUTE = b"\x0a"
_SCOPE_NAME, _SCOPE_VERSION, _SCOPE_ATTRIBUTE = b"\x0a", b"\x12", b"\x1a"


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL_VARINTS: Final = tuple(_varint(n) for n in range(1 << 14))


def _length(value: int) -> bytes:
    return _SMALL_VARINTS[value] if value < 16384 else _varint(value)


def _delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + _length(len(payload)) + payload


def _text(tag: bytes, text: str) -> bytes:
    data = text.encode()
    return tag + _length(len(data)) + data


def _any_value(value: Any) -> bytes:
    """An encoded ``AnyValue`` (the SDK's `_encode_value`, in the same type order)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _text(_ANY_STRING, value)
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"integer out of int64 range: {value}")
        return _ANY_INT + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return _ANY_DOUBLE + _pack_double(value)
    if isinstance(value, bytes):
        return _delimited(_ANY_BYTES, value)
    if isinstance(value, Sequence):
        items = b"".join(_delimited(_LIST_VALUE, _any_value(item)) for item in value)
        return _delimited(_ANY_ARRAY, items)
    if isinstance(value, Mapping):
        pairs = b"".join(_delimited(_LIST_VALUE, _key_value(str(k), v)) for k, v in value.items())
        return _delimited(_ANY_KVLIST, pairs)
    raise TypeError(f"invalid attribute value type {type(value).__name__}")


def _key_value(key: str, value: Any) -> bytes:
    return _text(_KV_KEY, key) + _delimited(_KV_VALUE, _any_value(value))


_ENCODED_ATTRIBUTES: dict[tuple[bytes, str, type, Any], bytes] = {}
_MAX_ENCODED_ATTRIBUTES: Final = 4096
"""Encoded ``KeyValue`` fields by (tag, key, type, value) for string, bool and int
values and tuples of strings: most repeat from span to span (models, plans, methods,
flags, event codes). The type is in the key because ``True == 1``; floats are left out
because ``0.0 == -0.0``."""

_ENCODED_KEYS: dict[str, bytes] = {}
"""``KeyValue.key`` fields by key (the allow-listed keys: a few dozen)."""


def _string_attribute(tag: bytes, key: str, value: str) -> bytes:
    """`_key_value` of a string value, wrapped in ``tag``: the common case, inlined."""
    prefix = _ENCODED_KEYS.get(key)
    if prefix is None:
        prefix = _text(_KV_KEY, key)
        if len(_ENCODED_KEYS) < _MAX_ENCODED_ATTRIBUTES:
            _ENCODED_KEYS[key] = prefix
    data = value.encode()
    any_value = _ANY_STRING + _length(len(data)) + data
    body = prefix + _KV_VALUE + _length(len(any_value)) + any_value
    return tag + _length(len(body)) + body


_STRING_HEADERS: dict[tuple[str, int], bytes] = {}


def ascii_string_attribute_field(key: str, text: str) -> bytes:
    """``attribute_fields({key: text})`` for an ASCII ``text``: everything before the
    text's bytes depends only on the key and the text's length, so that header is
    remembered by (key, length) and the text appended (the values that are new in
    every session, serial numbers and session ids, are encoded at that cost)."""
    size = len(text)
    header = _STRING_HEADERS.get((key, size))
    if header is None:
        field = _string_attribute(_SPAN_ATTRIBUTE, key, "x" * size)
        header = field[: len(field) - size]
        if len(_STRING_HEADERS) >= _MAX_ENCODED_ATTRIBUTES:
            _STRING_HEADERS.clear()
        _STRING_HEADERS[(key, size)] = header
    return header + text.encode("ascii")


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` fields; a value that cannot be encoded is left out, logged."""
    if not attributes:
        return b""
    cache = _ENCODED_ATTRIBUTES
    out = bytearray()
    for key, value in attributes.items():
        kind = type(value)
        if (kind is str or kind is bool or kind is int) or (
            kind is tuple and all(type(item) is str for item in value)
        ):
            cache_key = (tag, key, kind, value)
            encoded = cache.get(cache_key)
        else:  # floats (0.0 == -0.0), other sequences: encoded every time
            cache_key, encoded = None, None
        if encoded is None:
            try:
                if kind is str:
                    encoded = _string_attribute(tag, key, value)
                else:
                    encoded = _delimited(tag, _key_value(key, value))
            except (TypeError, ValueError, UnicodeError) as exc:
                log.warning("span attribute %s not exported: %s", key, exc)
                continue
            if cache_key is not None:
                if len(cache) >= _MAX_ENCODED_ATTRIBUTES:
                    cache.clear()
                cache[cache_key] = encoded
        out += encoded
    return bytes(out)


def _count(tag: bytes, value: int) -> bytes:
    return tag + _varint(value) if value else b""


def _trace_state(tag: bytes, state: TraceState | None) -> bytes:
    if not state:
        return b""
    return _text(tag, ",".join(f"{key}={value}" for key, value in state.items()))


def _flags(parent: SpanContext | None) -> bytes:
    flags = _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)
    return _pack_fixed32(flags)


_BARE_STATUS: Final = {
    code: _delimited(_SPAN_STATUS, _STATUS_CODE + _varint(code.value) if code.value else b"")
    for code in StatusCode
}
"""The ``status`` field of a status without a description, by code (most spans)."""


def _status(status: Status | None) -> bytes:
    if status is None:
        return b""
    if not status.description:
        return _BARE_STATUS[status.status_code]
    code = status.status_code.value
    body = _text(_STATUS_MESSAGE, status.description) + (
        _STATUS_CODE + _varint(code) if code else b""
    )
    return _delimited(_SPAN_STATUS, body)


def _event(event: Event) -> bytes:
    body = (
        (_EVENT_TIME + _pack_fixed64(event.timestamp) if event.timestamp else b"")
        + (_text(_EVENT_NAME, event.name) if event.name else b"")
        + _attributes(_EVENT_ATTRIBUTE, event.attributes)
        + _count(_EVENT_DROPPED, event.dropped_attributes)
    )
    return _delimited(_SPAN_EVENT, body)


def _link(link: Link) -> bytes:
    context = link.context
    body = (
        _LINK_TRACE_ID
        + b"\x10"
        + context.trace_id.to_bytes(16, "big")
        + _LINK_SPAN_ID
        + b"\x08"
        + context.span_id.to_bytes(8, "big")
        + _attributes(_LINK_ATTRIBUTE, link.attributes)
        + _count(_LINK_DROPPED, link.dropped_attributes)
        + _LINK_FLAGS
        + _flags(context)
    )
    return _delimited(_SPAN_LINK, body)


def encode_span(span: ReadableSpan | EncodedSpan) -> bytes:
    """One ``Span`` message's bytes (without its field tag and length)."""
    if type(span) is EncodedSpan:
        return span.payload
    assert isinstance(span, ReadableSpan)
    context = span.context
    assert context is not None  # every finished SDK span has one
    parent = span.parent
    return encode_span_fields(
        context.trace_id.to_bytes(16, "big"),
        context.span_id.to_bytes(8, "big"),
        context.trace_state,
        parent.span_id.to_bytes(8, "big") if parent is not None else None,
        parent is not None and parent.is_remote,
        span.name,
        KIND_FIELDS[span.kind],
        span.start_time,
        span.end_time,
        attribute_fields(span.attributes),
        span.dropped_attributes,
        span.events,
        span.dropped_events,
        span.links,
        span.dropped_links,
        status_field(span.status),
    )


KIND_FIELDS: Final = {kind: _SPAN_KIND + _SMALL_VARINTS[value] for kind, value in _KIND.items()}
"""The encoded ``kind`` field of a span, by `SpanKind`."""


def attribute_fields(attributes: Mapping[str, Any] | None) -> bytes:
    """A span's encoded ``attributes`` fields."""
    return _attributes(_SPAN_ATTRIBUTE, attributes)


def status_field(status: Status | None) -> bytes:
    """A span's encoded ``status`` field."""
    return _status(status)


_ENCODED_NAMES: dict[str, bytes] = {}


def _encoded_name(name: str) -> bytes:
    """The span's name field (none for an empty name), remembered: a session's spans
    carry a handful of names."""
    encoded = _ENCODED_NAMES.get(name)
    if encoded is None:
        encoded = _text(_SPAN_NAME, name) if name else b""
        if len(_ENCODED_NAMES) >= _MAX_ENCODED_ATTRIBUTES:
            _ENCODED_NAMES.clear()
        _ENCODED_NAMES[name] = encoded
    return encoded


def encode_span_fields(
    trace_id: bytes,
    span_id: bytes,
    trace_state: TraceState | None,
    parent_span_id: bytes | None,
    parent_is_remote: bool,
    name: str,
    kind_field: bytes,
    start_ns: int | None,
    end_ns: int | None,
    attributes: bytes,
    dropped_attributes: int,
    events: Sequence[Event],
    dropped_events: int,
    links: Sequence[Link],
    dropped_links: int,
    status: bytes,
) -> bytes:
    """A ``Span`` message from its fields (ids as big-endian bytes; kind, attributes and
    status already encoded by `KIND_FIELDS`, `attribute_fields` and `status_field`):
    what `encode_span` writes for a `ReadableSpan`, and what a session span is encoded
    from without one."""
    out = bytearray(_SPAN_TRACE_ID + b"\x10")
    out += trace_id
    out += _SPAN_SPAN_ID + b"\x08"
    out += span_id
    if trace_state:
        out += _trace_state(_SPAN_TRACE_STATE, trace_state)
    if parent_span_id is not None:
        out += _SPAN_PARENT + b"\x08"
        out += parent_span_id
    out += _encoded_name(name)
    out += kind_field
    if start_ns:
        out += _SPAN_START + _pack_fixed64(start_ns)
    if end_ns:
        out += _SPAN_END + _pack_fixed64(end_ns)
    out += attributes
    if dropped_attributes:
        out += _SPAN_DROPPED_ATTRIBUTES + _varint(dropped_attributes)
    for event in events:
        out += _event(event)
    if dropped_events:
        out += _SPAN_DROPPED_EVENTS + _varint(dropped_events)
    for link in links:
        out += _link(link)
    if dropped_links:
        out += _SPAN_DROPPED_LINKS + _varint(dropped_links)
    out += status
    out += _SPAN_FLAGS
    out += _pack_fixed32(_HAS_IS_REMOTE | _IS_REMOTE if parent_is_remote else _HAS_IS_REMOTE)
    return bytes(out)


_pack_times = struct.Struct("<cQcQ").pack
_LOCAL_SPAN_FLAGS: Final = _SPAN_FLAGS + _pack_fixed32(_HAS_IS_REMOTE)


def trace_id_fields(trace_id: bytes) -> bytes:
    """The ``trace_id`` field, and the ``span_id`` field's tag: what every span of one
    trace starts with (`encode_session_span`'s ``trace_prefix``)."""
    return _SPAN_TRACE_ID + b"\x10" + trace_id + _SPAN_SPAN_ID + b"\x08"


def encode_session_span(
    trace_prefix: bytes,
    span_id: bytes,
    parent_span_id: bytes | None,
    name: str,
    kind_field: bytes,
    start_ns: int,
    end_ns: int,
    attributes: bytes,
    links: Sequence[Link],
    status: bytes,
) -> bytes:
    """`encode_span_fields` for a span of a recorded session: no trace state, events or
    dropped counts, a local parent; ``trace_prefix`` from `trace_id_fields`. One join
    instead of a field at a time (a time of 0 is left out, as proto3 does)."""
    if start_ns and end_ns:
        times = _pack_times(_SPAN_START, start_ns, _SPAN_END, end_ns)
    else:
        times = (_SPAN_START + _pack_fixed64(start_ns) if start_ns else b"") + (
            _SPAN_END + _pack_fixed64(end_ns) if end_ns else b""
        )
    return b"".join(
        (
            trace_prefix,
            span_id,
            b"" if parent_span_id is None else _SPAN_PARENT + b"\x08" + parent_span_id,
            _encoded_name(name),
            kind_field,
            times,
            attributes,
            b"".join([_link(link) for link in links]) if links else b"",
            status,
            _LOCAL_SPAN_FLAGS,
        )
    )


class EncodedSpan:
    """A finished span already encoded as an OTLP ``Span`` message (`encode_span_fields`),
    with the resource and instrumentation scope it is exported under.

    What the session adapter queues for the batch exporter instead of a `ReadableSpan`
    when that exporter is the direct OTLP one: the span is encoded once, on the spot,
    and the queue holds one bytes object per span rather than a span object graph.
    """

    __slots__ = ("instrumentation_scope", "payload", "resource")

    def __init__(
        self, payload: bytes, resource: Resource, instrumentation_scope: InstrumentationScope
    ) -> None:
        self.payload = payload
        self.resource = resource
        self.instrumentation_scope = instrumentation_scope


def _resource(resource: Resource) -> bytes:
    return _attributes(_RESOURCE_ATTRIBUTE, resource.attributes)


def _scope(scope: InstrumentationScope | None) -> bytes:
    if scope is None:
        return b""
    return (
        (_text(_SCOPE_NAME, scope.name) if scope.name else b"")
        + (_text(_SCOPE_VERSION, scope.version) if scope.version else b"")
        + _attributes(_SCOPE_ATTRIBUTE, scope.attributes)
    )


_Span = ReadableSpan | EncodedSpan
_Groups = list[tuple[Resource, list[tuple[InstrumentationScope | None, list[_Span]]]]]


def _grouped(spans: Iterable[_Span]) -> _Groups:
    """Spans by resource, then by scope, as the SDK groups them (by equality, in order
    of first appearance). A batch's spans nearly always share both objects, so the
    group of the previous span is tried first, by identity."""
    groups: _Groups = []
    last: tuple[Resource | None, InstrumentationScope | None, list[_Span]] = (
        None,
        None,
        [],
    )
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope or None
        if resource is last[0] and scope is last[1]:
            last[2].append(span)
            continue
        by_scope = next((g for r, g in groups if r == resource), None)
        if by_scope is None:
            by_scope = []
            groups.append((resource, by_scope))
        members = next((m for s, m in by_scope if s == scope), None)
        if members is None:
            members = []
            by_scope.append((scope, members))
        members.append(span)
        last = (resource, scope, members)
    return groups


def encode_trace_request(spans: Sequence[ReadableSpan | EncodedSpan]) -> bytes:
    """The serialized ``ExportTraceServiceRequest`` carrying ``spans`` (SDK spans, or
    spans the session adapter encoded already, or both)."""
    out = []
    for resource, by_scope in _grouped(spans):
        scope_spans = []
        for scope, members in by_scope:
            body = _delimited(_SS_SCOPE, _scope(scope)) + b"".join(
                [_delimited(_SS_SPANS, encode_span(span)) for span in members]
            )
            if scope is not None and scope.schema_url:
                body += _text(_SS_SCHEMA_URL, scope.schema_url)
            scope_spans.append(_delimited(_RS_SCOPE_SPANS, body))
        resource_spans = _delimited(_RS_RESOURCE, _resource(resource)) + b"".join(scope_spans)
        if resource.schema_url:
            resource_spans += _text(_RS_SCHEMA_URL, resource.schema_url)
        out.append(_delimited(_REQUEST_RESOURCE_SPANS, resource_spans))
    return b"".join(out)
