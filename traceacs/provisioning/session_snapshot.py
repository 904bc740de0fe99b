"""A paused CWMP session's handler state as plain JSON data, and the ports to resume it.

DESIGN.md section 1: between two POSTs of one CWMP session, everything the ACS needs is
small plain data. When several ACS processes share a session store, the process that
answered a POST writes that data back, and the process that gets the CPE's next POST
(any of them) rebuilds the handler from it. This module holds the pieces every handler
shares: the `SessionTrace` as JSON (so the trace stays one trace, one trace id, with the
spans every process recorded), the Inform as its XML envelope (the codec already
round-trips it exactly), and the two Protocols a resumable handler and its factory meet.

What a snapshot never holds: secrets. The desired config (Wi-Fi keys, VoIP passwords)
is rebuilt from the profile source on resume; a pending RPC is stored as its method
name and rebuilt from that state; device secrets are not copied.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.errors import CwmpError
from traceacs.provisioning.session_handler import SessionHandler
from traceacs.provisioning.session_trace import AttributeValue, SessionTrace, SpanRecord

Json = dict[str, Any]


class SnapshotError(Exception):
    """A snapshot cannot be taken or restored (unsupported state, corrupt data, a profile
    that changed under a paused session). The session is then ended, never guessed."""


@runtime_checkable
class ResumableHandler(Protocol):
    """A `SessionHandler` whose state between two POSTs can be written down."""

    def snapshot(self) -> Json:
        """The handler's state as JSON-ready data (no secrets); `SnapshotError` if none."""
        ...

    def release(self) -> None:
        """This process lets go of the session: it continues (or ended) in another one."""
        ...


@runtime_checkable
class ResumableHandlerFactory(Protocol):
    """A `SessionHandlerFactory` that can also rebuild a handler from its snapshot."""

    def new_session(self, session_id: str) -> SessionHandler: ...

    async def restore(self, session_id: str, state: Json) -> SessionHandler:
        """The handler of ``session_id`` as `ResumableHandler.snapshot` left it."""
        ...


# ---------------------------------------------------------------------------- trace


def _attribute_to_json(value: AttributeValue) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _attribute_from_json(value: Any) -> AttributeValue:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str | bool | int | float):
        return value
    raise SnapshotError(f"span attribute of type {type(value).__name__} in a snapshot")


def span_to_json(span: SpanRecord) -> Json:
    return {
        "name": span.name,
        "span_id": span.span_id,
        "parent": span.parent_span_id,
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
        "attributes": {k: _attribute_to_json(v) for k, v in span.attributes.items()},
        "status": span.status,
        "status_message": span.status_message,
    }


def span_from_json(data: Json) -> SpanRecord:
    status = data["status"]
    if status not in ("unset", "ok", "error"):
        raise SnapshotError(f"unknown span status {status!r}")
    return SpanRecord(
        name=str(data["name"]),
        span_id=str(data["span_id"]),
        parent_span_id=data["parent"],
        start_ns=int(data["start_ns"]),
        end_ns=None if data["end_ns"] is None else int(data["end_ns"]),
        attributes={str(k): _attribute_from_json(v) for k, v in data["attributes"].items()},
        status=status,
        status_message=str(data["status_message"]),
    )


def trace_to_json(trace: SessionTrace) -> Json:
    return {
        "trace_id": trace.trace_id,
        "spans": [span_to_json(s) for s in trace.spans],
        "changed_something": trace.changed_something,
        "failed": trace.failed,
    }


def trace_from_json(data: Json) -> SessionTrace:
    return SessionTrace(
        trace_id=str(data["trace_id"]),
        spans=[span_from_json(s) for s in data["spans"]],
        changed_something=bool(data["changed_something"]),
        failed=bool(data["failed"]),
    )


def span_id_of(span: SpanRecord | None) -> str | None:
    return span.span_id if span is not None else None


def find_span(trace: SessionTrace, span_id: str | None) -> SpanRecord | None:
    """The span of ``trace`` with ``span_id`` (None for None); `SnapshotError` if absent."""
    if span_id is None:
        return None
    for span in trace.spans:
        if span.span_id == span_id:
            return span
    raise SnapshotError(f"span {span_id} is not in the snapshot's trace")


# ---------------------------------------------------------------------------- inform


def inform_to_json(inform: m.Inform | None) -> str | None:
    """The Inform as its SOAP envelope text (what the CPE sent; no ACS secrets)."""
    if inform is None:
        return None
    return serialize_envelope(m.Envelope(body=inform)).decode("utf-8")


def inform_from_json(text: str | None) -> m.Inform | None:
    if text is None:
        return None
    try:
        body = parse_envelope(text.encode("utf-8")).body
    except CwmpError as exc:
        raise SnapshotError(f"unreadable Inform in a snapshot: {exc}") from None
    if not isinstance(body, m.Inform):
        raise SnapshotError("the snapshot's Inform is not an Inform")
    return body
