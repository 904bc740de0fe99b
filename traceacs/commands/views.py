"""Devices, attempts and profiles as plain JSON-able dicts, with every secret masked.

The one place that decides what the operator commands may show: ``--json`` prints
these dicts as they are, and the text output is drawn from them, so a secret masked
here is masked everywhere. Connection-request passwords, Wi-Fi passphrases, SIP
passwords and secret-named extra parameters become ``********``; the parameter values
last read from a device (which include Wi-Fi keys) are only counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from traceacs.commands.output import MASK, format_time
from traceacs.provisioning.device import Device, ProvisioningAttempt
from traceacs.telemetry.redaction import is_secret_parameter


def device_view(device: Device) -> dict[str, Any]:
    """Everything stored about a device, secrets masked, times as ISO 8601 UTC."""
    return {
        "serial_number": device.serial_number,
        "oui": device.oui,
        "product_class": device.product_class,
        "mac": device.mac,
        "customer_id": device.customer_id,
        "service_plan": device.service_plan,
        "location_id": device.location_id,
        "state": device.state.value,
        "failed_step": device.failed_step,
        "failure_reason": device.failure_reason,
        "last_inform_at": format_time(device.last_inform_at),
        "last_boot_at": format_time(device.last_boot_at),
        "manufacturer": device.manufacturer,
        "model": device.model,
        "firmware_version": device.firmware_version,
        "data_model_root": device.data_model_root,
        "connection_request_url": device.connection_request_url,
        "connection_request_username": device.connection_request_username,
        "connection_request_password": MASK if device.connection_request_password else None,
        "parameter_key": device.parameter_key,
        "profile_version": device.profile_version,
        "last_values_count": len(device.last_values),
        "created_at": format_time(device.created_at),
        "updated_at": format_time(device.updated_at),
    }


def attempt_view(attempt: ProvisioningAttempt) -> dict[str, Any]:
    """One provisioning attempt; ``details`` holds parameter names and faults, no values."""
    duration = None
    if attempt.ended_at is not None:
        duration = round(attempt.ended_at - attempt.started_at, 3)
    return {
        "id": attempt.id,
        "started_at": format_time(attempt.started_at),
        "ended_at": format_time(attempt.ended_at),
        "duration_s": duration,
        "in_progress": attempt.in_progress,
        "result": attempt.result,
        "failing_step": attempt.failing_step,
        "fault_code": attempt.fault_code,
        "fault_string": attempt.fault_string,
        "details": mask_secrets(attempt.details),
        "trace_id": attempt.trace_id,
    }


def mask_secrets(value: Any, *, hidden: bool = False) -> Any:
    """A copy of a JSON-like value with secret strings replaced by ``********``.

    Masked: every non-empty string under a secret-named key (``passphrase``,
    ``password``, ``Device...KeyPassphrase``; however deeply nested, so ``{"expected":
    ...}`` under a secret parameter's name is hidden too) and the ``value`` of a
    ``{"name": ..., "value": ...}`` pair naming a secret TR-069 parameter (a profile's
    extra parameters). Numbers and booleans stay: fault codes are not secrets.
    """
    if isinstance(value, Mapping):
        name = value.get("name")
        secret_pair = isinstance(name, str) and is_secret_parameter(name)
        return {
            str(key): mask_secrets(
                item,
                hidden=hidden
                or is_secret_parameter(str(key))
                or (secret_pair and str(key) == "value"),
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(item, hidden=hidden) for item in value]
    if hidden and isinstance(value, str) and value:
        return MASK
    return value
