"""Closing the span of an RPC the CPE answered, the same for provisioning and tasks.

Both handlers send RPCs as ``cwmp.rpc <Method>`` spans; when the CPE's answer arrives
the RPC's duration is measured, a fault is put on the span (code, string, ERROR
status) and the span ends. One function, so a task's RPC and a provisioning RPC read
the same in a trace and in ``cwmp.rpc`` metrics.
"""

from __future__ import annotations

from traceacs.cwmp import messages as m
from traceacs.provisioning.session_trace import SpanRecord
from traceacs.provisioning.telemetry_port import ProvisioningTelemetry
from traceacs.provisioning.trace_recorder import to_ns


def close_rpc(
    telemetry: ProvisioningTelemetry,
    request: m.Message,
    span: SpanRecord,
    sent_at: float,
    response: m.Message,
    now: float,
) -> m.CwmpFault | None:
    """Record the answer to ``request`` on its span and in metrics; the fault, if any."""
    fault = response if isinstance(response, m.CwmpFault) else None
    telemetry.rpc_finished(
        request.method, max(0.0, now - sent_at), fault.fault_code if fault else None
    )
    if fault is not None:
        span.attributes["cwmp.fault_code"] = fault.fault_code
        span.attributes["cwmp.fault_string"] = fault.fault_string
        span.end(to_ns(now), error=f"{request.method} fault {fault.fault_code}")
    else:
        span.end(to_ns(now))
    return fault
