"""Secrets recorded by mistake never leave the process in spans or metrics."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan

from tests.telemetry.conftest import Harness
from tests.telemetry.traces import SECRET_PASSPHRASE, provisioning_trace
from traceacs.telemetry.prometheus import render_metrics
from traceacs.telemetry.redaction import (
    REDACTED,
    is_secret_parameter,
    redact_attributes,
    redact_text,
)

SIP_PASSWORD = "s1p-Pa55w0rd-9931"
PSK = "psk-0123456789abcdef"


def _everything_exported(span: ReadableSpan) -> str:
    parts = [span.name, span.status.description or ""]
    for key, value in (span.attributes or {}).items():
        parts.append(f"{key}={value!r}")
    return "\n".join(parts)


def test_secrets_are_absent_from_every_exported_span_and_metric(harness: Harness) -> None:
    trace, outcome = provisioning_trace("config_push_failed")
    push = next(s for s in trace.spans if s.name == "cpe.provision.push_config")
    # Mistakes a workflow could make: an unlisted key, a secret in a parameter list,
    # a secret Name=value in a fault message.
    push.attributes["cpe.config.wifi_passphrase"] = SECRET_PASSPHRASE
    push.attributes["cwmp.parameter_names"] = (
        "Device.WiFi.SSID.1.SSID",
        f"Device.WiFi.AccessPoint.1.Security.KeyPassphrase={SECRET_PASSPHRASE}",
        f"Device.Services.VoiceService.1.VoiceProfile.1.Line.1.SIP.AuthPassword={SIP_PASSWORD}",
        f"InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.PreSharedKey={PSK}",
    )
    push.status_message = (
        f"SetParameterValues fault: Device.WiFi.AccessPoint.1.Security.KeyPassphrase="
        f"{SECRET_PASSPHRASE} rejected"
    )
    harness.port.session_finished(trace, outcome)

    dump = "\n".join(_everything_exported(s) for s in harness.finished_spans())
    body, _ = render_metrics(harness.telemetry.prometheus_registry)  # type: ignore[arg-type]
    for secret in (SECRET_PASSPHRASE, SIP_PASSWORD, PSK):
        assert secret not in dump
        assert secret not in body.decode()
    # the harmless parts survive
    assert "Device.WiFi.SSID.1.SSID" in dump
    assert f"KeyPassphrase={REDACTED} rejected" in dump


def test_unknown_attribute_keys_are_dropped() -> None:
    safe = redact_attributes({"cpe.model": "X1", "voip.password": "pw", "debug.config": "{...}"})
    assert safe == {"cpe.model": "X1"}


def test_secret_parameter_names() -> None:
    for name in (
        "Device.WiFi.AccessPoint.1.Security.KeyPassphrase",
        "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.PreSharedKey",
        "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.SIP.AuthPassword",
        "Device.ManagementServer.ConnectionRequestPassword",
        "Device.X_VENDOR.RadiusSecret",
    ):
        assert is_secret_parameter(name), name
    assert not is_secret_parameter("Device.WiFi.SSID.1.SSID")
    assert redact_text("a.SSID=home b.Password=hunter2") == f"a.SSID=home b.Password={REDACTED}"
