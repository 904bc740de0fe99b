"""A service profile as a plain document (the dict behind JSON and YAML), and back.

One format serves the BSS HTTP API, the embedded store and ``traceacs profiles import``,
so the validation lives here, once. Errors name the field path
(``wifi.bands[1]: '7GHz' is not one of 2.4GHz, 5GHz, 6GHz``) so a BSS operator can fix
the document without reading code, and they never echo a secret: a bad passphrase or
SIP password is described ("must be 8 to 63 characters"), never quoted. Values of
``extra_parameters`` are not echoed either, since the BSS may carry credentials there.

Unknown keys are rejected rather than ignored: a typo such as ``pasphrase`` would
otherwise silently drop a customer's Wi-Fi key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from traceacs.files.store import InvalidFileName, validate_name
from traceacs.provisioning.profile import (
    SERVICES,
    WIFI_BANDS,
    WIFI_SECURITY_MODES,
    ExtraParameter,
    FirmwareTarget,
    IptvConfig,
    Service,
    ServiceProfile,
    VlanConfig,
    VoipLine,
    WifiBand,
    WifiConfig,
    WifiSecurity,
)

__all__ = [
    "EXTRA_PARAMETER_TYPES",
    "DocumentProblem",
    "ProfileDocumentError",
    "profile_from_document",
    "profile_to_document",
]

#: CWMP (TR-069 A.2.1 / SOAP xsd) types an extra parameter may be declared with.
EXTRA_PARAMETER_TYPES: tuple[str, ...] = (
    "string",
    "int",
    "unsignedInt",
    "long",
    "unsignedLong",
    "boolean",
    "dateTime",
    "base64",
    "hexBinary",
)
IGMP_VERSIONS: tuple[int, ...] = (1, 2, 3)
VLAN_MIN, VLAN_MAX = 1, 4094
SSID_MAX_BYTES = 32
PASSPHRASE_MIN, PASSPHRASE_MAX = 8, 63

_TOP_KEYS = (
    "name",
    "version",
    "services",
    "wifi",
    "vlans",
    "voip_lines",
    "iptv",
    "extra_parameters",
    "target_firmware",
    "firmware",
)
_FIRMWARE_KEYS = ("version", "file")
_WIFI_KEYS = ("ssid", "passphrase", "security", "bands")
_VLAN_KEYS = ("internet", "voip", "iptv")
_VOIP_KEYS = ("registrar", "proxy", "user", "password", "directory_number")
_IPTV_KEYS = ("multicast_vlan", "igmp_enabled", "igmp_version")
_EXTRA_KEYS = ("name", "value", "type")
_INT_RANGES = {
    "int": (-(2**31), 2**31 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "long": (-(2**63), 2**63 - 1),
    "unsignedLong": (0, 2**64 - 1),
}


@dataclass(frozen=True, slots=True)
class DocumentProblem:
    """One thing wrong with a document: where (``path``) and what (``message``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ProfileDocumentError(ValueError):
    """A document is not a valid service profile; ``problems`` lists every reason.

    All problems are collected (not just the first) so one round trip to the BSS
    operator fixes the whole document. The text is secret-free by construction.
    """

    def __init__(self, problems: list[DocumentProblem] | tuple[DocumentProblem, ...]) -> None:
        self.problems: tuple[DocumentProblem, ...] = tuple(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            text = f"{len(self.problems)} problems: " + "; ".join(str(p) for p in self.problems)
        super().__init__(text)


def _show(value: object) -> str:
    """A short rendering of a non-secret value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Reader:
    """Walks a document, collecting problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[DocumentProblem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(DocumentProblem(path, message))

    def obj(self, value: object, path: str, keys: tuple[str, ...]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(path, f"must be an object, got {_type_name(value)}")
            return None
        for key in value:
            if key not in keys:
                name = key if isinstance(key, str) else _show(key)
                self.fail(_join(path, str(name)), f"unknown field (expected {', '.join(keys)})")
        return cast(Mapping[str, Any], value)

    def text(self, value: object, path: str, *, empty_ok: bool = False) -> str | None:
        """A string; only its type is ever reported, so secrets may pass through here."""
        if not isinstance(value, str):
            self.fail(path, f"must be a string, got {_type_name(value)}")
            return None
        if not empty_ok and not value.strip():
            self.fail(path, "must not be empty")
            return None
        if "\x00" in value:  # PostgreSQL cannot store it: refused on every engine
            self.fail(path, "must not contain NUL characters")
            return None
        return value

    def integer(self, value: object, path: str, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be an integer, got {_type_name(value)}")
            return None
        if not low <= value <= high:
            self.fail(path, f"{value} is out of range {low}-{high}")
            return None
        return value

    def boolean(self, value: object, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {_type_name(value)}")
            return None
        return value

    def choice(self, value: object, path: str, allowed: tuple[str, ...]) -> str | None:
        if not isinstance(value, str) or value not in allowed:
            shown = _show(value) if isinstance(value, str | int | float) else _type_name(value)
            self.fail(path, f"{shown} is not one of {', '.join(allowed)}")
            return None
        return value

    def items(self, value: object, path: str) -> list[Any] | None:
        if not isinstance(value, list | tuple):
            self.fail(path, f"must be a list, got {_type_name(value)}")
            return None
        return list(value)


def profile_from_document(document: object) -> ServiceProfile:
    """Validate ``document`` and build the profile it describes.

    Raises :class:`ProfileDocumentError` listing every problem (with field paths).
    """
    r = _Reader()
    doc = r.obj(document, "", _TOP_KEYS)
    if doc is None:
        raise ProfileDocumentError(r.problems)

    name = r.text(doc["name"], "name") if "name" in doc else None
    if "name" not in doc:
        r.fail("name", "is required")
    version = _version(r, doc.get("version", ""))
    services = _services(r, doc["services"]) if "services" in doc else None
    if "services" not in doc:
        r.fail("services", "is required")
    wifi = _wifi(r, doc["wifi"]) if doc.get("wifi") is not None else None
    vlans = _vlans(r, doc["vlans"]) if doc.get("vlans") is not None else VlanConfig()
    lines = _voip_lines(r, doc.get("voip_lines") or [])
    iptv = _iptv(r, doc["iptv"]) if doc.get("iptv") is not None else None
    extras = _extras(r, doc.get("extra_parameters") or [])
    firmware = None
    if doc.get("target_firmware") is not None:
        firmware = r.text(doc["target_firmware"], "target_firmware")
    targets = _firmware(r, doc["firmware"]) if doc.get("firmware") is not None else ()

    if services is not None:
        if "voip" in services and not doc.get("voip_lines"):
            r.fail("voip_lines", "is required (at least one line) when services include voip")
        if "voip" not in services and doc.get("voip_lines"):
            r.fail("voip_lines", "must be absent when services do not include voip")
        if "iptv" in services and doc.get("iptv") is None:
            r.fail("iptv", "is required when services include iptv")
        if "iptv" not in services and doc.get("iptv") is not None:
            r.fail("iptv", "must be absent when services do not include iptv")

    if r.problems or name is None or services is None or version is None:
        raise ProfileDocumentError(r.problems)
    return ServiceProfile(
        name=name,
        services=services,
        wifi=wifi,
        vlans=vlans,
        voip_lines=lines,
        iptv=iptv,
        extra_parameters=extras,
        target_firmware=firmware,
        firmware=targets,
        version=version,
    )


def _version(r: _Reader, value: object) -> str | None:
    # An integer revision is common in BSS APIs; a float usually means YAML ate "1.10".
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        r.fail("version", "must be a string or an integer (quote it in YAML: '1.10' reads as 1.1)")
        return None
    return r.text(value, "version", empty_ok=True)


def _services(r: _Reader, value: object) -> tuple[Service, ...] | None:
    items = r.items(value, "services")
    if items is None:
        return None
    out: list[Service] = []
    for i, item in enumerate(items):
        service = r.choice(item, f"services[{i}]", SERVICES)
        if service is None:
            continue
        if service in out:
            r.fail(f"services[{i}]", f"{service!r} is listed twice")
            continue
        out.append(cast(Service, service))
    return tuple(out)


def _wifi(r: _Reader, value: object) -> WifiConfig | None:
    wifi = r.obj(value, "wifi", _WIFI_KEYS)
    if wifi is None:
        return None
    ok = True
    ssid = r.text(wifi["ssid"], "wifi.ssid") if "ssid" in wifi else None
    if "ssid" not in wifi:
        r.fail("wifi.ssid", "is required")
    if ssid is not None and len(ssid.encode("utf-8")) > SSID_MAX_BYTES:
        r.fail("wifi.ssid", f"must be at most {SSID_MAX_BYTES} bytes in UTF-8")
        ok = False
    security = r.choice(wifi.get("security", "WPA2-Personal"), "wifi.security", WIFI_SECURITY_MODES)
    passphrase = _passphrase(r, wifi, security)
    bands = _bands(r, wifi.get("bands", ["2.4GHz", "5GHz"]))
    if not ok or ssid is None or security is None or passphrase is None or bands is None:
        return None
    return WifiConfig(
        ssid=ssid, passphrase=passphrase, security=cast(WifiSecurity, security), bands=bands
    )


def _passphrase(r: _Reader, wifi: Mapping[str, Any], security: str | None) -> str | None:
    path = "wifi.passphrase"
    if "passphrase" not in wifi or wifi["passphrase"] is None:
        if security == "None":
            return ""
        r.fail(path, "is required unless security is None")
        return None
    value = wifi["passphrase"]
    if not isinstance(value, str):
        r.fail(path, f"must be a string, got {_type_name(value)}")
        return None
    if security == "None":
        return value
    # IEEE 802.11i: a WPA passphrase is 8..63 printable ASCII characters (32..126).
    if not PASSPHRASE_MIN <= len(value) <= PASSPHRASE_MAX:
        r.fail(path, f"must be {PASSPHRASE_MIN} to {PASSPHRASE_MAX} characters")
        return None
    if any(not 32 <= ord(ch) <= 126 for ch in value):
        r.fail(path, "must contain only printable ASCII characters")
        return None
    return value


def _bands(r: _Reader, value: object) -> tuple[WifiBand, ...] | None:
    items = r.items(value, "wifi.bands")
    if items is None:
        return None
    if not items:
        r.fail("wifi.bands", "must list at least one band")
        return None
    out: list[WifiBand] = []
    ok = True
    for i, item in enumerate(items):
        band = r.choice(item, f"wifi.bands[{i}]", WIFI_BANDS)
        if band is None:
            ok = False
        elif band in out:
            r.fail(f"wifi.bands[{i}]", f"{band!r} is listed twice")
            ok = False
        else:
            out.append(cast(WifiBand, band))
    return tuple(out) if ok else None


def _vlans(r: _Reader, value: object) -> VlanConfig:
    vlans = r.obj(value, "vlans", _VLAN_KEYS)
    if vlans is None:
        return VlanConfig()
    ids: dict[str, int | None] = {}
    for key in _VLAN_KEYS:
        raw = vlans.get(key)
        ids[key] = None if raw is None else r.integer(raw, f"vlans.{key}", VLAN_MIN, VLAN_MAX)
    return VlanConfig(internet=ids["internet"], voip=ids["voip"], iptv=ids["iptv"])


def _voip_lines(r: _Reader, value: object) -> tuple[VoipLine, ...]:
    items = r.items(value, "voip_lines")
    if items is None:
        return ()
    out: list[VoipLine] = []
    for i, item in enumerate(items):
        path = f"voip_lines[{i}]"
        line = r.obj(item, path, _VOIP_KEYS)
        if line is None:
            continue
        fields: dict[str, str | None] = {}
        for key in ("registrar", "user", "password"):
            if key not in line:
                r.fail(f"{path}.{key}", "is required")
                fields[key] = None
            else:
                fields[key] = r.text(line[key], f"{path}.{key}")
        for key in ("proxy", "directory_number"):
            fields[key] = r.text(line.get(key, ""), f"{path}.{key}", empty_ok=True)
        if None in fields.values():
            continue
        out.append(
            VoipLine(
                registrar=cast(str, fields["registrar"]),
                proxy=cast(str, fields["proxy"]),
                user=cast(str, fields["user"]),
                password=cast(str, fields["password"]),
                directory_number=cast(str, fields["directory_number"]),
            )
        )
    return tuple(out)


def _iptv(r: _Reader, value: object) -> IptvConfig | None:
    iptv = r.obj(value, "iptv", _IPTV_KEYS)
    if iptv is None:
        return None
    if "multicast_vlan" not in iptv:
        r.fail("iptv.multicast_vlan", "is required")
        vlan = None
    else:
        vlan = r.integer(iptv["multicast_vlan"], "iptv.multicast_vlan", VLAN_MIN, VLAN_MAX)
    enabled = r.boolean(iptv.get("igmp_enabled", True), "iptv.igmp_enabled")
    version = iptv.get("igmp_version", 3)
    if isinstance(version, bool) or version not in IGMP_VERSIONS:
        shown = _show(version) if isinstance(version, int | float | str) else _type_name(version)
        r.fail("iptv.igmp_version", f"{shown} is not one of 1, 2, 3")
        version = None
    if vlan is None or enabled is None or version is None:
        return None
    return IptvConfig(multicast_vlan=vlan, igmp_enabled=enabled, igmp_version=int(version))


def _firmware(r: _Reader, value: object) -> tuple[FirmwareTarget, ...]:
    """``{"<ProductClass>": {"version": ..., "file": ...}}``: the target image per model.

    File names follow the file store's rule (letters, digits, ``.``, ``_``, ``-``), so a
    name that could never be stored is refused here rather than at the first Download.
    """
    if not isinstance(value, Mapping):  # any model name is a key: no unknown-key check
        r.fail("firmware", f"must be an object, got {_type_name(value)}")
        return ()
    models = cast(Mapping[object, Any], value)
    out: list[FirmwareTarget] = []
    for model, entry in models.items():
        path = f"firmware.{model}"
        if not isinstance(model, str) or not model.strip():
            r.fail("firmware", f"model {_show(model)} must be a non-empty ProductClass")
            continue
        target = r.obj(entry, path, _FIRMWARE_KEYS)
        if target is None:
            continue
        fields: dict[str, str | None] = {}
        for key in _FIRMWARE_KEYS:
            if key not in target:
                r.fail(f"{path}.{key}", "is required")
                fields[key] = None
            else:
                fields[key] = r.text(target[key], f"{path}.{key}")
        file_name = fields["file"]
        if file_name is not None:
            try:
                validate_name(file_name)
            except InvalidFileName as exc:
                r.fail(f"{path}.file", f"{_show(file_name)}: {exc}")
                continue
        version = fields["version"]
        if version is None or file_name is None:
            continue
        out.append(FirmwareTarget(product_class=model, version=version, file=file_name))
    return tuple(sorted(out, key=lambda f: f.product_class))  # one order, whatever the source


def _extras(r: _Reader, value: object) -> tuple[ExtraParameter, ...]:
    items = r.items(value, "extra_parameters")
    if items is None:
        return ()
    out: list[ExtraParameter] = []
    for i, item in enumerate(items):
        path = f"extra_parameters[{i}]"
        extra = r.obj(item, path, _EXTRA_KEYS)
        if extra is None:
            continue
        name = r.text(extra.get("name"), f"{path}.name") if "name" in extra else None
        if "name" not in extra:
            r.fail(f"{path}.name", "is required")
        elif name is not None and (name.endswith(".") or " " in name):
            r.fail(f"{path}.name", f"{_show(name)} is not a full parameter name")
            name = None
        xsd_type = r.choice(extra.get("type", "string"), f"{path}.type", EXTRA_PARAMETER_TYPES)
        if "value" not in extra:
            r.fail(f"{path}.value", "is required")
            continue
        text = _extra_value(r, extra["value"], f"{path}.value", xsd_type)
        if name is None or xsd_type is None or text is None:
            continue
        out.append(ExtraParameter(name=name, value=text, xsd_type=xsd_type))
    return tuple(out)


def _extra_value(r: _Reader, value: object, path: str, xsd_type: str | None) -> str | None:
    """The CWMP lexical form of an extra parameter's value (never echoed: may be secret)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        r.fail(path, f"must be a string, number or boolean, got {_type_name(value)}")
        return None
    if xsd_type == "boolean" and text not in ("true", "false", "1", "0"):
        r.fail(path, "must be true, false, 1 or 0 for type boolean")
        return None
    if xsd_type in _INT_RANGES:
        low, high = _INT_RANGES[xsd_type]
        try:
            number = int(text)
        except ValueError:
            r.fail(path, f"must be an integer for type {xsd_type}")
            return None
        if not low <= number <= high:
            r.fail(path, f"is out of range for type {xsd_type}")
            return None
    return text


def profile_to_document(profile: ServiceProfile) -> dict[str, Any]:
    """The document form of ``profile`` (secrets included: it is what the store keeps).

    ``profile_from_document(profile_to_document(p)) == p`` for every valid profile.
    """
    doc: dict[str, Any] = {
        "name": profile.name,
        "version": profile.version,
        "services": list(profile.services),
    }
    if profile.wifi is not None:
        doc["wifi"] = {
            "ssid": profile.wifi.ssid,
            "passphrase": profile.wifi.passphrase,
            "security": profile.wifi.security,
            "bands": list(profile.wifi.bands),
        }
    vlans = {
        key: getattr(profile.vlans, key)
        for key in _VLAN_KEYS
        if getattr(profile.vlans, key) is not None
    }
    if vlans:
        doc["vlans"] = vlans
    if profile.voip_lines:
        doc["voip_lines"] = [
            {
                "registrar": line.registrar,
                "proxy": line.proxy,
                "user": line.user,
                "password": line.password,
                "directory_number": line.directory_number,
            }
            for line in profile.voip_lines
        ]
    if profile.iptv is not None:
        doc["iptv"] = {
            "multicast_vlan": profile.iptv.multicast_vlan,
            "igmp_enabled": profile.iptv.igmp_enabled,
            "igmp_version": profile.iptv.igmp_version,
        }
    if profile.extra_parameters:
        doc["extra_parameters"] = [
            {"name": p.name, "value": p.value, "type": p.xsd_type} for p in profile.extra_parameters
        ]
    if profile.target_firmware is not None:
        doc["target_firmware"] = profile.target_firmware
    if profile.firmware:
        doc["firmware"] = {
            f.product_class: {"version": f.version, "file": f.file} for f in profile.firmware
        }
    return doc
