"""Connection requests as spans, and the link from the session each one causes.

A connection request is the ACS's own act, so it gets a trace of its own: one
``cpe.connection_request`` span (outcome, HTTP status, attempts; the device's serial
and OUI, never the credentials or the URL's userinfo), exported through the telemetry
port like a session's trace. `ConnectionRequestTraces` remembers, per device, the last
request's trace and span id for a while; when that device's next session arrives with
"6 CONNECTION REQUEST", the composite handler takes the reference and puts it on the
session's root span as ``cpe.connection_request.trace_id`` / ``.span_id``, which the
telemetry exporter turns into a span link (and the embedded trace store keeps as
attributes, so the console can follow it).

The memory is per ACS process: a session that lands on another process than the one
that sent the request is not linked (it still carries the event code).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.trace_recorder import RandomIds, TraceRecorder, to_ns
from traceacs.server.connection_request import ConnectionRequestResult

SPAN_NAME: Final = "cpe.connection_request"
LINK_TRACE_ID: Final = "cpe.connection_request.trace_id"
LINK_SPAN_ID: Final = "cpe.connection_request.span_id"
LINK_DELAY_MS: Final = "cpe.connection_request.to_inform_ms"
CONNECTION_REQUEST_EVENT: Final = "6 CONNECTION REQUEST"


@dataclass(frozen=True, slots=True)
class WakeReference:
    trace_id: str
    span_id: str
    sent_at: float


class ConnectionRequestTraces:
    """Records connection-request spans and hands their reference to the next session."""

    def __init__(
        self, *, ids: RandomIds | None = None, ttl: float = 300.0, max_devices: int = 100_000
    ) -> None:
        self._ids = ids or RandomIds()
        self._ttl = ttl
        self._max = max_devices
        self._pending: OrderedDict[tuple[str, str], WakeReference] = OrderedDict()

    def record(
        self,
        oui: str,
        serial_number: str,
        result: ConnectionRequestResult,
        started_at: float,
        ended_at: float,
    ) -> SessionTrace:
        """The request's one-span trace (to export); remembered for the next session."""
        trace = SessionTrace(trace_id=self._ids.new_trace_id(), changed_something=True)
        attributes: dict[str, str | bool | int | float | tuple[str, ...]] = {
            "cpe.serial_number": serial_number,
            "cpe.oui": oui,
            "cpe.connection_request.outcome": result.outcome.value,
            "cpe.connection_request.attempts": result.attempts,
            "cpe.connection_request.answered": result.answered,
        }
        if result.status is not None:
            attributes["http.response.status_code"] = result.status
        span = TraceRecorder(trace, self._ids).start(SPAN_NAME, started_at, attributes=attributes)
        span.end(to_ns(ended_at), error=None if result.ok else _error(result))
        if result.ok:
            key = (oui, serial_number)
            self._pending.pop(key, None)
            self._pending[key] = WakeReference(trace.trace_id, span.span_id, started_at)
            while len(self._pending) > self._max:
                self._pending.popitem(last=False)
        else:
            trace.failed = True
        return trace

    def take(self, oui: str, serial_number: str, now: float) -> WakeReference | None:
        """The device's last successful request, if recent (and forget it)."""
        reference = self._pending.pop((oui, serial_number), None)
        if reference is None or now - reference.sent_at > self._ttl:
            return None
        return reference

    @staticmethod
    def link(root: SpanRecord, reference: WakeReference, now: float) -> None:
        """Mark ``root`` (a session's ``cpe.inform``) as caused by ``reference``."""
        root.attributes[LINK_TRACE_ID] = reference.trace_id
        root.attributes[LINK_SPAN_ID] = reference.span_id
        root.attributes[LINK_DELAY_MS] = max(0.0, (now - reference.sent_at) * 1000)


def _error(result: ConnectionRequestResult) -> str:
    return f"connection request {result.outcome.value}" + (
        f" (HTTP {result.status})" if result.status is not None else ""
    )
