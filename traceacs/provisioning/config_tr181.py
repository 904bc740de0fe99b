"""A service profile as TR-181 (``Device.``) parameters.

Wi-Fi: ``Device.WiFi.Radio/SSID/AccessPoint.{band}`` with the security mode in
``AccessPoint.{band}.Security``; VLANs: ``Device.Ethernet.VLANTermination.{n}``; VoIP:
TR-104 v2 under ``Device.Services.VoiceService.1`` (SIP.Network per distinct
registrar/proxy pair, SIP.Client and CallControl.Line per line); IPTV: its VLAN. TR-181
2.17 has no IGMP proxy parameters, so IGMP settings need a vendor override.
"""

from __future__ import annotations

from typing import Final

from traceacs.provisioning.config_common import (
    BAND_INSTANCE,
    PASSPHRASE,
    SecurityTable,
    sip_server_groups,
    vlan_plan,
)
from traceacs.provisioning.config_types import ConfigBuildError, Setting
from traceacs.provisioning.profile import ServiceProfile

SECURITY: Final[SecurityTable] = {
    "None": {"ModeEnabled": "None"},
    "WPA2-Personal": {"ModeEnabled": "WPA2-Personal", "KeyPassphrase": PASSPHRASE},
    "WPA3-Personal": {
        "ModeEnabled": "WPA3-Personal",
        "SAEPassphrase": PASSPHRASE,
        "MFPConfig": "Required",
    },
    "WPA2-WPA3-Personal": {
        "ModeEnabled": "WPA3-Personal-Transition",
        "KeyPassphrase": PASSPHRASE,
        "SAEPassphrase": PASSPHRASE,
        "MFPConfig": "Optional",
    },
}

_VOICE: Final = "Device.Services.VoiceService.1."


def wifi(profile: ServiceProfile, security: SecurityTable) -> list[Setting]:
    if profile.wifi is None:
        return []
    out: list[Setting] = []
    for band in profile.wifi.bands:
        mode = profile.wifi.security
        if band == "6GHz":
            # 6 GHz admits WPA3 only (Wi-Fi Alliance); a transition mode means WPA3 there.
            if mode == "WPA2-WPA3-Personal":
                mode = "WPA3-Personal"
            elif mode != "WPA3-Personal":
                raise ConfigBuildError(f"Wi-Fi security {mode} is not allowed on 6GHz")
        n = BAND_INSTANCE[band]
        out += [
            Setting(f"Device.WiFi.Radio.{n}.Enable", True),
            Setting(f"Device.WiFi.SSID.{n}.Enable", True),
            Setting(f"Device.WiFi.SSID.{n}.SSID", profile.wifi.ssid),
            Setting(f"Device.WiFi.AccessPoint.{n}.Enable", True),
        ]
        if mode not in security:
            raise ConfigBuildError(f"Wi-Fi security {mode} has no TR-181 mapping")
        for param, value in security[mode].items():
            name = f"Device.WiFi.AccessPoint.{n}.Security.{param}"
            if value == PASSPHRASE:
                out.append(Setting(name, profile.wifi.passphrase, secret=True))
            else:
                out.append(Setting(name, value))
    return out


def vlans(profile: ServiceProfile) -> list[Setting]:
    out: list[Setting] = []
    for n, vid in vlan_plan(profile):
        out += [
            Setting(f"Device.Ethernet.VLANTermination.{n}.Enable", True),
            Setting(f"Device.Ethernet.VLANTermination.{n}.VLANID", vid),
        ]
    return out


def voip(profile: ServiceProfile) -> list[Setting]:
    if not profile.has_voip:
        return []
    out: list[Setting] = []
    for g, ((registrar, proxy), _) in enumerate(sip_server_groups(profile), start=1):
        net = f"{_VOICE}SIP.Network.{g}."
        out += [
            Setting(net + "Enable", True),
            Setting(net + "RegistrarServer", registrar),
            Setting(net + "ProxyServer", proxy),
        ]
        if profile.vlans.voip is not None:
            out.append(Setting(net + "VLANIDMark", profile.vlans.voip))
    network_of = {
        index: g
        for g, (_, indexes) in enumerate(sip_server_groups(profile), start=1)
        for index in indexes
    }
    for index, line in enumerate(profile.voip_lines):
        k = index + 1
        client = f"{_VOICE}SIP.Client.{k}."
        call_line = f"{_VOICE}CallControl.Line.{k}."
        out += [
            Setting(client + "Enable", True),
            Setting(client + "Network", f"{_VOICE}SIP.Network.{network_of[index]}"),
            Setting(client + "AuthUserName", line.user),
            Setting(client + "AuthPassword", line.password, secret=True),
            Setting(call_line + "Enable", True),
            Setting(call_line + "Provider", f"{_VOICE}SIP.Client.{k}"),
        ]
        if line.directory_number:
            out.append(Setting(call_line + "DirectoryNumber", line.directory_number))
    return out


def settings(profile: ServiceProfile, security: SecurityTable) -> list[Setting]:
    """Every standard TR-181 setting for ``profile`` (IPTV is its VLAN, in `vlans`)."""
    return wifi(profile, security) + vlans(profile) + voip(profile)
