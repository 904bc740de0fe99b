"""A finished SessionTrace becomes the seed's spans and metrics, exactly."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    NumberDataPoint,
    Sum,
)
from opentelemetry.trace import SpanKind, StatusCode

from tests.telemetry.conftest import CAPACITY, Harness
from tests.telemetry.traces import (
    ERROR_MESSAGE,
    FAILED_STEP,
    MODEL,
    PLAN,
    RESULTS,
    SERIAL,
    STEPS,
    T0,
    provisioning_trace,
)
from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.telemetry_port import ProvisioningOutcome
from traceacs.telemetry.instruments import MAX_EVENT_CODES, OVERFLOW_EVENT_CODE, Instruments


@pytest.mark.parametrize("result", RESULTS)
def test_spans_keep_recorded_ids_times_and_structure(harness: Harness, result: str) -> None:
    trace, outcome = provisioning_trace(result)
    harness.port.session_started()
    harness.port.session_finished(trace, outcome)

    exported = {f"{s.context.span_id:016x}": s for s in harness.finished_spans()}
    assert set(exported) == {r.span_id for r in trace.spans}
    assert {f"{s.context.trace_id:032x}" for s in exported.values()} == {trace.trace_id}
    for record in trace.spans:
        span = exported[record.span_id]
        assert span.name == record.name
        assert span.start_time == record.start_ns
        assert span.end_time == record.end_ns
        parent = f"{span.parent.span_id:016x}" if span.parent is not None else None
        assert parent == record.parent_span_id
    root = exported[trace.root.span_id]
    assert root.name == "cpe.inform"
    assert root.kind is SpanKind.SERVER
    assert root.resource.attributes["service.name"] == "traceacs-test"


@pytest.mark.parametrize("result", RESULTS)
def test_statuses_and_error_messages_follow_the_seed(harness: Harness, result: str) -> None:
    trace, outcome = provisioning_trace(result)
    harness.port.session_finished(trace, outcome)
    by_name = {s.name: s for s in harness.finished_spans()}

    steps_run = [n for n in by_name if n.startswith("cpe.provision.")]
    expected_steps = (
        STEPS[: STEPS.index(FAILED_STEP[result]) + 1] if result in FAILED_STEP else STEPS
    )
    assert steps_run == [f"cpe.provision.{s}" for s in expected_steps]
    for step in expected_steps:
        status = by_name[f"cpe.provision.{step}"].status
        if step == FAILED_STEP.get(result):
            assert status.status_code is StatusCode.ERROR
            assert status.description == ERROR_MESSAGE[result]
        else:
            assert status.status_code is StatusCode.UNSET
    root_status = by_name["cpe.inform"].status.status_code
    assert root_status is (StatusCode.UNSET if result == "success" else StatusCode.ERROR)
    if result == "config_push_failed":
        rpc = by_name["cwmp.rpc SetParameterValues"]
        assert rpc.status.status_code is StatusCode.ERROR
        assert rpc.attributes is not None
        assert rpc.attributes["cwmp.fault_code"] == 9007


def test_span_attributes_are_the_seeds(harness: Harness) -> None:
    trace, outcome = provisioning_trace("success")
    harness.port.session_finished(trace, outcome)
    by_name = {s.name: dict(s.attributes or {}) for s in harness.finished_spans()}
    assert by_name["cpe.inform"] == {
        "cpe.serial_number": SERIAL,
        "cpe.oui": "00259E",
        "cpe.manufacturer": "Huawei",
        "cpe.model": MODEL,
        "cpe.firmware_version": "V5R019C10S115",
        "cpe.event_codes": "0 BOOTSTRAP,1 BOOT",
    }
    assert by_name["cpe.provision.authenticate"] == {
        "cpe.customer_id": "C-77",
        "cpe.service_plan": PLAN,
        "cpe.location_id": "L-9",
    }
    assert by_name["cpe.provision.fetch_profile"] == {"cpe.profile.parameter_count": 12}
    assert by_name["cpe.provision.push_config"] == {
        "cpe.config.param_count": 14,
        "cpe.config.has_voip": True,
        "cpe.config.has_iptv": False,
        "cpe.config.wifi_bands": ("2.4GHz", "5GHz"),
    }
    assert by_name["cpe.provision.verify"] == {"cpe.verify.mismatches": 0}


@pytest.mark.parametrize("result", RESULTS)
def test_metrics_are_recorded_on_every_result_path(harness: Harness, result: str) -> None:
    trace, outcome = provisioning_trace(result)
    harness.port.session_started()
    harness.port.session_finished(trace, outcome)
    metrics = harness.metric_map()

    count = metrics["cpe.provision.count"]
    assert count.unit == "{attempt}"
    assert [(dict(p.attributes or {}), p.value) for p in count.data.data_points] == [  # type: ignore[union-attr]
        ({"result": result}, 1)
    ]

    duration = metrics["cpe.provision.duration"]
    assert duration.unit == "ms"
    (point,) = duration.data.data_points
    assert isinstance(point, HistogramDataPoint)
    plan = "" if result == "unknown_device" else PLAN
    assert dict(point.attributes or {}) == {
        "cpe.model": MODEL,
        "cpe.service_plan": plan,
        "result": result,
    }
    assert point.sum == pytest.approx(outcome.total_duration_ms)

    steps = metrics["cpe.provision.step_duration"]
    assert steps.unit == "ms"
    recorded = {
        str((p.attributes or {})["step"]): p
        for p in steps.data.data_points
        if isinstance(p, HistogramDataPoint)
    }
    assert set(recorded) == set(outcome.step_durations_ms)
    if result in FAILED_STEP:  # the seed skipped the failing step's duration; we do not
        assert FAILED_STEP[result] in recorded
    for step, p in recorded.items():
        assert dict(p.attributes or {}) == {"step": step, "result": result}
        assert p.sum == pytest.approx(outcome.step_durations_ms[step])

    mismatches = metrics.get("cpe.provision.verify.mismatches")
    if result == "verification_failed":
        assert mismatches is not None
        assert [(dict(p.attributes or {}), p.value) for p in mismatches.data.data_points] == [  # type: ignore[union-attr]
            ({"cpe.model": MODEL}, 2)
        ]
    else:
        assert mismatches is None or all(
            p.value == 0  # type: ignore[union-attr]
            for p in mismatches.data.data_points
        )


def test_histogram_buckets_reach_past_sixty_seconds(harness: Harness) -> None:
    trace, _ = provisioning_trace("success")
    slow = ProvisioningOutcome(
        result="success",
        model=MODEL,
        service_plan=PLAN,
        total_duration_ms=90_000.0,
        step_durations_ms={"push_config": 80_000.0},
    )
    harness.port.session_finished(trace, slow)
    harness.port.rpc_finished("SetParameterValues", 75.0, None)
    for name in ("cpe.provision.duration", "cpe.provision.step_duration", "cwmp.rpc.duration"):
        for p in harness.points(name):
            assert isinstance(p, HistogramDataPoint)
            assert 60_000 in p.explicit_bounds
            assert max(p.explicit_bounds) >= 300_000
    (p,) = harness.points("cpe.provision.duration")
    assert isinstance(p, HistogramDataPoint)
    bounds = list(p.explicit_bounds)
    # 90 s lands in the (60 s, 120 s] bucket, not in an overflow bucket.
    assert p.bucket_counts[bounds.index(120_000)] == 1


def test_histogram_points_carry_exemplars_of_the_trace(harness: Harness) -> None:
    trace, outcome = provisioning_trace("config_push_failed")
    harness.port.session_finished(trace, outcome)
    (p,) = harness.points("cpe.provision.duration")
    assert isinstance(p, HistogramDataPoint)
    assert p.exemplars
    assert {f"{e.trace_id:032x}" for e in p.exemplars} == {trace.trace_id}


def test_serial_numbers_never_become_metric_attributes(harness: Harness) -> None:
    instruments = Instruments(harness.telemetry.meter_provider)
    # Even a caller that passes one directly cannot make it a label (the Views drop it).
    instruments.provision_count.add(1, {"result": "success", "cpe.serial_number": SERIAL})
    for result in RESULTS:
        harness.port.session_finished(*provisioning_trace(result))
    harness.port.rpc_finished("SetParameterValues", 0.2, 9007)
    harness.port.inform_received(["0 BOOTSTRAP"])
    for metric in harness.metric_map().values():
        for p in metric.data.data_points:
            attributes = dict(p.attributes or {})
            assert "cpe.serial_number" not in attributes
            assert SERIAL not in map(str, attributes.values())


def test_active_sessions_and_capacity(harness: Harness) -> None:
    port = harness.port
    port.session_started()
    port.session_started()
    port.session_started()
    port.session_released()  # handed to another ACS process
    trace, outcome = provisioning_trace("success")
    port.session_finished(trace, outcome)
    (active,) = harness.points("cpe.provision.active_sessions")
    assert isinstance(active, NumberDataPoint)
    assert active.value == 1
    assert harness.metric_map()["cpe.provision.active_sessions"].unit == "{session}"
    (capacity,) = harness.points("cpe.provision.capacity")
    assert isinstance(capacity, NumberDataPoint)
    assert capacity.value == CAPACITY


def test_rpc_and_inform_metrics(harness: Harness) -> None:
    port = harness.port
    port.rpc_finished("SetParameterValues", 0.25, None)
    port.rpc_finished("SetParameterValues", 0.5, 9007)
    port.inform_received(["0 BOOTSTRAP", "1 BOOT", "X 00259E VendorThing"])
    port.inform_received(["2 PERIODIC"])
    rpc = {
        tuple(sorted((p.attributes or {}).items())): p
        for p in harness.points("cwmp.rpc.duration")
        if isinstance(p, HistogramDataPoint)
    }
    ok = rpc[(("cwmp.method", "SetParameterValues"),)]
    faulted = rpc[(("cwmp.fault_code", "9007"), ("cwmp.method", "SetParameterValues"))]
    assert ok.sum == pytest.approx(250.0)
    assert faulted.sum == pytest.approx(500.0)
    faults = [(dict(p.attributes or {}), p.value) for p in harness.points("cwmp.cpe.faults")]  # type: ignore[union-attr]
    assert faults == [({"cwmp.method": "SetParameterValues", "cwmp.fault_code": "9007"}, 1)]
    informs = {
        (p.attributes or {})["cwmp.event_code"]: p.value  # type: ignore[union-attr]
        for p in harness.points("cwmp.informs")
    }
    assert informs == {"0 BOOTSTRAP": 1, "1 BOOT": 1, "X": 1, "2 PERIODIC": 1}


def test_session_and_inform_counts_are_cumulative_sums_across_collections(
    harness: Harness,
) -> None:
    """Counted in plain integers, reported as the synchronous instruments were: a
    cumulative Sum (monotonic for informs, not for active sessions) that keeps
    growing from one collection to the next."""
    port = harness.port
    port.session_started()
    port.inform_received(["2 PERIODIC"])
    first = harness.metric_map()
    port.session_started()
    port.inform_received(["2 PERIODIC"])
    second = harness.metric_map()
    for metric, monotonic in (
        (first["cwmp.informs"], True),
        (first["cpe.provision.active_sessions"], False),
    ):
        assert isinstance(metric.data, Sum)
        assert metric.data.is_monotonic is monotonic
        assert metric.data.aggregation_temporality is AggregationTemporality.CUMULATIVE
    assert first["cwmp.informs"].unit == "{event}"
    assert [p.value for p in second["cwmp.informs"].data.data_points] == [2]  # type: ignore[union-attr]
    assert [p.value for p in second["cpe.provision.active_sessions"].data.data_points] == [2]  # type: ignore[union-attr]


def test_made_up_event_codes_cannot_grow_the_inform_counter_without_bound(
    harness: Harness,
) -> None:
    codes = [f"{n} MADE UP" for n in range(MAX_EVENT_CODES + 10)]
    harness.port.inform_received(codes)
    harness.port.inform_received([codes[0]])  # a code already counted keeps its own point
    informs = {
        (p.attributes or {})["cwmp.event_code"]: p.value  # type: ignore[union-attr]
        for p in harness.points("cwmp.informs")
    }
    assert len(informs) == MAX_EVENT_CODES + 1
    assert informs[OVERFLOW_EVENT_CODE] == 10
    assert informs[codes[0]] == 2


def test_export_failure_never_reaches_the_session(harness: Harness) -> None:
    root = SpanRecord("cpe.inform", "zz-not-hex", None, T0, T0 + 1)
    broken = SessionTrace(trace_id="not-a-trace-id", spans=[root], failed=True)
    _, outcome = provisioning_trace("success")
    harness.port.session_finished(broken, outcome)  # must not raise
    assert harness.finished_spans() == []
    assert harness.points("cpe.provision.count")  # the metrics still count it


def test_span_with_missing_parent_is_attached_to_the_root(harness: Harness) -> None:
    trace, outcome = provisioning_trace("success")
    stray = SpanRecord("cwmp.rpc Reboot", "00000000000000ff", "0000000000000abc", T0, T0 + 2)
    trace.spans.append(stray)
    harness.port.session_finished(trace, outcome)
    (exported,) = [s for s in harness.finished_spans() if s.name == "cwmp.rpc Reboot"]
    assert exported.parent is not None
    assert f"{exported.parent.span_id:016x}" == trace.root.span_id


def test_unended_span_is_closed_at_the_end_of_the_trace(harness: Harness) -> None:
    trace, outcome = provisioning_trace("success")
    trace.spans[-1].end_ns = None
    harness.port.session_finished(trace, outcome)
    last = {s.name: s for s in harness.finished_spans()}[trace.spans[-1].name]
    assert last.end_time == trace.root.end_ns
