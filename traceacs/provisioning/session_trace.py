"""The trace of one CWMP session as plain data, recorded while the session runs.

A CWMP session spans several HTTP requests and may move between ACS processes, so the
workflow does not hold live OpenTelemetry spans. It records `SpanRecord`s (ids, names,
times, attributes, status) into a `SessionTrace` that travels with the session state;
when the session ends, the telemetry package turns the whole record into real spans
and metrics at once. That gives one trace per session whatever process served each
request, and lets a whole periodic session be sampled in or out as one unit, never
leaving orphaned children.

Times are integers in nanoseconds since the epoch (OpenTelemetry's unit), passed in by
the caller; ids are the W3C trace-context sizes (16-byte trace id, 8-byte span id) as
lowercase hex.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

AttributeValue = str | bool | int | float | tuple[str, ...]
SpanStatus = Literal["unset", "ok", "error"]


@dataclass(slots=True)
class SpanRecord:
    """One span of the session's trace; mutable until `end_ns` is set."""

    name: str
    span_id: str
    parent_span_id: str | None
    start_ns: int
    end_ns: int | None = None
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    status: SpanStatus = "unset"
    status_message: str = ""

    def end(self, end_ns: int, *, error: str | None = None) -> None:
        """Close the span; ``error`` marks it ERROR with that (secret-free) message."""
        self.end_ns = end_ns
        if error is not None:
            self.status = "error"
            self.status_message = error

    @property
    def duration_ms(self) -> float:
        if self.end_ns is None:
            return 0.0
        return (self.end_ns - self.start_ns) / 1_000_000


@dataclass(slots=True)
class SessionTrace:
    """All spans of one CWMP session; ``spans[0]`` is the root ``cpe.inform`` span.

    ``changed_something`` is set when the session pushed config, ran a task or failed:
    such a session is always exported; a periodic session that changed nothing may be
    sampled away as a whole.
    """

    trace_id: str
    spans: list[SpanRecord] = field(default_factory=list)
    changed_something: bool = False
    failed: bool = False

    @property
    def root(self) -> SpanRecord:
        return self.spans[0]


class IdSource(Protocol):
    """Where trace and span ids come from (random in production, fixed in tests)."""

    def new_trace_id(self) -> str: ...

    def new_span_id(self) -> str: ...
