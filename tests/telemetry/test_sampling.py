"""Quiet periodic sessions are sampled as whole traces; anything else is always kept."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.telemetry.conftest import make_harness
from tests.telemetry.traces import provisioning_trace, quiet_periodic_trace
from traceacs.telemetry.sampling import QuietSessionSampler, is_quiet_periodic


def test_quiet_periodic_sessions_are_dropped_whole_at_ratio_zero() -> None:
    h = make_harness(quiet_ratio=0.0)
    try:
        for n in range(20):
            h.port.session_finished(quiet_periodic_trace(n), None)
        assert h.finished_spans() == []
    finally:
        h.telemetry.shutdown()


def test_quiet_periodic_sessions_are_kept_at_ratio_one() -> None:
    h = make_harness(quiet_ratio=1.0)
    try:
        for n in range(5):
            h.port.session_finished(quiet_periodic_trace(n), None)
        assert len(h.finished_spans()) == 10
    finally:
        h.telemetry.shutdown()


def test_sampling_keeps_or_drops_whole_traces_never_orphans() -> None:
    h = make_harness(quiet_ratio=0.5)
    try:
        traces = [quiet_periodic_trace(n) for n in range(1, 201)]
        for trace in traces:
            h.port.session_finished(trace, None)
        per_trace = Counter(f"{s.context.trace_id:032x}" for s in h.finished_spans())
        assert set(per_trace.values()) == {2}  # root and child together, always
        # the deterministic rule, and roughly the ratio
        sampler = QuietSessionSampler(0.5)
        assert set(per_trace) == {t.trace_id for t in traces if sampler.keep(t)}
        assert 60 <= len(per_trace) <= 140
    finally:
        h.telemetry.shutdown()


@pytest.mark.parametrize("kind", ["changed", "failed", "error_span"])
def test_sessions_that_changed_or_failed_are_always_kept(kind: str) -> None:
    h = make_harness(quiet_ratio=0.0)
    try:
        trace = quiet_periodic_trace(7)
        if kind == "changed":
            trace.changed_something = True
        elif kind == "failed":
            trace.failed = True
        else:
            trace.spans[1].end(trace.spans[1].end_ns or 0, error="GetParameterValues fault: 9002")
        h.port.session_finished(trace, None)
        assert len(h.finished_spans()) == 2
    finally:
        h.telemetry.shutdown()


@pytest.mark.parametrize("result", ["success", "config_push_failed"])
def test_provisioning_sessions_are_never_sampled_away(result: str) -> None:
    trace, outcome = provisioning_trace(result)
    assert not is_quiet_periodic(trace)
    h = make_harness(quiet_ratio=0.0)
    try:
        h.port.session_finished(trace, outcome)
        assert len(h.finished_spans()) == len(trace.spans)
    finally:
        h.telemetry.shutdown()


def test_event_codes_recorded_as_a_tuple_are_understood() -> None:
    trace = quiet_periodic_trace(3)
    trace.root.attributes["cpe.event_codes"] = ("2 PERIODIC",)
    assert is_quiet_periodic(trace)
    trace.root.attributes["cpe.event_codes"] = ("1 BOOT",)
    assert not is_quiet_periodic(trace)


@pytest.mark.parametrize("ratio", [-0.1, 1.5])
def test_ratio_outside_unit_interval_is_refused(ratio: float) -> None:
    with pytest.raises(ValueError, match="ratio"):
        QuietSessionSampler(ratio)
