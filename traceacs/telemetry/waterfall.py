"""A stored trace as a terminal waterfall, and as JSON, for ``traceacs trace``.

The point is the seed's promise: a support engineer looks up a serial number and sees
which step failed and why, without a tracing backend. So the output is one line per
span (indented by depth, offset and duration, a bar on a shared time axis, the seed's
key attributes), the failing step marked (and red on a terminal), its status message
under it, and the trace id to paste into the tracing backend for the full picture.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from traceacs.storage.trace_records import (
    ERROR,
    STEP_PREFIX,
    JsonValue,
    StoredSpan,
    StoredTrace,
    failing_step_of,
    root_of,
)

BAR_WIDTH: Final = 32
NAME_WIDTH_MAX: Final = 44

KEY_ATTRIBUTES: Final[tuple[tuple[str, str], ...]] = (
    ("cpe.model", "model"),
    ("cpe.firmware_version", "firmware"),
    ("cpe.event_codes", "events"),
    ("cpe.customer_id", "customer"),
    ("cpe.service_plan", "plan"),
    ("cpe.location_id", "location"),
    ("cpe.profile.parameter_count", "profile_params"),
    ("cpe.config.param_count", "params"),
    ("cpe.config.has_voip", "voip"),
    ("cpe.config.has_iptv", "iptv"),
    ("cpe.config.wifi_bands", "wifi"),
    ("cpe.firmware.phase", "phase"),
    ("cpe.firmware.current_version", "running"),
    ("cpe.firmware.target_version", "target"),
    ("cpe.firmware.file", "file"),
    ("cpe.firmware.transfer_seconds", "transfer_s"),
    ("cpe.fault_code", "fault"),
    ("cwmp.fault_code", "fault"),
    ("cwmp.fault_string", "fault_string"),
    ("cpe.verify.mismatches", "mismatches"),
    ("cpe.verify.mismatched_parameters", "mismatched"),
)
"""Attributes worth a glance, in display order, with their short labels."""

_RED: Final = "\x1b[1;31m"
_YELLOW: Final = "\x1b[33m"
_DIM: Final = "\x1b[2m"
_RESET: Final = "\x1b[0m"


@dataclass(frozen=True, slots=True)
class Style:
    """How to draw: ANSI colour (terminals only) and Unicode or plain-ASCII glyphs."""

    color: bool = False
    unicode: bool = True

    @property
    def full(self) -> str:
        return "█" if self.unicode else "#"

    @property
    def failed_marker(self) -> str:
        return "✗" if self.unicode else "X"

    @property
    def error_marker(self) -> str:
        return "!"

    def paint(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text


@dataclass(frozen=True, slots=True)
class Row:
    """A span placed in the waterfall."""

    span: StoredSpan
    depth: int
    offset_ms: float


def ordered_rows(trace: StoredTrace) -> list[Row]:
    """Spans depth-first from the root, children by start time.

    Spans whose parent is not stored hang under the root (as the exporter does).
    """
    spans = trace.spans
    if not spans:
        return []
    root = root_of(spans)
    assert root is not None  # non-empty spans always have one
    ids = {s.span_id for s in spans}
    children: dict[str, list[StoredSpan]] = {}
    for span in spans:
        if span is root:
            continue
        parent = span.parent_span_id if span.parent_span_id in ids else root.span_id
        children.setdefault(parent or root.span_id, []).append(span)
    origin = min(s.start_ns for s in spans)
    rows: list[Row] = []
    stack: list[tuple[StoredSpan, int]] = [(root, 0)]
    seen: set[str] = set()
    while stack:
        span, depth = stack.pop()
        if span.span_id in seen:  # a cycle in bad data: show each span once
            continue
        seen.add(span.span_id)
        rows.append(Row(span, depth, (span.start_ns - origin) / 1_000_000))
        kids = sorted(children.get(span.span_id, ()), key=lambda s: (s.start_ns, s.span_id))
        stack.extend((kid, depth + 1) for kid in reversed(kids))
    return rows


def format_duration(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.1f} ms"


def format_value(value: JsonValue) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def key_attributes(span: StoredSpan) -> str:
    parts = [
        f"{label}={format_value(span.attributes[key])}"
        for key, label in KEY_ATTRIBUTES
        if key in span.attributes
    ]
    return " ".join(parts)


def _bar(row: Row, total_ms: float, style: Style) -> str:
    if total_ms <= 0:
        return style.full * BAR_WIDTH
    start = min(int(row.offset_ms / total_ms * BAR_WIDTH), BAR_WIDTH - 1)
    length = max(1, round(row.span.duration_ms / total_ms * BAR_WIDTH))
    length = min(length, BAR_WIDTH - start)
    return " " * start + style.full * length + " " * (BAR_WIDTH - start - length)


def _started(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def render_waterfall(trace: StoredTrace, style: Style | None = None) -> str:
    """The whole trace as text lines (newline-terminated)."""
    style = style or Style()
    summary = trace.summary
    rows = ordered_rows(trace)
    failing = failing_step_of(trace.spans)
    total_ms = max(
        [summary.duration_ms, *(r.offset_ms + r.span.duration_ms for r in rows)], default=0.0
    )
    who = summary.serial_number or "(unknown device)"
    if summary.oui:
        who += f" (OUI {summary.oui})"
    outcome = f"result: {summary.result}"
    if summary.failing_step:
        outcome += f", failed at {summary.failing_step}"
    lines = [
        f"Provisioning trace of {who}",
        f"started {_started(summary.started_at)}, took {format_duration(summary.duration_ms)}, "
        + (style.paint(outcome, _RED) if failing is not None else outcome),
        "",
    ]
    name_width = min(
        max((len(r.span.name) + 2 * r.depth for r in rows), default=10), NAME_WIDTH_MAX
    )
    header = f"  {'span':<{name_width}} {'offset':>10} {'duration':>10}  "
    axis = f"0{format_duration(total_ms):>{BAR_WIDTH - 1}}"
    lines.append(style.paint(header + f"|{axis}|", _DIM))
    for row in rows:
        span = row.span
        is_failing = failing is not None and span.span_id == failing.span_id
        marker = (
            style.failed_marker
            if is_failing
            else style.error_marker
            if span.status == ERROR
            else " "
        )
        name = ("  " * row.depth + span.name)[:name_width]
        line = (
            f"{marker} {name:<{name_width}} {'+' + format_duration(row.offset_ms):>10} "
            f"{format_duration(span.duration_ms):>10}  |{_bar(row, total_ms, style)}|"
        )
        attributes = key_attributes(span)
        if attributes:
            line += "  " + attributes
        if is_failing:
            line = style.paint(line, _RED)
        elif span.status == ERROR:
            line = style.paint(line, _YELLOW)
        lines.append(line)
        if span.status == ERROR and span.status_message:
            indent = " " * (2 + 2 * row.depth + 2)
            message = (
                f"{indent}└ {span.status_message}"
                if style.unicode
                else (f"{indent}- {span.status_message}")
            )
            lines.append(style.paint(message, _RED if is_failing else _YELLOW))
    lines.append("")
    if failing is not None:
        step = failing.name.removeprefix(STEP_PREFIX)
        reason = failing.status_message or "(no message recorded)"
        lines.append(style.paint(f"Failed step: {step}: {reason}", _RED))
    elif summary.status == ERROR:
        lines.append(style.paint(f"Failed: {summary.reason or summary.result}", _RED))
    lines.append(f"Trace id: {summary.trace_id}  (look it up in your tracing backend)")
    return "\n".join(lines) + "\n"


def trace_to_json(trace: StoredTrace) -> dict[str, Any]:
    """A JSON-ready description of the trace (for ``traceacs trace --json``)."""
    summary = trace.summary
    return {
        "trace_id": summary.trace_id,
        "serial_number": summary.serial_number,
        "oui": summary.oui,
        "started_at": dt.datetime.fromtimestamp(summary.started_at, tz=dt.UTC).isoformat(),
        "duration_ms": round(summary.duration_ms, 3),
        "result": summary.result,
        "failing_step": summary.failing_step,
        "status": summary.status,
        "reason": summary.reason,
        "spans": [_span_json(row) for row in ordered_rows(trace)],
    }


def _span_json(row: Row) -> dict[str, Any]:
    span = row.span
    return {
        "name": span.name,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "depth": row.depth,
        "offset_ms": round(row.offset_ms, 3),
        "duration_ms": round(span.duration_ms, 3),
        "status": span.status,
        "status_message": span.status_message,
        "attributes": dict(span.attributes),
    }


def render_many(traces: Sequence[StoredTrace], style: Style | None = None) -> str:
    """Several traces, oldest first, separated by a blank line."""
    return "\n".join(render_waterfall(t, style) for t in traces)
