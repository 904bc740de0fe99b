"""Whole-trace sampling of quiet periodic sessions, decided at the source.

Most CWMP traffic is ``2 PERIODIC`` Informs that change nothing; tracing every one
buries the provisioning traces that matter. The seed dropped them with a span filter in
the Collector (never wired into a pipeline, and one that would have orphaned the child
spans). Here the decision is made once per *session*, on the finished `SessionTrace`,
so a session is exported entirely or not at all. Anything that changed or failed is
always kept. The decision is a pure function of the trace id, so every ACS process (and
a replay of the same trace) decides the same way.

It runs at the end of every session, so it is written for the common case: the trace
id is looked at first (a session within the ratio is kept whatever it did), and the
root's event codes, recorded as the comma-joined text of the Inform's, are matched as
text without splitting them when that text is exactly ``2 PERIODIC`` or does not
contain it at all.
"""

from __future__ import annotations

from traceacs.provisioning.session_trace import SessionTrace

PERIODIC_EVENT = "2 PERIODIC"
_ID_SPACE = 1 << 64
_LOW_BITS = _ID_SPACE - 1


def event_codes_of(trace: SessionTrace) -> tuple[str, ...]:
    """The root span's ``cpe.event_codes`` (recorded as a tuple or a comma-joined string)."""
    if not trace.spans:
        return ()
    value = trace.root.attributes.get("cpe.event_codes", ())
    if isinstance(value, tuple):
        return value
    if isinstance(value, str):
        return tuple(code.strip() for code in value.split(",") if code.strip())
    return ()


def _has_periodic_event(value: object) -> bool:
    """``PERIODIC_EVENT in event_codes_of(...)`` for a root's ``cpe.event_codes``."""
    if isinstance(value, str):
        if value == PERIODIC_EVENT:  # the quiet periodic session's root: no split
            return True
        if PERIODIC_EVENT not in value:  # no code can be it
            return False
        return any(code.strip() == PERIODIC_EVENT for code in value.split(","))
    return isinstance(value, tuple) and PERIODIC_EVENT in value


def is_quiet_periodic(trace: SessionTrace) -> bool:
    """A periodic session that changed nothing and failed nothing: sampling candidate."""
    if trace.changed_something or trace.failed:
        return False
    spans = trace.spans
    if not spans:
        return False
    for span in spans:
        if span.status == "error":
            return False
    return _has_periodic_event(spans[0].attributes.get("cpe.event_codes"))


class QuietSessionSampler:
    """Keeps every interesting session and ``ratio`` of the quiet periodic ones."""

    def __init__(self, ratio: float = 1.0) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"sample ratio must be within [0, 1], got {ratio}")
        self.ratio = ratio
        self._bound = round(ratio * _ID_SPACE)

    def keep(self, trace: SessionTrace) -> bool:
        # Checked first: it is cheaper than `is_quiet_periodic`, and a session within
        # the ratio is kept whether quiet or not.
        if self.keeps_quiet(trace.trace_id):
            return True
        return not is_quiet_periodic(trace)

    def keeps_quiet(self, trace_id: str) -> bool:
        """Whether a quiet periodic session with this trace id is kept (what `keep`
        answers for its trace), asked before the trace is recorded. Same rule as the
        SDK's TraceIdRatioBased: the low 64 bits of the trace id."""
        return (int(trace_id, 16) & _LOW_BITS) < self._bound
