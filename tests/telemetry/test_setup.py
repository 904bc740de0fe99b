"""Provider construction from OTEL_* variables, without touching the global providers."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http
from opentelemetry.sdk.trace.sampling import ParentBased

from traceacs.provisioning.telemetry_port import NoOpProvisioningTelemetry
from traceacs.telemetry.exporter import OtelProvisioningTelemetry
from traceacs.telemetry.setup import (
    TelemetryConfigError,
    _otlp_target,
    _span_exporter,
    build_telemetry,
    parse_key_values,
)


def test_defaults_no_otlp_endpoint_means_no_otlp_exporter() -> None:
    telemetry = build_telemetry({})
    try:
        assert isinstance(telemetry.provisioning, OtelProvisioningTelemetry)
        assert telemetry.exporters == ["metrics: prometheus /metrics"]
        assert telemetry.tracer_provider.resource.attributes["service.name"] == "traceacs"
        assert isinstance(telemetry.tracer_provider.sampler, ParentBased)
        # never installed as the global provider
        assert trace.get_tracer_provider() is not telemetry.tracer_provider
    finally:
        telemetry.shutdown()


def test_sdk_disabled_gives_the_no_op_port() -> None:
    telemetry = build_telemetry({"OTEL_SDK_DISABLED": "true"})
    try:
        assert isinstance(telemetry.provisioning, NoOpProvisioningTelemetry)
        assert telemetry.prometheus_registry is None
    finally:
        telemetry.shutdown()


def test_service_name_and_resource_attributes() -> None:
    telemetry = build_telemetry(
        {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=lab,service.name=x"},
        prometheus=False,
    )
    try:
        attributes = telemetry.tracer_provider.resource.attributes
        assert attributes["deployment.environment"] == "lab"
        assert attributes["service.name"] == "x"
    finally:
        telemetry.shutdown()


def test_endpoint_rules_per_protocol() -> None:
    http = _otlp_target({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "TRACES", "/v1/traces")
    assert http is not None
    assert http.endpoint == "http://c:4318/v1/traces"
    grpc = _otlp_target(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        "TRACES",
        "/v1/traces",
    )
    assert grpc is not None
    assert grpc.endpoint == "http://c:4317"
    assert grpc.insecure
    specific = _otlp_target(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://t:443/custom",
        },
        "TRACES",
        "/v1/traces",
    )
    assert specific is not None
    assert specific.endpoint == "https://t:443/custom"
    assert not specific.insecure
    assert _otlp_target({}, "TRACES", "/v1/traces") is None


def test_exporter_kind_follows_protocol_and_none_switches_it_off() -> None:
    base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    http = _span_exporter(base)
    grpc = _span_exporter({**base, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    try:
        assert isinstance(http, Http)
        assert isinstance(grpc, Grpc)
    finally:
        for exporter in (http, grpc):
            if exporter is not None:
                exporter.shutdown()
    assert _span_exporter({**base, "OTEL_TRACES_EXPORTER": "none"}) is None


@pytest.mark.parametrize(
    "environ",
    [
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        },
        {"OTEL_TRACES_SAMPLER": "jaeger_remote"},
        {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"},
    ],
)
def test_unsupported_settings_are_refused_clearly(environ: dict[str, str]) -> None:
    with pytest.raises(TelemetryConfigError):
        build_telemetry(environ, prometheus=False)


def test_parse_key_values_decodes_percent_encoding() -> None:
    assert parse_key_values("a=1, b=x%2Cy ,junk,c=") == {"a": "1", "b": "x,y", "c": ""}
