"""The /metrics exposition carries the names the rules and dashboard rely on."""

from __future__ import annotations

from tests.telemetry.conftest import make_harness
from tests.telemetry.prometheus_names import emitted_exposition, emitted_series_names
from traceacs.telemetry.prometheus import render_metrics

EXPECTED = {
    "cpe_provision_count_total",
    "cpe_provision_duration_milliseconds_bucket",
    "cpe_provision_duration_milliseconds_sum",
    "cpe_provision_duration_milliseconds_count",
    "cpe_provision_step_duration_milliseconds_bucket",
    "cpe_provision_step_duration_milliseconds_sum",
    "cpe_provision_step_duration_milliseconds_count",
    "cpe_provision_active_sessions",
    "cpe_provision_capacity",
    "cpe_provision_verify_mismatches_total",
    "cwmp_rpc_duration_milliseconds_bucket",
    "cwmp_rpc_duration_milliseconds_sum",
    "cwmp_rpc_duration_milliseconds_count",
    "cwmp_cpe_faults_total",
    "cwmp_informs_total",
}


def test_exporter_emits_the_documented_series_names() -> None:
    assert emitted_series_names() >= EXPECTED


def test_labels_are_prometheus_spelled_attribute_keys() -> None:
    text = emitted_exposition()
    assert 'cpe_provision_count_total{otel_scope_name="cpe.acs"' in text
    assert 'result="config_push_failed"' in text
    assert 'cpe_model="HG8245Q2"' in text
    assert 'step="push_config"' in text
    assert 'le="300000"' in text
    assert 'cwmp_event_code="2 PERIODIC"' in text


def test_openmetrics_is_negotiated_from_the_accept_header() -> None:
    h = make_harness()
    try:
        h.port.inform_received(["1 BOOT"])
        registry = h.telemetry.prometheus_registry
        assert registry is not None
        body, content_type = render_metrics(registry, "application/openmetrics-text")
        assert content_type.startswith("application/openmetrics-text")
        assert body.rstrip().endswith(b"# EOF")
        plain, plain_type = render_metrics(registry, None)
        assert plain_type.startswith("text/plain")
        assert b"cwmp_informs_total" in plain
    finally:
        h.telemetry.shutdown()


def test_two_instances_in_one_process_do_not_share_a_registry() -> None:
    a, b = make_harness(), make_harness()
    try:
        a.port.inform_received(["1 BOOT"])
        assert a.telemetry.prometheus_registry is not b.telemetry.prometheus_registry
        body_b, _ = render_metrics(b.telemetry.prometheus_registry)  # type: ignore[arg-type]
        assert b"cwmp_informs_total{" not in body_b
    finally:
        a.telemetry.shutdown()
        b.telemetry.shutdown()
