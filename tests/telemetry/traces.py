"""Builders of realistic `SessionTrace`s, one per provisioning result class.

They record what the workflow records (the seed's span names, attributes and error
messages) with fixed ids and times, so tests can compare exported spans to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.telemetry_port import ProvisioningOutcome

T0 = 1_700_000_000_000_000_000  # ns since the epoch
MS = 1_000_000
SERIAL = "SN-TEST-0001"
MODEL = "HG8245Q2"
PLAN = "fiber-500"
SECRET_PASSPHRASE = "correct-horse-battery-staple-41"

RESULTS = ("success", "unknown_device", "no_profile", "config_push_failed", "verification_failed")
FAILED_STEP = {
    "unknown_device": "authenticate",
    "no_profile": "fetch_profile",
    "config_push_failed": "push_config",
    "verification_failed": "verify",
}
ERROR_MESSAGE = {
    "unknown_device": "Device not in inventory",
    "no_profile": "No service profile found",
    "config_push_failed": "SetParameterValues fault: Invalid parameter value",
    "verification_failed": "Config verification failed",
}
STEPS = ("authenticate", "fetch_profile", "push_config", "verify")


@dataclass
class Ids:
    """Deterministic ids; the low 64 bits of trace ``n`` are spread over the id space
    (Fibonacci hashing), so a sampling ratio keeps about that share of traces."""

    n: int
    _next_span: int = 0

    @property
    def trace_id(self) -> str:
        return f"{0xABC:016x}{(self.n * 0x9E3779B97F4A7C15) % (1 << 64):016x}"

    def span(self) -> str:
        self._next_span += 1
        return f"{self.n & 0xFFFFFFFF:08x}{self._next_span:08x}"


def root_span(ids: Ids, event_codes: tuple[str, ...]) -> SpanRecord:
    return SpanRecord(
        name="cpe.inform",
        span_id=ids.span(),
        parent_span_id=None,
        start_ns=T0,
        attributes={
            "cpe.serial_number": SERIAL,
            "cpe.oui": "00259E",
            "cpe.manufacturer": "Huawei",
            "cpe.model": MODEL,
            "cpe.firmware_version": "V5R019C10S115",
            "cpe.event_codes": ",".join(event_codes),
        },
    )


def provisioning_trace(result: str, n: int = 1) -> tuple[SessionTrace, ProvisioningOutcome]:
    """A bootstrap session that ends with ``result`` (and the outcome the workflow reports)."""
    ids = Ids(n)
    root = root_span(ids, ("0 BOOTSTRAP", "1 BOOT"))
    trace = SessionTrace(trace_id=ids.trace_id, spans=[root])
    at = T0 + 5 * MS
    durations: dict[str, float] = {}
    failing = FAILED_STEP.get(result)
    for index, step in enumerate(STEPS):
        span = SpanRecord(f"cpe.provision.{step}", ids.span(), root.span_id, at)
        trace.spans.append(span)
        length = (index + 1) * 10 * MS
        if step == "authenticate" and failing != "authenticate":
            span.attributes.update(
                {"cpe.customer_id": "C-77", "cpe.service_plan": PLAN, "cpe.location_id": "L-9"}
            )
        if step == "fetch_profile" and failing != "fetch_profile":
            span.attributes["cpe.profile.parameter_count"] = 12
        if step == "push_config":
            span.attributes.update(
                {
                    "cpe.config.param_count": 14,
                    "cpe.config.has_voip": True,
                    "cpe.config.has_iptv": False,
                    "cpe.config.wifi_bands": ("2.4GHz", "5GHz"),
                }
            )
            rpc = SpanRecord("cwmp.rpc SetParameterValues", ids.span(), span.span_id, at + MS)
            rpc.attributes["cwmp.rpc.method"] = "SetParameterValues"
            trace.spans.append(rpc)
            if failing == "push_config":
                rpc.attributes["cwmp.fault_code"] = 9007
                span.attributes["cpe.fault_code"] = 9007
                rpc.end(at + length - MS, error="SetParameterValues fault: 9007")
            else:
                rpc.end(at + length - MS)
        if step == "verify":
            rpc = SpanRecord("cwmp.rpc GetParameterValues", ids.span(), span.span_id, at + MS)
            rpc.attributes["cwmp.rpc.method"] = "GetParameterValues"
            rpc.end(at + length - MS)
            trace.spans.append(rpc)
            span.attributes["cpe.verify.mismatches"] = 2 if failing == "verify" else 0
        if step == failing:
            span.end(at + length, error=ERROR_MESSAGE[result])
        else:
            span.end(at + length)
        durations[step] = length / MS
        at += length
        if step == failing:
            break
    root.end(at + 5 * MS, error=None if result == "success" else ERROR_MESSAGE[result])
    trace.changed_something = result != "unknown_device"
    trace.failed = result != "success"
    outcome = ProvisioningOutcome(
        result=result,
        model=MODEL,
        service_plan=PLAN if result != "unknown_device" else "",
        total_duration_ms=(at + 5 * MS - T0) / MS,
        step_durations_ms=durations,
        verify_mismatches=2 if result == "verification_failed" else 0,
        fault_code=9007 if result == "config_push_failed" else None,
    )
    return trace, outcome


def quiet_periodic_trace(n: int) -> SessionTrace:
    """A ``2 PERIODIC`` session that only ran a GetParameterValues drift check."""
    ids = Ids(n)
    root = root_span(ids, ("2 PERIODIC",))
    check = SpanRecord("cwmp.rpc GetParameterValues", ids.span(), root.span_id, T0 + MS)
    check.attributes["cwmp.rpc.method"] = "GetParameterValues"
    check.end(T0 + 3 * MS)
    root.end(T0 + 4 * MS)
    return SessionTrace(trace_id=ids.trace_id, spans=[root, check])
