"""Generate the simulator's default CPE parameter trees from the TR-181/TR-098 XML.

The simulator must not read ``../shared`` at run time, so this script (run by hand when
the tree should change) picks the objects a typical home gateway has, takes every
parameter of those objects with its type, access and constraints from the Broadband
Forum XML, fills in realistic default values and writes a compact JSON file per model
into ``traceacs/simulator/data/``. Objects the two XML files do not define (TR-104
VoiceService, IGMP/IPTV) are described by hand below.

Usage: ``python tools/gen_sim_trees.py [/path/to/shared/cwmp/data-models]``
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from lxml import etree

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "traceacs" / "simulator" / "data"
DEFAULT_SRC = HERE.parent.parent / "shared" / "cwmp" / "data-models"

PRIMITIVES = {"string", "boolean", "unsignedInt", "int", "unsignedLong", "long", "dateTime"}
PRIMITIVES |= {"base64", "hexBinary", "decimal"}

# Concrete object instances of a typical 3-band home gateway (TR-181).
TR181_OBJECTS = [
    "Device.",
    "Device.DeviceInfo.",
    "Device.ManagementServer.",
    "Device.Time.",
    *[f"Device.WiFi.Radio.{i}." for i in (1, 2, 3)],
    *[f"Device.WiFi.SSID.{i}." for i in (1, 2, 3)],
    *[f"Device.WiFi.AccessPoint.{i}." for i in (1, 2, 3)],
    *[f"Device.WiFi.AccessPoint.{i}.Security." for i in (1, 2, 3)],
    *[f"Device.Ethernet.Interface.{i}." for i in (1, 2, 3, 4, 5)],
    *[f"Device.Ethernet.Link.{i}." for i in (1, 2)],
    *[f"Device.Ethernet.VLANTermination.{i}." for i in (1, 2, 3)],
    *[f"Device.IP.Interface.{i}." for i in (1, 2)],
    *[f"Device.IP.Interface.{i}.IPv4Address.1." for i in (1, 2)],
    "Device.Hosts.",
]

TR098_OBJECTS = [
    "InternetGatewayDevice.",
    "InternetGatewayDevice.DeviceInfo.",
    "InternetGatewayDevice.ManagementServer.",
    "InternetGatewayDevice.Time.",
    "InternetGatewayDevice.LANDevice.1.",
    "InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.",
    *[f"InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}." for i in (1, 2, 3)],
    *[
        f"InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}.PreSharedKey.1."
        for i in (1, 2, 3)
    ],
    *[f"InternetGatewayDevice.LANDevice.1.LANEthernetInterfaceConfig.{i}." for i in (1, 2, 3, 4)],
    "InternetGatewayDevice.WANDevice.1.",
    "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.",
    "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.",
    "InternetGatewayDevice.Layer2Bridging.",
    *[f"InternetGatewayDevice.Layer2Bridging.Bridge.{i}." for i in (1, 2, 3)],
    *[f"InternetGatewayDevice.Layer2Bridging.Bridge.{i}.VLAN.1." for i in (1, 2, 3)],
]

# Parameter defaults worth making realistic. "$name" is resolved per CPE at run time
# from its identity (see traceacs.simulator.param_tree.IDENTITY_KEYS).
COMMON_DEFAULTS = {
    "DeviceInfo.Manufacturer": "$manufacturer",
    "DeviceInfo.ManufacturerOUI": "$oui",
    "DeviceInfo.ProductClass": "$product_class",
    "DeviceInfo.ModelName": "$product_class",
    "DeviceInfo.SerialNumber": "$serial_number",
    "DeviceInfo.SoftwareVersion": "$software_version",
    "DeviceInfo.HardwareVersion": "$hardware_version",
    "DeviceInfo.UpTime": "$uptime",
    "DeviceInfo.Description": "TraceACS simulated home gateway",
    "ManagementServer.URL": "$acs_url",
    "ManagementServer.ConnectionRequestURL": "$connection_request_url",
    "ManagementServer.ConnectionRequestUsername": "$serial_number",
    "ManagementServer.ConnectionRequestPassword": "$connection_request_password",
    "ManagementServer.PeriodicInformEnable": True,
    "ManagementServer.PeriodicInformInterval": 86400,
    "ManagementServer.Username": "$serial_number",
}

TR181_DEFAULTS: dict[str, Any] = {
    "Device.RootDataModelVersion": "2.17",
    "Device.Time.Enable": True,
    "Device.Time.NTPServer1": "pool.ntp.org",
    "Device.Time.LocalTimeZone": "CET-1CEST,M3.5.0,M10.5.0/3",
    "Device.IP.Interface.1.Name": "wan",
    "Device.IP.Interface.2.Name": "lan",
    "Device.IP.Interface.1.IPv4Address.1.IPAddress": "$external_ip",
    "Device.IP.Interface.2.IPv4Address.1.IPAddress": "192.168.1.1",
    "Device.IP.Interface.2.IPv4Address.1.SubnetMask": "255.255.255.0",
}
for _i, (_band, _std) in enumerate(
    (("2.4GHz", "b,g,n,ax"), ("5GHz", "a,n,ac,ax"), ("6GHz", "ax")), start=1
):
    TR181_DEFAULTS |= {
        f"Device.WiFi.Radio.{_i}.OperatingFrequencyBand": _band,
        f"Device.WiFi.Radio.{_i}.SupportedFrequencyBands": _band,
        f"Device.WiFi.Radio.{_i}.OperatingStandards": _std,
        f"Device.WiFi.Radio.{_i}.Enable": True,
        f"Device.WiFi.Radio.{_i}.Name": f"wifi{_i - 1}",
        f"Device.WiFi.SSID.{_i}.SSID": f"$ssid_{_i}",
        f"Device.WiFi.SSID.{_i}.Enable": True,
        f"Device.WiFi.SSID.{_i}.LowerLayers": f"Device.WiFi.Radio.{_i}",
        f"Device.WiFi.SSID.{_i}.Name": f"wl{_i - 1}",
        f"Device.WiFi.AccessPoint.{_i}.SSIDReference": f"Device.WiFi.SSID.{_i}",
        f"Device.WiFi.AccessPoint.{_i}.Enable": True,
        f"Device.WiFi.AccessPoint.{_i}.Security.ModeEnabled": "WPA2-Personal",
        f"Device.WiFi.AccessPoint.{_i}.Security.ModesSupported": (
            "None,WPA2-Personal,WPA3-Personal,WPA2-WPA3-Personal"
        ),
    }
for _i in (1, 2, 3):
    TR181_DEFAULTS[f"Device.Ethernet.VLANTermination.{_i}.LowerLayers"] = "Device.Ethernet.Link.1"
    TR181_DEFAULTS[f"Device.Ethernet.VLANTermination.{_i}.Name"] = f"vlan{_i}"

TR098_DEFAULTS: dict[str, Any] = {
    "InternetGatewayDevice.DeviceSummary": (
        "InternetGatewayDevice:1.4[](Baseline:2, EthernetLAN:1, WiFiLAN:2, Time:2, IPPing:1)"
    ),
    "InternetGatewayDevice.DeviceInfo.SpecVersion": "1.0",
    "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1."
    "ExternalIPAddress": "$external_ip",
    "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.Enable": True,
    "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1."
    "ConnectionStatus": "Connected",
    "InternetGatewayDevice.Time.NTPServer1": "pool.ntp.org",
}
for _i, _band in enumerate(("2.4GHz", "5GHz", "6GHz"), start=1):
    _w = f"InternetGatewayDevice.LANDevice.1.WLANConfiguration.{_i}."
    TR098_DEFAULTS |= {
        _w + "SSID": f"$ssid_{_i}",
        _w + "Enable": True,
        _w + "BeaconType": "11i",
        _w + "IEEE11iEncryptionModes": "AESEncryption",
        _w + "IEEE11iAuthenticationMode": "PSKAuthentication",
        _w + "X_TRACEACS_OperatingFrequencyBand": _band,
    }

# --------------------------------------------------------- hand-written (not in the XML)


def _p(
    name: str, xsd: str, writable: bool, default: Any, cons: dict[str, Any] | None = None
) -> list[Any]:
    return [name, xsd, 1 if writable else 0, default, cons]


def voice_tr104v1(prefix: str) -> tuple[list[list[Any]], list[list[Any]]]:
    """TR-104 issue 1 VoiceService (what TR-098 gateways and many TR-181 ones carry)."""
    vs = f"{prefix}Services.VoiceService.1."
    vp = vs + "VoiceProfile.1."
    params = [
        _p(vs + "VoiceProfileNumberOfEntries", "unsignedInt", False, 1),
        _p(
            vp + "Enable", "string", True, "Enabled", {"enum": ["Disabled", "Quiescent", "Enabled"]}
        ),
        _p(vp + "Name", "string", True, "SIP", {"max": 64}),
        _p(vp + "SignalingProtocol", "string", False, "SIP"),
        _p(vp + "NumberOfLines", "unsignedInt", False, 2),
        _p(vp + "DTMFMethod", "string", True, "RFC2833"),
        _p(vp + "SIP.ProxyServer", "string", True, "", {"max": 256}),
        _p(vp + "SIP.ProxyServerPort", "unsignedInt", True, 5060, {"min": 0, "max": 65535}),
        _p(vp + "SIP.ProxyServerTransport", "string", True, "UDP"),
        _p(vp + "SIP.RegistrarServer", "string", True, "", {"max": 256}),
        _p(vp + "SIP.RegistrarServerPort", "unsignedInt", True, 5060, {"min": 0, "max": 65535}),
        _p(vp + "SIP.RegistrarServerTransport", "string", True, "UDP"),
        _p(vp + "SIP.OutboundProxy", "string", True, "", {"max": 256}),
        _p(vp + "SIP.OutboundProxyPort", "unsignedInt", True, 5060, {"min": 0, "max": 65535}),
        _p(vp + "SIP.UserAgentDomain", "string", True, "", {"max": 256}),
        _p(vp + "SIP.UserAgentPort", "unsignedInt", True, 5060, {"min": 0, "max": 65535}),
        _p(vp + "SIP.RegisterExpires", "unsignedInt", True, 3600, {"min": 1}),
        _p(vp + "SIP.VLANIDMark", "int", True, -1, {"min": -1, "max": 4094}),
        _p(vp + "RTP.LocalPortMin", "unsignedInt", True, 16384, {"min": 0, "max": 65535}),
        _p(vp + "RTP.LocalPortMax", "unsignedInt", True, 16482, {"min": 0, "max": 65535}),
        _p(vp + "LineNumberOfEntries", "unsignedInt", False, 2),
    ]
    objects = [[vs, 0], [vp, 1], [vp + "SIP.", 0], [vp + "RTP.", 0]]
    for n in (1, 2):
        ln = f"{vp}Line.{n}."
        objects += [[ln, 1], [ln + "SIP.", 0], [ln + "Stats.", 0]]
        params += [
            _p(ln + "Enable", "string", True, "Disabled", {"enum": ["Disabled", "Enabled"]}),
            _p(ln + "DirectoryNumber", "string", True, "", {"max": 32}),
            _p(ln + "Status", "string", False, "Disabled"),
            _p(ln + "CallState", "string", False, "Idle"),
            _p(ln + "SIP.AuthUserName", "string", True, "", {"max": 128}),
            _p(ln + "SIP.AuthPassword", "string", True, "", {"max": 128, "hidden": True}),
            _p(ln + "SIP.URI", "string", True, "", {"max": 389}),
            _p(ln + "Stats.IncomingCallsReceived", "unsignedInt", False, 0),
            _p(ln + "Stats.OutgoingCallsAttempted", "unsignedInt", False, 0),
        ]
    return params, objects


def voice_tr104v2() -> tuple[list[list[Any]], list[list[Any]]]:
    """TR-104 issue 2 VoiceService, the TR-181 form (SIP.Client/Network, CallControl)."""
    vs = "Device.Services.VoiceService.1."
    params: list[list[Any]] = [_p(vs + "Enable", "boolean", True, True)]
    objects: list[list[Any]] = [[vs + "SIP.", 0], [vs + "CallControl.", 0]]
    net = vs + "SIP.Network.1."
    objects.append([net, 1])
    params += [
        _p(net + "Enable", "boolean", True, True),
        _p(net + "ProxyServer", "string", True, "", {"max": 256}),
        _p(net + "ProxyServerPort", "unsignedInt", True, 5060, {"min": 0, "max": 65535}),
        _p(net + "RegistrarServer", "string", True, "", {"max": 256}),
        _p(net + "RegistrarServerPort", "unsignedInt", True, 5060, {"min": 0, "max": 65535}),
        _p(net + "OutboundProxy", "string", True, "", {"max": 256}),
        _p(net + "UserAgentDomain", "string", True, "", {"max": 256}),
        _p(net + "VLANIDMark", "int", True, -1, {"min": -1, "max": 4094}),
    ]
    for n in (1, 2):
        cl = f"{vs}SIP.Client.{n}."
        line = f"{vs}CallControl.Line.{n}."
        objects += [[cl, 1], [line, 1]]
        params += [
            _p(cl + "Enable", "boolean", True, False),
            _p(cl + "Network", "string", True, "Device.Services.VoiceService.1.SIP.Network.1"),
            _p(cl + "AuthUserName", "string", True, "", {"max": 128}),
            _p(cl + "AuthPassword", "string", True, "", {"max": 128, "hidden": True}),
            _p(cl + "RegisterURI", "string", True, "", {"max": 389}),
            _p(cl + "Status", "string", False, "Disabled"),
            _p(line + "Enable", "boolean", True, False),
            _p(line + "DirectoryNumber", "string", True, "", {"max": 32}),
            _p(line + "Provider", "string", True, f"Device.Services.VoiceService.1.SIP.Client.{n}"),
            _p(line + "Status", "string", False, "Disabled"),
        ]
    return params, objects


def iptv(prefix: str) -> tuple[list[list[Any]], list[list[Any]]]:
    """IGMP proxy/snooping and the multicast VLAN: vendor objects on real gateways."""
    ig = f"{prefix}X_TRACEACS_IGMP."
    params = [
        _p(ig + "Enable", "boolean", True, False),
        _p(ig + "Version", "unsignedInt", True, 3, {"min": 1, "max": 3}),
        _p(ig + "SnoopingEnable", "boolean", True, True),
        _p(ig + "FastLeave", "boolean", True, True),
        _p(ig + "MulticastVLANID", "int", True, -1, {"min": -1, "max": 4094}),
        _p(ig + "UpstreamInterface", "string", True, "", {"max": 256}),
        _p(ig + "MaxGroups", "unsignedInt", True, 64),
        _p(ig + "QueryInterval", "unsignedInt", True, 125, {"min": 1}),
    ]
    return params, [[ig, 0]]


# ------------------------------------------------------------------ XML extraction


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


class Model:
    """The object/parameter definitions of one data-model XML, keyed by template path."""

    def __init__(self, path: Path) -> None:
        root = etree.parse(str(path)).getroot()
        self.datatypes: dict[str, tuple[str, dict[str, Any]]] = {}
        for dt in root.iter("{*}dataType"):
            self.datatypes[dt.get("name", "")] = self._syntax_of(dt, dt.get("base"))
        self.objects: dict[str, tuple[bool, list[list[Any]]]] = {}
        for obj in root.iter("{*}object"):
            name = obj.get("name", "")
            if obj.get("status") in ("deleted", "obsoleted"):
                continue
            params: list[list[Any]] = []
            for prm in obj.findall("{*}parameter"):
                if prm.get("status") in ("deleted", "obsoleted"):
                    continue
                syntax = prm.find("{*}syntax")
                if syntax is None:
                    continue
                xsd, cons = self._syntax_of(syntax, None)
                if syntax.get("hidden") == "true" or syntax.get("secured") == "true":
                    cons = {**cons, "hidden": True}
                default = None
                dflt = syntax.find("{*}default")
                if dflt is not None and dflt.get("type") == "object":
                    default = dflt.get("value")
                params.append(
                    [prm.get("name"), xsd, prm.get("access") == "readWrite", default, cons]
                )
            self.objects[name] = (obj.get("access") == "readWrite", params)

    def _syntax_of(self, node: Any, base: str | None) -> tuple[str, dict[str, Any]]:
        cons: dict[str, Any] = {}
        is_list = node.find("{*}list") is not None
        for child in node:
            tag = _local(child.tag)
            if tag in PRIMITIVES:
                if is_list:
                    size = node.find("{*}list/{*}size")
                    if size is not None and size.get("maxLength"):
                        cons["max"] = int(size.get("maxLength"))
                    return "string", cons
                for sub in child:
                    st = _local(sub.tag)
                    if st == "size" and sub.get("maxLength"):
                        cons["max"] = int(sub.get("maxLength"))
                        if sub.get("minLength"):
                            cons["min"] = int(sub.get("minLength"))
                    elif st == "range":
                        if sub.get("minInclusive") is not None:
                            cons["min"] = int(sub.get("minInclusive"))
                        if sub.get("maxInclusive") is not None:
                            cons["max"] = int(sub.get("maxInclusive"))
                    elif st == "enumeration":
                        cons.setdefault("enum", []).append(sub.get("value"))
                if tag in ("hexBinary", "decimal"):
                    return "string", cons
                return tag, cons
            if tag == "dataType":
                ref = child.get("ref") or child.get("base") or ""
                xsd, inherited = self.datatypes.get(ref, ("string", {}))
                for sub in child:
                    if _local(sub.tag) == "size" and sub.get("maxLength"):
                        cons["max"] = int(sub.get("maxLength"))
                return ("string" if is_list else xsd), ({} if is_list else {**inherited, **cons})
        if base:
            return self.datatypes.get(base, ("string", {}))
        return "string", cons


def template_of(concrete: str) -> str:
    return re.sub(r"\.\d+\.", ".{i}.", re.sub(r"\.\d+\.", ".{i}.", concrete))


def typed_default(xsd: str, raw: Any) -> Any:
    if xsd == "boolean":
        return raw in (True, "true", "1")
    if xsd in ("int", "long", "unsignedInt", "unsignedLong"):
        try:
            return int(raw)
        except (TypeError, ValueError):
            return 0
    if xsd == "dateTime":
        return raw if isinstance(raw, str) and raw else "0001-01-01T00:00:00Z"
    return "" if raw is None else str(raw)


def build(
    model: Model,
    root: str,
    concrete_objects: list[str],
    defaults: dict[str, Any],
    extra: list[tuple[list[list[Any]], list[list[Any]]]],
) -> dict[str, Any]:
    params: dict[str, list[Any]] = {}
    objects: dict[str, int] = {root: 0}
    for concrete in concrete_objects:
        table_writable, defs = model.objects[template_of(concrete)]
        objects[concrete] = 1 if table_writable and re.search(r"\.\d+\.$", concrete) else 0
        for name, xsd, writable, raw, cons in defs:
            full = concrete + name
            value = typed_default(xsd, raw)
            for suffix, special in COMMON_DEFAULTS.items():
                if full == root + suffix:
                    value = special
            params[full] = [full, xsd, 1 if writable else 0, value, cons or None]
    for extra_params, extra_objects in extra:
        for p in extra_params:
            params[p[0]] = p
        for path, w in extra_objects:
            objects[path] = w
    # every ancestor object exists too (GetParameterNames walks them)
    for path in [*params, *objects]:
        parts = path.rstrip(".").split(".")
        for n in range(1, len(parts)):
            objects.setdefault(".".join(parts[:n]) + ".", 0)
    missing = [k for k in defaults if k not in params]
    if missing:
        raise SystemExit(f"defaults for unknown parameters: {missing}")
    for key, value in defaults.items():
        params[key][3] = value
    return {
        "root": root,
        "objects": sorted(objects.items()),
        "params": [params[k] for k in sorted(params)],
    }


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else DEFAULT_SRC
    OUT.mkdir(parents=True, exist_ok=True)
    tr181 = Model(src / "tr-181-2-17-0-cwmp-full.xml")
    tr098 = Model(src / "tr-098-1-8-0-full.xml")
    # a frequency-band marker for TR-098 radios (TR-098 has no such standard parameter)
    for i in (1, 2, 3):
        tr098_band = _p(
            f"InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}."
            "X_TRACEACS_OperatingFrequencyBand",
            "string",
            False,
            "",
        )
        TR098_EXTRA_BANDS.append(tr098_band)
    trees = {
        "tr181": build(
            tr181,
            "Device.",
            TR181_OBJECTS,
            TR181_DEFAULTS,
            [voice_tr104v2(), voice_tr104v1("Device."), iptv("Device.")],
        ),
        "tr098": build(
            tr098,
            "InternetGatewayDevice.",
            TR098_OBJECTS,
            TR098_DEFAULTS,
            [
                voice_tr104v1("InternetGatewayDevice."),
                iptv("InternetGatewayDevice."),
                (TR098_EXTRA_BANDS, []),
            ],
        ),
    }
    for name, tree in trees.items():
        target = OUT / f"{name}.json"
        text = json.dumps(tree, separators=(",", ":"), sort_keys=False)
        target.write_text(text.replace('],["', '],\n["') + "\n", encoding="utf-8")
        print(f"{target}: {len(tree['params'])} parameters, {len(tree['objects'])} objects")
    return 0


TR098_EXTRA_BANDS: list[list[Any]] = []

if __name__ == "__main__":
    sys.exit(main(sys.argv))
