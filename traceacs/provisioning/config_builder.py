"""Profile + device -> the exact parameter values to push: `build_config`.

The steps, in order: map the profile onto the device's data model (`config_tr181`,
`config_tr098`); apply the vendor overrides that match the device's OUI / product
class; append the profile's extra parameters as given; then check every name against
the data-model table (known, writable, type) and convert every value to its xsd type.
Anything wrong raises `ConfigBuildError` here, before a single value reaches the CPE.
The result carries a ParameterKey that is a hash of the typed config, so pushing the
same config twice gives the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from traceacs.cwmp.errors import CwmpError
from traceacs.cwmp.messages import ParameterValueStruct, ParamValue
from traceacs.cwmp.values import format_value, parse_int, parse_value
from traceacs.datamodel import DataModel, load_data_model
from traceacs.provisioning import config_tr098, config_tr181
from traceacs.provisioning.config_types import (
    ConfigBuildError,
    ConfigTarget,
    DesiredConfig,
    Setting,
)
from traceacs.provisioning.profile import ServiceProfile
from traceacs.provisioning.vendor_overrides import (
    VendorOverride,
    VendorOverrides,
    load_vendor_overrides,
)

__all__ = ["ConfigBuildError", "ConfigTarget", "DesiredConfig", "build_config"]

PARAMETER_KEY_LENGTH: Final = 32
"""ParameterKey is a string(32) in the CWMP schema."""

_INT_TYPES: Final = frozenset({"int", "unsignedInt", "long", "unsignedLong"})
# Vendor parameters have no "hidden" facts to go by; names like these are secrets.
_SECRET_NAME: Final = re.compile(r"passw|passphrase|secret|presharedkey|wepkey|\.pin$", re.I)


def build_config(
    profile: ServiceProfile,
    target: ConfigTarget,
    *,
    overrides: VendorOverrides | None = None,
    key_secret: bytes | None = None,
) -> DesiredConfig:
    """The config ``profile`` means for the device ``target``, checked against its model.

    ``overrides`` defaults to the packaged ``vendor_overrides.yaml``. ``key_secret``,
    when given, keys the ParameterKey hash (HMAC) so the key, which the CPE reports
    in the clear, cannot be used to test guesses of a Wi-Fi passphrase offline.
    """
    model = load_data_model(target.data_model_root)
    if overrides is None:
        overrides = load_vendor_overrides()
    applicable = overrides.for_target(target)
    settings = _standard_settings(profile, target, applicable)
    for override in applicable:
        settings = override.apply(settings, profile)
    settings += [Setting(e.name, e.value, xsd_type=e.xsd_type) for e in profile.extra_parameters]
    return _finish(model, _dedupe(settings), applicable, key_secret)


def _standard_settings(
    profile: ServiceProfile, target: ConfigTarget, applicable: Sequence[VendorOverride]
) -> list[Setting]:
    tr181 = target.data_model_root == "Device."
    security = dict(config_tr181.SECURITY if tr181 else config_tr098.SECURITY)
    for override in applicable:
        security.update(override.security_modes)
    if tr181:
        return config_tr181.settings(profile, security)
    return config_tr098.settings(profile, security)


def _dedupe(settings: Iterable[Setting]) -> list[Setting]:
    """Later settings win (extras over vendor over standard) at the first one's place."""
    by_name: dict[str, Setting] = {}
    for setting in settings:
        if setting.name in by_name:
            previous = by_name[setting.name]
            setting = Setting(
                setting.name,
                setting.value,
                secret=setting.secret or previous.secret,
                xsd_type=setting.xsd_type,
                hidden=setting.hidden,
            )
        by_name[setting.name] = setting
    return list(by_name.values())


def _finish(
    model: DataModel,
    settings: Sequence[Setting],
    applicable: Sequence[VendorOverride],
    key_secret: bytes | None,
) -> DesiredConfig:
    parameters: list[ParameterValueStruct] = []
    secrets: set[str] = set()
    verifiable: set[str] = set()
    for setting in settings:
        xsd_type, hidden, secret = _check(model, setting, applicable)
        value = _coerce(setting, xsd_type)
        parameters.append(ParameterValueStruct(setting.name, value, xsd_type))
        if secret or hidden or setting.secret:
            secrets.add(setting.name)
        if not hidden:
            verifiable.add(setting.name)
    return DesiredConfig(
        data_model_root=model.root,
        parameters=tuple(parameters),
        parameter_key=parameter_key(parameters, key_secret),
        secret_names=frozenset(secrets),
        verifiable_names=frozenset(verifiable),
        instances=_instances(p.name for p in parameters),
    )


def _check(
    model: DataModel, setting: Setting, applicable: Sequence[VendorOverride]
) -> tuple[str, bool, bool]:
    """(xsd type, hidden, secret) of a setting, or a ConfigBuildError naming it."""
    name = setting.name
    if not name.startswith(model.root):
        raise ConfigBuildError(f"parameter {name} is not under {model.root}")
    spec = model.lookup(name)
    if spec is not None:
        if not spec.writable:
            raise ConfigBuildError(f"parameter {name} is read-only in {model.model_name}")
        if setting.xsd_type is not None and setting.xsd_type != spec.xsd_type:
            raise ConfigBuildError(
                f"parameter {name} is xsd:{spec.xsd_type} in {model.model_name}, "
                f"not xsd:{setting.xsd_type}"
            )
        return spec.xsd_type, spec.hidden, spec.hidden or bool(_SECRET_NAME.search(name))
    for override in reversed(applicable):
        declared = override.declared(name)
        if declared is not None:
            if setting.xsd_type is not None and setting.xsd_type != declared.xsd_type:
                raise ConfigBuildError(
                    f"parameter {name} is declared xsd:{declared.xsd_type} by vendor "
                    f"override {override.name}, not xsd:{setting.xsd_type}"
                )
            secret = declared.secret or declared.hidden or bool(_SECRET_NAME.search(name))
            return declared.xsd_type, declared.hidden, secret
    raise ConfigBuildError(
        f"parameter {name} is not in {model.model_name} and no vendor override for this "
        "device declares it (a vendor parameter needs an override with its type)"
    )


def _coerce(setting: Setting, xsd_type: str) -> ParamValue:
    """The value as the Python type of ``xsd_type``; errors never quote the value."""
    value = setting.value
    try:
        if isinstance(value, str):
            return parse_value(value, xsd_type)
        if isinstance(value, bool):
            if xsd_type == "boolean":
                return value
        elif isinstance(value, int):
            if xsd_type in _INT_TYPES:
                return parse_int(str(value), xsd_type)
            if xsd_type == "string":
                return str(value)
        elif (isinstance(value, datetime) and xsd_type == "dateTime") or (
            isinstance(value, bytes) and xsd_type == "base64"
        ):
            return value
    except CwmpError:
        raise ConfigBuildError(
            f"value for parameter {setting.name} is not a valid xsd:{xsd_type}"
        ) from None
    raise ConfigBuildError(
        f"value for parameter {setting.name} is a {type(value).__name__}, not an xsd:{xsd_type}"
    )


def parameter_key(
    parameters: Iterable[ParameterValueStruct], key_secret: bytes | None = None
) -> str:
    """A stable 32-hex-digit hash of the config: sorted names, types and wire values."""
    canonical = json.dumps(
        sorted([p.name, p.xsd_type, format_value(p.value, p.xsd_type)] for p in parameters),
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    if key_secret:
        digest = hmac.new(key_secret, canonical, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(canonical).hexdigest()
    return digest[:PARAMETER_KEY_LENGTH]


def _instances(names: Iterable[str]) -> tuple[str, ...]:
    """Every multi-instance object instance the names pass through, parents first."""
    found: set[str] = set()
    for name in names:
        segments = name.split(".")
        for i, segment in enumerate(segments[:-1]):
            if segment.isdigit():
                found.add(".".join(segments[: i + 1]) + ".")
    return tuple(sorted(found, key=_natural))


def _natural(path: str) -> list[tuple[int, str]]:
    return [(int(s), "") if s.isdigit() else (-1, s) for s in path.split(".")]
