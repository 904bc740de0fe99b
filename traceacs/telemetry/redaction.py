"""Keeps secrets out of every exported span, by construction rather than by care.

Two guards, both applied at export time to whatever the workflow recorded:

* an **allow-list** of span attribute keys: a key not listed here is dropped, so a new
  attribute carrying, say, a whole config dict cannot leak by accident;
* a **deny pattern** on TR-069 parameter names: attributes whose values *are*
  parameter names (or ``Name=value`` pairs) lose every entry naming a password,
  passphrase, pre-shared key or secret, and status messages have such ``Name=value``
  pairs masked.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from traceacs.provisioning.session_trace import AttributeValue

ALLOWED_SPAN_ATTRIBUTES: frozenset[str] = frozenset(
    {
        # root span cpe.inform (the seed's device attributes)
        "cpe.serial_number",
        "cpe.oui",
        "cpe.manufacturer",
        "cpe.model",
        "cpe.firmware_version",
        "cpe.event_codes",
        "cpe.product_class",
        # step spans (the seed's attributes)
        "cpe.customer_id",
        "cpe.service_plan",
        "cpe.location_id",
        "cpe.profile.parameter_count",
        "cpe.config.param_count",
        "cpe.config.has_voip",
        "cpe.config.has_iptv",
        "cpe.config.wifi_bands",
        "cpe.fault_code",
        "cpe.verify.mismatches",
        "cpe.verify.mismatched_parameters",
        "cpe.provision.result",
        # cpe.provision.firmware (file names and versions only, never the URL or token)
        "cpe.firmware.current_version",
        "cpe.firmware.target_version",
        "cpe.firmware.file",
        "cpe.firmware.file_size",
        "cpe.firmware.command_key",
        "cpe.firmware.phase",
        "cpe.firmware.transfer_seconds",
        "cpe.firmware.started_trace_id",
        # cwmp.rpc <Method> spans
        "cwmp.rpc.method",
        "cwmp.fault_code",
        "cwmp.fault_string",
        "cwmp.parameter_names",
        "cwmp.session.id",
        "cwmp.acs.instance",
        # cpe.task.<name> spans
        "cpe.task.id",
        "cpe.task.name",
        "cpe.task.attempt",
        "cpe.task.status",
        "cpe.task.phase",
        "cpe.task.started_trace_id",
        "cpe.task.next_attempt_in_s",
        "cpe.task.bulk_id",
        # cpe.connection_request spans, and the session roots they cause (the link)
        "cpe.connection_request.outcome",
        "cpe.connection_request.attempts",
        "cpe.connection_request.answered",
        "http.response.status_code",
        "cpe.connection_request.trace_id",
        "cpe.connection_request.span_id",
        "cpe.connection_request.to_inform_ms",
        # cpe.preset.apply spans
        "cpe.preset.name",
        "cpe.preset.revision",
        "cpe.preset.weight",
        "cpe.preset.parameter_count",
        "cpe.preset.overridden_count",
        "cpe.preset.task_ids",
    }
)
"""Every span attribute key the workflow may set; anything else is dropped."""

PARAMETER_BEARING_ATTRIBUTES: frozenset[str] = frozenset(
    {"cpe.verify.mismatched_parameters", "cwmp.parameter_names"}
)
"""Attributes whose values are TR-069 parameter names or ``Name=value`` pairs."""

SECRET_NAME_PATTERN = re.compile(
    r"password|passphrase|keypassphrase|presharedkey|secret|wepkey|psk", re.IGNORECASE
)
"""Parameter names whose values are secrets (``...KeyPassphrase``, ``...PreSharedKey``,
``...Password``, ``...Secret``, ...)."""


def names_a_secret(text: str) -> bool:
    """``SECRET_NAME_PATTERN.search(text) is not None``, without the regex for ASCII
    text: its alternatives as substrings of the lower-cased text (``keypassphrase``
    contains ``passphrase``), which for ASCII is exactly the pattern's case-blindness
    (Unicode case folding, e.g. ``ſ`` matching ``s``, is left to the pattern). A
    case-blind search costs ~1.4 µs per text, this ~0.3, and serial numbers and
    session ids are new texts in every session."""
    if not text.isascii():
        return SECRET_NAME_PATTERN.search(text) is not None
    lowered = text.lower()
    return (
        "password" in lowered
        or "passphrase" in lowered
        or "presharedkey" in lowered
        or "secret" in lowered
        or "wepkey" in lowered
        or "psk" in lowered
    )


_NAME_VALUE = re.compile(r"([A-Za-z0-9_.{}]+)\s*=\s*(\S+)")

REDACTED = "[REDACTED]"


@functools.lru_cache(maxsize=8192)
def is_secret_parameter(name: str) -> bool:
    """True when a parameter of that name carries a secret value.

    Cached: every session asks about the same few hundred names of its data model
    (each parameter written, read back and saved), and the case-blind search of the
    pattern costs microseconds per name.
    """
    return names_a_secret(name)


_PLAIN_TEXTS: set[str] = set()
_MAX_PLAIN_TEXTS = 8192
_MAX_PLAIN_TEXT_LENGTH = 256
"""Short texts known to name no secret (models, plans, serial numbers, event codes: the
same few thousand come back session after session); a set lookup instead of the
case-blind search. Only texts returned unchanged are kept, so it never holds a secret
that `redact_text` would have masked. Cleared when full."""


def redact_text(text: str) -> str:
    """Mask the value of every ``Name=value`` pair whose name is a secret parameter."""
    if text in _PLAIN_TEXTS:
        return text
    if not names_a_secret(text):  # no secret name in it, no pair to mask
        if len(text) <= _MAX_PLAIN_TEXT_LENGTH:
            if len(_PLAIN_TEXTS) >= _MAX_PLAIN_TEXTS:
                _PLAIN_TEXTS.clear()
            _PLAIN_TEXTS.add(text)
        return text

    def _mask(match: re.Match[str]) -> str:
        if is_secret_parameter(match.group(1)):
            return f"{match.group(1)}={REDACTED}"
        return match.group(0)

    return _NAME_VALUE.sub(_mask, text)


def _redact_parameter_list(value: AttributeValue) -> AttributeValue:
    if isinstance(value, tuple):
        return tuple(item for item in value if not is_secret_parameter(item.split("=", 1)[0]))
    if isinstance(value, str):
        kept = [i for i in value.split(",") if not is_secret_parameter(i.split("=", 1)[0])]
        return ",".join(kept)
    return value


def redact_attributes(attributes: Mapping[str, AttributeValue]) -> dict[str, AttributeValue]:
    """The attributes safe to export: allow-listed keys, parameter lists scrubbed."""
    safe: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if key not in ALLOWED_SPAN_ATTRIBUTES:
            continue
        if key in PARAMETER_BEARING_ATTRIBUTES:
            value = _redact_parameter_list(value)
        elif isinstance(value, str):
            value = redact_text(value)
        safe[key] = value
    return safe
