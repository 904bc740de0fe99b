"""Per-vendor corrections to the standard mapping, read from a YAML file.

Real CPEs stray from the standard: a vendor numbers its radios differently, keeps VLANs
under ``X_VENDOR_`` objects, spells an enumeration its own way, or needs a parameter
the standard lacks (IGMP, WPA3 on TR-098). Those facts live in a mapping file, not in
code, so that supporting a new model is an edit to ``vendor_overrides.yaml``.

Format (every section optional; names may use ``{i}`` for any instance number)::

    overrides:
      - name: acme-x100                 # for error messages
        match: {oui: "00D09E", product_class: "X100"}   # at least one of the two
        data_model: "Device."           # optional: only for this root
        parameters:                     # vendor parameters outside the standard table
          "Device.X_ACME_IGMP.Enable": {type: boolean}
        remove: ["Device.WiFi.Radio.{i}.Enable"]
        rename:
          - {from: "Device.Ethernet.VLANTermination.{i}.VLANID",
             to: "Device.X_ACME_VLAN.{i}.VID", type: unsignedInt}
        values:                         # change a value's format: emitted -> vendor's
          - {name: "Device.WiFi.AccessPoint.{i}.Security.ModeEnabled",
             map: {"WPA3-Personal-Transition": "WPA2-WPA3-Personal"}}
        add:                            # "${field}" takes a profile field; absent = skipped
          - {name: "Device.X_ACME_IGMP.Enable", value: "${iptv.igmp_enabled}"}
        security_modes:                 # replace a Wi-Fi security mode's parameters
          WPA3-Personal: {BeaconType: "11i", X_ACME_Auth: "SAE",
                          "PreSharedKey.1.KeyPassphrase": "${wifi.passphrase}"}

A vendor name outside the standard table is accepted only with a declared ``type``
(``parameters``, or inline in ``rename``/``add``) and only if it has an ``X_`` segment,
so a misspelt standard name is still caught. Overrides that match a device all apply,
those matching on OUI or product class alone first, OUI + product class last.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

import yaml

from traceacs.datamodel import DATA_MODEL_ROOTS, DataModelRoot
from traceacs.provisioning.config_common import (
    PROFILE_FIELDS,
    placeholder_field,
    resolve_field,
)
from traceacs.provisioning.config_types import ConfigBuildError, ConfigTarget, Setting
from traceacs.provisioning.profile import WIFI_SECURITY_MODES, ServiceProfile, WifiSecurity

XSD_TYPES: Final = frozenset(
    {
        "string",
        "int",
        "unsignedInt",
        "long",
        "unsignedLong",
        "boolean",
        "dateTime",
        "base64",
        "hexBinary",
        "decimal",
    }
)
DEFAULT_FILE: Final = "vendor_overrides.yaml"


class VendorOverrideError(ConfigBuildError):
    """The mapping file is malformed (raised when it is loaded, not mid-provisioning)."""


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.escape(template).replace(re.escape("{i}"), r"(\d+)"))


@dataclass(frozen=True, slots=True)
class NamePattern:
    """A parameter name that may contain ``{i}``; matches concrete names."""

    template: str
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", _pattern(self.template))

    def match(self, name: str) -> tuple[str, ...] | None:
        found = self.regex.fullmatch(name)
        return None if found is None else found.groups()


@dataclass(frozen=True, slots=True)
class VendorParameter:
    """A declared vendor parameter: its type, and whether it reads back empty."""

    pattern: NamePattern
    xsd_type: str
    hidden: bool = False
    secret: bool = False


@dataclass(frozen=True, slots=True)
class Rename:
    source: NamePattern
    target: str

    def apply(self, name: str) -> str | None:
        numbers = self.source.match(name)
        if numbers is None:
            return None
        target = self.target
        for number in numbers:
            target = target.replace("{i}", number, 1)
        return target


@dataclass(frozen=True, slots=True)
class ValueMap:
    pattern: NamePattern
    mapping: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Addition:
    name: str
    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class VendorOverride:
    name: str
    oui: str | None = None
    product_class: str | None = None
    data_model: DataModelRoot | None = None
    parameters: tuple[VendorParameter, ...] = ()
    remove: tuple[NamePattern, ...] = ()
    rename: tuple[Rename, ...] = ()
    values: tuple[ValueMap, ...] = ()
    add: tuple[Addition, ...] = ()
    security_modes: Mapping[WifiSecurity, Mapping[str, str]] = field(default_factory=dict)

    def matches(self, target: ConfigTarget) -> bool:
        if self.data_model is not None and self.data_model != target.data_model_root:
            return False
        if self.oui is not None and self.oui.upper() != target.oui.upper():
            return False
        return self.product_class is None or self.product_class == target.product_class

    @property
    def specificity(self) -> int:
        return (self.oui is not None) + (self.product_class is not None)

    def declared(self, name: str) -> VendorParameter | None:
        for parameter in self.parameters:
            if parameter.pattern.match(name) is not None:
                return parameter
        return None

    def apply(self, settings: list[Setting], profile: ServiceProfile) -> list[Setting]:
        """This override's remove, rename, value maps and additions, in that order."""
        out: list[Setting] = []
        for setting in settings:
            if any(p.match(setting.name) is not None for p in self.remove):
                continue
            for rename in self.rename:
                renamed = rename.apply(setting.name)
                if renamed is not None:
                    setting = Setting(renamed, setting.value, secret=setting.secret)
                    break
            for value_map in self.values:
                if value_map.pattern.match(setting.name) is not None:
                    text = _text(setting.value)
                    if text in value_map.mapping:
                        setting = Setting(
                            setting.name, value_map.mapping[text], secret=setting.secret
                        )
            out.append(setting)
        for addition in self.add:
            field_name = placeholder_field(addition.value)
            if field_name is None:
                out.append(Setting(addition.name, addition.value))
                continue
            value, secret = resolve_field(profile, field_name)
            if value is not None:
                out.append(Setting(addition.name, value, secret=secret))
        return out


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class VendorOverrides:
    """All overrides of one mapping file."""

    overrides: tuple[VendorOverride, ...] = ()

    def for_target(self, target: ConfigTarget) -> tuple[VendorOverride, ...]:
        """The overrides that apply, least specific first (``sorted`` is stable)."""
        matching = [o for o in self.overrides if o.matches(target)]
        return tuple(sorted(matching, key=lambda o: o.specificity))


# ------------------------------------------------------------------------- parsing


def _fail(where: str, message: str) -> VendorOverrideError:
    return VendorOverrideError(f"vendor overrides {where}: {message}")


def _str(value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(where, f"expected a string, got {type(value).__name__}")
    return str(value)


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(where, "expected a mapping")
    return {_str(k, where): v for k, v in value.items()}


def _list(value: object, where: str) -> Sequence[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(where, "expected a list")
    return value


def _vendor_name(name: str, where: str) -> str:
    if not any(segment.startswith("X_") for segment in name.split(".")):
        raise _fail(where, f"{name} is declared as a vendor parameter but has no X_ segment")
    if not name.startswith(DATA_MODEL_ROOTS):
        raise _fail(where, f"{name} is not under Device. or InternetGatewayDevice.")
    return name


def _declaration(name: str, spec: Mapping[str, object], where: str) -> VendorParameter:
    xsd_type = _str(spec.get("type"), f"{where}.type")
    if xsd_type not in XSD_TYPES:
        raise _fail(where, f"type {xsd_type!r} is not one of {sorted(XSD_TYPES)}")
    return VendorParameter(
        NamePattern(_vendor_name(name, where)),
        xsd_type,
        hidden=bool(spec.get("hidden", False)),
        secret=bool(spec.get("secret", False)),
    )


_KEYS: Final = frozenset(
    {
        "name",
        "match",
        "data_model",
        "parameters",
        "remove",
        "rename",
        "values",
        "add",
        "security_modes",
    }
)


def _parse_override(raw: object, where: str) -> VendorOverride:
    data = _mapping(raw, where)
    unknown = set(data) - _KEYS
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}")
    name = _str(data.get("name", where), f"{where}.name")
    where = f"{where} ({name})"
    match = _mapping(data.get("match"), f"{where}.match")
    oui = _str(match["oui"], f"{where}.match.oui") if "oui" in match else None
    product_class = (
        _str(match["product_class"], f"{where}.match.product_class")
        if "product_class" in match
        else None
    )
    if oui is None and product_class is None:
        raise _fail(where, "match needs an oui, a product_class, or both")
    data_model = data.get("data_model")
    if data_model is not None and data_model not in DATA_MODEL_ROOTS:
        raise _fail(where, f"data_model must be one of {DATA_MODEL_ROOTS}")
    declarations = [
        _declaration(pname, _mapping(spec, f"{where}.parameters"), f"{where}.parameters")
        for pname, spec in _mapping(data.get("parameters"), f"{where}.parameters").items()
    ]
    renames: list[Rename] = []
    for i, item in enumerate(_list(data.get("rename"), f"{where}.rename")):
        entry = _mapping(item, f"{where}.rename[{i}]")
        source = _str(entry.get("from"), f"{where}.rename[{i}].from")
        target = _str(entry.get("to"), f"{where}.rename[{i}].to")
        if target.count("{i}") > source.count("{i}"):
            raise _fail(where, f"rename target {target} has more {{i}} than {source}")
        if "type" in entry:
            declarations.append(_declaration(target, entry, f"{where}.rename[{i}]"))
        renames.append(Rename(NamePattern(source), target))
    value_maps: list[ValueMap] = []
    for i, item in enumerate(_list(data.get("values"), f"{where}.values")):
        entry = _mapping(item, f"{where}.values[{i}]")
        mapping = _mapping(entry.get("map"), f"{where}.values[{i}].map")
        value_maps.append(
            ValueMap(
                NamePattern(_str(entry.get("name"), f"{where}.values[{i}].name")),
                {k: _text(v) for k, v in mapping.items()},
            )
        )
    additions: list[Addition] = []
    for i, item in enumerate(_list(data.get("add"), f"{where}.add")):
        entry = _mapping(item, f"{where}.add[{i}]")
        add_name = _str(entry.get("name"), f"{where}.add[{i}].name")
        if "{i}" in add_name:
            raise _fail(where, f"add needs a concrete name, not the template {add_name}")
        value = _text(entry.get("value"))
        placeholder = placeholder_field(value)
        if placeholder is not None and placeholder not in PROFILE_FIELDS:
            raise _fail(where, f"add[{i}] uses unknown profile field ${{{placeholder}}}")
        if "type" in entry:
            declarations.append(_declaration(add_name, entry, f"{where}.add[{i}]"))
        additions.append(Addition(add_name, value))
    security: dict[WifiSecurity, Mapping[str, str]] = {}
    for mode, params in _mapping(data.get("security_modes"), f"{where}.security_modes").items():
        if mode not in WIFI_SECURITY_MODES:
            raise _fail(where, f"security mode {mode!r} is not one of {WIFI_SECURITY_MODES}")
        security[mode] = {
            k: _text(v) for k, v in _mapping(params, f"{where}.security_modes.{mode}").items()
        }
    return VendorOverride(
        name=name,
        oui=oui,
        product_class=product_class,
        data_model=data_model,
        parameters=tuple(declarations),
        remove=tuple(
            NamePattern(_str(r, f"{where}.remove"))
            for r in _list(data.get("remove"), f"{where}.remove")
        ),
        rename=tuple(renames),
        values=tuple(value_maps),
        add=tuple(additions),
        security_modes=security,
    )


def parse_vendor_overrides(document: object, source: str = "<memory>") -> VendorOverrides:
    """Validate a loaded YAML document (a mapping with an ``overrides`` list)."""
    top = _mapping(document, source)
    items = _list(top.get("overrides"), f"{source}: overrides")
    return VendorOverrides(
        tuple(_parse_override(item, f"{source}[{i}]") for i, item in enumerate(items))
    )


def load_vendor_overrides(path: Path | None = None) -> VendorOverrides:
    """Read a mapping file; without ``path``, the packaged default (cached)."""
    if path is None:
        return _default_overrides()
    return parse_vendor_overrides(yaml.safe_load(path.read_text("utf-8")), path.name)


@cache
def _default_overrides() -> VendorOverrides:
    text = resources.files("traceacs.provisioning").joinpath(DEFAULT_FILE).read_text("utf-8")
    return parse_vendor_overrides(yaml.safe_load(text), DEFAULT_FILE)
