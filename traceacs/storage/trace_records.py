"""Finished provisioning traces as plain data: the embedded trace store's rows.

The telemetry package turns OpenTelemetry spans into `StoredSpan`s (after redaction);
the store keeps them and one `TraceSummary` per trace, which is what "the latest trace
of a serial number" is looked up by. `summarize` derives that summary from the spans
alone (the root ``cpe.inform`` span and the failing ``cpe.provision.*`` step), so the
store can re-derive it whenever more spans of a trace arrive, in whatever order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

JsonValue = str | bool | int | float | list[str] | list[int] | list[float] | list[bool]

ROOT_SPAN: Final = "cpe.inform"
STEP_PREFIX: Final = "cpe.provision."
ERROR: Final = "error"


@dataclass(frozen=True, slots=True)
class StoredSpan:
    """One finished span; times in ns since the epoch, ids as lowercase hex."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status: str = "unset"  # "unset" | "ok" | "error"
    status_message: str = ""
    attributes: Mapping[str, JsonValue] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        return max(self.end_ns - self.start_ns, 0) / 1_000_000


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """What a trace lookup needs without reading the spans.

    ``serial_number``/``oui`` are empty until the root span is stored. ``failing_step``
    is the step name without its prefix (``verify``), ``status`` the root's status.
    """

    trace_id: str
    serial_number: str
    oui: str
    started_at: float  # seconds since the epoch
    duration_ms: float
    result: str
    failing_step: str | None
    status: str
    reason: str  # the failing step's status message, else the root's
    span_count: int


@dataclass(frozen=True, slots=True)
class StoredTrace:
    summary: TraceSummary
    spans: tuple[StoredSpan, ...]


def root_of(spans: Sequence[StoredSpan]) -> StoredSpan | None:
    """The ``cpe.inform`` root, else the earliest span whose parent is not stored.

    A root may have a remote parent (a ``traceparent`` from elsewhere), so "root" means
    "parent not in this trace", not "no parent".
    """
    ids = {s.span_id for s in spans}
    tops = [s for s in spans if s.parent_span_id is None or s.parent_span_id not in ids]
    for span in tops:
        if span.name == ROOT_SPAN:
            return span
    return min(tops, key=lambda s: s.start_ns, default=None)


def failing_step_of(spans: Sequence[StoredSpan]) -> StoredSpan | None:
    """The earliest ``cpe.provision.*`` span with ERROR status (the step that failed)."""
    failed = [s for s in spans if s.name.startswith(STEP_PREFIX) and s.status == ERROR]
    return min(failed, key=lambda s: s.start_ns, default=None)


def summarize(trace_id: str, spans: Sequence[StoredSpan]) -> TraceSummary:
    """The summary row of a trace from the spans stored so far (at least one)."""
    if not spans:
        raise ValueError("a trace summary needs at least one span")
    root = root_of(spans)
    failing = failing_step_of(spans)
    start_ns = min(s.start_ns for s in spans)
    end_ns = max(s.end_ns for s in spans)
    if root is not None:
        start_ns, end_ns = root.start_ns, max(root.end_ns, root.start_ns)
    attributes: Mapping[str, JsonValue] = root.attributes if root is not None else {}
    result = attributes.get("cpe.provision.result")
    if not isinstance(result, str) or not result:
        failed = failing is not None or (root is not None and root.status == ERROR)
        result = "failed" if failed else "success"
    return TraceSummary(
        trace_id=trace_id,
        serial_number=str(attributes.get("cpe.serial_number", "")),
        oui=str(attributes.get("cpe.oui", "")).upper(),
        started_at=start_ns / 1e9,
        duration_ms=(end_ns - start_ns) / 1_000_000,
        result=result,
        failing_step=failing.name[len(STEP_PREFIX) :] if failing is not None else None,
        status=root.status if root is not None else "unset",
        reason=(
            failing.status_message
            if failing is not None
            else root.status_message
            if root is not None
            else ""
        ),
        span_count=len(spans),
    )
