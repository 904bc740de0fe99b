"""``/api/devices/{serial}/trace`` and ``/api/traces/{trace_id}``: provisioning traces.

The answer a support engineer needs, from the embedded trace store: every span placed
on the trace's time axis (offset and duration from the first span, depth in the tree,
attributes, status), and the failing step pulled out with its fault code, fault string
and the names of the parameters that read back wrong, so that a client (the console, an
OSS) does not have to know which span carries which attribute.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aiohttp import web

from traceacs.server.api import params
from traceacs.server.api.context import TraceReader, context_of
from traceacs.server.api.errors import ApiError, bad_request, not_found
from traceacs.storage.trace_records import (
    STEP_PREFIX,
    JsonValue,
    StoredSpan,
    StoredTrace,
    failing_step_of,
)
from traceacs.telemetry.redaction import redact_text
from traceacs.telemetry.waterfall import ordered_rows

TRACE_ID: Final = re.compile(r"^[0-9a-fA-F]{32}$")
MISMATCHED: Final = "cpe.verify.mismatched_parameters"
FAULT_CODE_KEYS: Final = ("cpe.fault_code", "cwmp.fault_code")
FAULT_STRING: Final = "cwmp.fault_string"


def _reader(request: web.Request) -> TraceReader:
    reader = context_of(request).traces
    if reader is None:
        raise ApiError(503, "this ACS keeps no traces (the embedded trace store is off)")
    return reader


def _attribute(value: JsonValue) -> JsonValue:
    """Stored attributes are redacted on the way in; masked again on the way out."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact_text(v) if isinstance(v, str) else v for v in value]  # type: ignore[return-value]
    return value


def _fault_code(spans: Sequence[StoredSpan]) -> int | None:
    for span in spans:
        for key in FAULT_CODE_KEYS:
            value = span.attributes.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.isdigit():
                return int(value)
    return None


def _fault_string(spans: Sequence[StoredSpan]) -> str | None:
    for span in spans:
        value = span.attributes.get(FAULT_STRING)
        if isinstance(value, str) and value:
            return redact_text(value)
    return None


def _mismatched(spans: Sequence[StoredSpan]) -> list[str]:
    for span in spans:
        value = span.attributes.get(MISMATCHED)
        if isinstance(value, list):
            return [redact_text(str(v)) for v in value]
        if isinstance(value, str) and value:
            return [redact_text(value)]
    return []


def failure_view(trace: StoredTrace) -> dict[str, Any] | None:
    """The failing step, its reason, fault and mismatches; None when nothing failed."""
    failing = failing_step_of(trace.spans)
    if failing is None:
        if trace.summary.status != "error":
            return None
        return {
            "step": trace.summary.failing_step,
            "span_id": None,
            "reason": redact_text(trace.summary.reason),
            "fault_code": _fault_code(trace.spans),
            "fault_string": _fault_string(trace.spans),
            "mismatched_parameters": _mismatched(trace.spans),
        }
    # the step span first, then its RPC children (where CWMP faults are recorded)
    related = [failing, *(s for s in trace.spans if s.parent_span_id == failing.span_id)]
    return {
        "step": failing.name.removeprefix(STEP_PREFIX),
        "span_id": failing.span_id,
        "reason": redact_text(failing.status_message),
        "fault_code": _fault_code(related),
        "fault_string": _fault_string(related),
        "mismatched_parameters": _mismatched(related),
    }


def trace_view(trace: StoredTrace) -> dict[str, Any]:
    """The JSON of a trace (pure; the console and the OpenAPI schema agree on it)."""
    summary = trace.summary
    failure = failure_view(trace)
    failing_id = failure["span_id"] if failure else None
    rows = ordered_rows(trace)
    spans: list[dict[str, Any]] = [
        {
            "name": row.span.name,
            "span_id": row.span.span_id,
            "parent_span_id": row.span.parent_span_id,
            "depth": row.depth,
            "offset_ms": round(row.offset_ms, 3),
            "duration_ms": round(row.span.duration_ms, 3),
            "status": row.span.status,
            "status_message": redact_text(row.span.status_message),
            "failing": row.span.span_id == failing_id,
            "attributes": _attributes(row.span.attributes),
        }
        for row in rows
    ]
    total = max(
        [summary.duration_ms, *(r.offset_ms + r.span.duration_ms for r in rows)], default=0.0
    )
    return {
        "trace_id": summary.trace_id,
        "serial_number": summary.serial_number,
        "oui": summary.oui,
        "started_at": summary.started_at,
        "duration_ms": round(summary.duration_ms, 3),
        "total_ms": round(total, 3),
        "result": summary.result,
        "failing_step": summary.failing_step,
        "status": summary.status,
        "reason": redact_text(summary.reason),
        "span_count": summary.span_count,
        "failure": failure,
        "spans": spans,
    }


def _attributes(attributes: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    return {key: _attribute(value) for key, value in sorted(attributes.items())}


async def device_trace(request: web.Request) -> web.Response:
    """The latest trace of a serial number (devices refused at Inform have traces too)."""
    serial = params.path(request, "serial")
    oui = params.text(request, "oui")
    reader = _reader(request)
    if oui is None and len(await reader.ouis_of(serial, limit=2)) > 1:
        raise ApiError(409, f"serial number {serial!r} is used by several OUIs: add ?oui=")
    trace = await reader.latest(serial, oui)
    if trace is None:
        raise not_found(f"no trace recorded for serial number {serial!r}")
    return web.json_response(trace_view(trace))


async def get_trace(request: web.Request) -> web.Response:
    raw = request.match_info["trace_id"]
    if not TRACE_ID.match(raw):
        raise bad_request("a trace id is 32 hexadecimal digits")
    trace = await _reader(request).get(raw.lower())
    if trace is None:
        raise not_found(f"no trace {raw.lower()} in the embedded store")
    return web.json_response(trace_view(trace))
