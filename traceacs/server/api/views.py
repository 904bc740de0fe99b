"""Domain values as JSON objects, with every secret masked.

This is the one place that decides what the API shows of a device, an attempt or a
profile. Never shown: connection-request passwords; masked: values of parameters whose
name marks a secret (``...KeyPassphrase``, ``...Password``...), Wi-Fi passphrases, SIP
passwords, and secret-named extra parameters of profiles.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from traceacs.auth.audit import AuditEntry
from traceacs.auth.tokens import ApiToken
from traceacs.provisioning.device import Device, ProvisioningAttempt
from traceacs.telemetry.redaction import is_secret_parameter, redact_text

MASK: Final = "[REDACTED]"


def mask_parameter_values(values: Mapping[str, str]) -> dict[str, str]:
    return {name: MASK if is_secret_parameter(name) else value for name, value in values.items()}


def _mask_any(value: Any, key: str = "") -> Any:
    """Defensive masking of free-form JSON (attempt details)."""
    if key and is_secret_parameter(key) and isinstance(value, str | int | float) and value != "":
        return MASK
    if isinstance(value, Mapping):
        return {str(k): _mask_any(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_any(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def device_view(device: Device, *, detail: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "oui": device.oui,
        "serial_number": device.serial_number,
        "product_class": device.product_class,
        "mac": device.mac,
        "customer_id": device.customer_id,
        "service_plan": device.service_plan,
        "location_id": device.location_id,
        "state": device.state.value,
        "failed_step": device.failed_step,
        "failure_reason": device.failure_reason,
        "manufacturer": device.manufacturer,
        "model": device.model,
        "firmware_version": device.firmware_version,
        "data_model_root": device.data_model_root,
        "profile_version": device.profile_version,
        "last_inform_at": device.last_inform_at,
        "last_boot_at": device.last_boot_at,
        "created_at": device.created_at,
        "updated_at": device.updated_at,
    }
    if detail:
        view["connection_request_url"] = device.connection_request_url
        view["connection_request_username"] = device.connection_request_username
        view["has_connection_request_password"] = bool(device.connection_request_password)
        view["parameter_key"] = device.parameter_key
        view["last_values"] = mask_parameter_values(device.last_values)
    return view


def attempt_view(attempt: ProvisioningAttempt) -> dict[str, Any]:
    duration = None
    if attempt.ended_at is not None:
        duration = attempt.ended_at - attempt.started_at
    return {
        "id": attempt.id,
        "oui": attempt.oui,
        "serial_number": attempt.serial_number,
        "started_at": attempt.started_at,
        "ended_at": attempt.ended_at,
        "duration_s": duration,
        "result": attempt.result,
        "in_progress": attempt.in_progress,
        "failing_step": attempt.failing_step,
        "fault_code": attempt.fault_code,
        "fault_string": None if attempt.fault_string is None else redact_text(attempt.fault_string),
        "details": _mask_any(attempt.details),
        "trace_id": attempt.trace_id,
    }


def token_view(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "created_at": token.created_at,
        "revoked_at": token.revoked_at,
    }


def audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "token_id": entry.token_id,
        "token_name": entry.token_name,
        "method": entry.method,
        "path": entry.path,
        "target": entry.target,
        "status": entry.status,
    }


# -- profile documents ---------------------------------------------------------------

# (path to a list or object, key) of every secret in a profile document
_SECRET_FIELDS: Final = (("wifi", "passphrase"), ("voip_lines", "password"))


def _secret_slots(document: Mapping[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """``(container, key, slot id)`` of every non-empty secret field of ``document``.

    The slot id names the same secret in another version of the document (used to
    put a stored secret back where a client echoed the mask).
    """
    slots: list[tuple[dict[str, Any], str, str]] = []
    wifi = document.get("wifi")
    if isinstance(wifi, dict) and isinstance(wifi.get("passphrase"), str):
        slots.append((wifi, "passphrase", "wifi"))
    lines = document.get("voip_lines")
    if isinstance(lines, list):
        for i, line in enumerate(lines):
            if isinstance(line, dict) and isinstance(line.get("password"), str):
                slots.append((line, "password", f"voip_lines[{i}]"))
    extras = document.get("extra_parameters")
    if isinstance(extras, list):
        for extra in extras:
            name = extra.get("name") if isinstance(extra, dict) else None
            if isinstance(name, str) and is_secret_parameter(name) and "value" in extra:
                slots.append((extra, "value", f"extra:{name}"))
    return slots


def masked_profile(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a stored profile document with every secret replaced by the mask."""
    copied: dict[str, Any] = copy.deepcopy(dict(document))
    for container, key, _slot in _secret_slots(copied):
        if container[key] != "":
            container[key] = MASK
    return copied


def restore_masked_secrets(
    document: Any, stored: Mapping[str, Any] | None
) -> tuple[Any, list[str]]:
    """Put the stored secret back wherever a client sent the mask (a GET-edit-PUT).

    Returns the document and the slots where the mask has no stored secret to stand
    for (the caller refuses those: storing the mask as a passphrase would be silent
    breakage).
    """
    if not isinstance(document, dict):
        return document, []
    restored: dict[str, Any] = copy.deepcopy(document)
    previous = (
        {
            slot: container[key]
            for container, key, slot in _secret_slots(copy.deepcopy(dict(stored)))
        }
        if stored is not None
        else {}
    )
    missing: list[str] = []
    for container, key, slot in _secret_slots(restored):
        if container[key] == MASK:
            if slot in previous and previous[slot] != MASK:
                container[key] = previous[slot]
            else:
                missing.append(slot)
    return restored, missing
