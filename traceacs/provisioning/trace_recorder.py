"""Records the spans of one session into a `SessionTrace` as plain data.

The workflow calls `start` and `SpanRecord.end` with the ``now`` it was given; ids come
from an injected `IdSource`. Nothing here knows about OpenTelemetry.
"""

from __future__ import annotations

import os
import random

from traceacs.provisioning.session_trace import AttributeValue, SessionTrace, SpanRecord


def to_ns(now: float) -> int:
    """Epoch seconds (the workflow's clock) to epoch nanoseconds (OpenTelemetry's)."""
    return int(now * 1_000_000_000)


class RandomIds:
    """Random W3C-sized ids (never all zeros, which W3C trace context forbids).

    Ids need to be unique, not secret (the OpenTelemetry SDK draws them the same way):
    a generator seeded from the OS once avoids a system call per id, which profiling
    showed at ~1.5 % of the ACS's time (several ids per session).
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random(int.from_bytes(os.urandom(32), "big"))  # noqa: S311

    # ``to_bytes(...).hex()`` spells the same zero-padded lowercase hex as a ``:032x``
    # format, in under half its time (several ids per session).
    def new_trace_id(self) -> str:
        return (self._rng.getrandbits(128) | 1).to_bytes(16, "big").hex()

    def new_span_id(self) -> str:
        return (self._rng.getrandbits(64) | 1).to_bytes(8, "big").hex()


class TraceRecorder:
    """Opens spans of one `SessionTrace`; the first span opened is the root."""

    def __init__(self, trace: SessionTrace, ids: RandomIds | None = None) -> None:
        self.trace = trace
        self._ids = ids or RandomIds()

    def start(
        self,
        name: str,
        now: float,
        *,
        parent: SpanRecord | None = None,
        attributes: dict[str, AttributeValue] | None = None,
    ) -> SpanRecord:
        if parent is None and self.trace.spans:
            parent = self.trace.root
        span = SpanRecord(
            name=name,
            span_id=self._ids.new_span_id(),
            parent_span_id=parent.span_id if parent else None,
            start_ns=to_ns(now),
            attributes=dict(attributes or {}),
        )
        self.trace.spans.append(span)
        return span
