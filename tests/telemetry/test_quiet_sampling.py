"""The quiet path asks the sampler before recording a trace (`keeps_quiet`); the general
path records the trace and asks afterwards (`keep`). Both must give one answer for a
quiet periodic session, or the share of quiet sessions traced would depend on the path.
"""

from __future__ import annotations

import random

import pytest

from tests.telemetry.conftest import make_harness
from tests.telemetry.traces import quiet_periodic_trace
from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.trace_recorder import RandomIds
from traceacs.telemetry.sampling import QuietSessionSampler, is_quiet_periodic

RATIOS = (0.0, 0.25, 1.0)
LOW_64 = (1 << 64) - 1


def with_trace_id(trace: SessionTrace, trace_id: str) -> SessionTrace:
    return SessionTrace(trace_id=trace_id, spans=trace.spans)


def quiet_session_like(trace_id: str, codes: str) -> SessionTrace:
    """The shape `QuietSession` records: root with authenticate and fetch_profile."""
    root = SpanRecord("cpe.inform", "1" * 16, None, 0, attributes={"cpe.event_codes": codes})
    auth = SpanRecord("cpe.provision.authenticate", "2" * 16, root.span_id, 0)
    fetch = SpanRecord("cpe.provision.fetch_profile", "3" * 16, root.span_id, 1)
    for span in (auth, fetch, root):
        span.end(2)
    return SessionTrace(trace_id=trace_id, spans=[root, auth, fetch])


def boundary_ids(ratio: float) -> list[str]:
    """Ids whose low 64 bits sit at and around the ratio's bound (and the extremes)."""
    bound = round(ratio * (1 << 64))
    lows = {0, 1, LOW_64, LOW_64 - 1, bound, max(bound - 1, 0), min(bound + 1, LOW_64)}
    return [f"{high:016x}{low:016x}" for low in sorted(lows) for high in (1, 0xFFFF_FFFF_0000_0001)]


@pytest.mark.parametrize("ratio", RATIOS)
def test_keeps_quiet_answers_what_keep_answers_for_quiet_periodic_traces(ratio: float) -> None:
    sampler = QuietSessionSampler(ratio)
    ids = RandomIds(random.Random(8))
    trace_ids = [ids.new_trace_id() for _ in range(2000)] + boundary_ids(ratio)
    templates = [
        quiet_periodic_trace(1),
        quiet_session_like("0" * 32, "2 PERIODIC"),
        quiet_session_like("0" * 32, "2 PERIODIC,4 VALUE CHANGE"),
    ]
    kept = 0
    for trace_id in trace_ids:
        answer = sampler.keeps_quiet(trace_id)
        for template in templates:
            trace = with_trace_id(template, trace_id)
            assert is_quiet_periodic(trace)  # the rule applies to these traces
            assert sampler.keep(trace) is answer, (ratio, trace_id)
        kept += answer
    if ratio == 0.0:
        assert kept == 0
    elif ratio == 1.0:
        assert kept == len(trace_ids)
    else:  # random ids: about the ratio (binomial, 2000 draws: sd ~ 19)
        assert 0.25 * 2000 - 120 <= kept <= 0.25 * 2000 + 120 + len(boundary_ids(ratio))


@pytest.mark.parametrize("ratio", RATIOS)
def test_the_exporter_keeps_exactly_the_quiet_traces_it_says_it_samples(ratio: float) -> None:
    """`samples_quiet_trace` (asked by the quiet path) against what `session_finished`
    (the general path) really exports, on the OpenTelemetry pipeline."""
    h = make_harness(quiet_ratio=ratio)
    try:
        ids = RandomIds(random.Random(9))
        promised: set[str] = set()
        for _ in range(300):
            trace_id = ids.new_trace_id()
            if h.port.samples_quiet_trace(trace_id):
                promised.add(trace_id)
            h.port.session_finished(quiet_session_like(trace_id, "2 PERIODIC"), None)
        exported = {f"{s.context.trace_id:032x}" for s in h.finished_spans()}
        assert exported == promised
        if ratio == 1.0:
            assert len(promised) == 300
        elif ratio == 0.0:
            assert promised == set()
        else:
            assert 0 < len(promised) < 300
    finally:
        h.telemetry.shutdown()


def test_a_session_that_is_not_quiet_is_kept_whatever_keeps_quiet_says() -> None:
    """`keeps_quiet` is only the quiet rule: `keep` still keeps the rest."""
    sampler = QuietSessionSampler(0.0)
    trace = quiet_session_like(RandomIds(random.Random(3)).new_trace_id(), "1 BOOT")
    assert not sampler.keeps_quiet(trace.trace_id)
    assert sampler.keep(trace)
