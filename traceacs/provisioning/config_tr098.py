"""A service profile as TR-098 (``InternetGatewayDevice.``) parameters.

Wi-Fi: ``LANDevice.1.WLANConfiguration.{band}`` (BeaconType and the 11i modes, the
passphrase in ``PreSharedKey.1.KeyPassphrase``); VLANs: the standard layer-2 bridging
``Layer2Bridging.Bridge.{n}.VLANID``; VoIP: TR-104 v1 under
``Services.VoiceService.1.VoiceProfile.{p}`` (one VoiceProfile per distinct
registrar/proxy pair, its lines under it); IPTV: its VLAN. TR-098 predates WPA3 and has
no IGMP proxy parameters: both need a vendor override (``security_modes``, ``add``).
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
    "None": {
        "BeaconType": "Basic",
        "BasicAuthenticationMode": "None",
        "BasicEncryptionModes": "None",
    },
    "WPA2-Personal": {
        "BeaconType": "11i",
        "IEEE11iAuthenticationMode": "PSKAuthentication",
        "IEEE11iEncryptionModes": "AESEncryption",
        "PreSharedKey.1.KeyPassphrase": PASSPHRASE,
    },
}

_WLAN: Final = "InternetGatewayDevice.LANDevice.1.WLANConfiguration."
_VOICE: Final = "InternetGatewayDevice.Services.VoiceService.1."


def wifi(profile: ServiceProfile, security: SecurityTable) -> list[Setting]:
    if profile.wifi is None:
        return []
    mode = profile.wifi.security
    if mode not in security:
        raise ConfigBuildError(
            f"Wi-Fi security {mode} has no standard TR-098 mapping (TR-098 predates WPA3); "
            "a vendor override must give it under security_modes"
        )
    out: list[Setting] = []
    for band in profile.wifi.bands:
        wlan = f"{_WLAN}{BAND_INSTANCE[band]}."
        out += [Setting(wlan + "Enable", True), Setting(wlan + "SSID", profile.wifi.ssid)]
        for param, value in security[mode].items():
            if value == PASSPHRASE:
                out.append(Setting(wlan + param, profile.wifi.passphrase, secret=True))
            else:
                out.append(Setting(wlan + param, value))
    return out


def vlans(profile: ServiceProfile) -> list[Setting]:
    out: list[Setting] = []
    for n, vid in vlan_plan(profile):
        bridge = f"InternetGatewayDevice.Layer2Bridging.Bridge.{n}."
        out += [Setting(bridge + "BridgeEnable", True), Setting(bridge + "VLANID", vid)]
    return out


def voip(profile: ServiceProfile) -> list[Setting]:
    if not profile.has_voip:
        return []
    out: list[Setting] = []
    for p, ((registrar, proxy), indexes) in enumerate(sip_server_groups(profile), start=1):
        vp = f"{_VOICE}VoiceProfile.{p}."
        out += [
            Setting(vp + "Enable", "Enabled"),
            Setting(vp + "SIP.RegistrarServer", registrar),
            Setting(vp + "SIP.ProxyServer", proxy),
        ]
        if profile.vlans.voip is not None:
            out.append(Setting(vp + "SIP.VLANIDMark", profile.vlans.voip))
        for k, index in enumerate(indexes, start=1):
            line = profile.voip_lines[index]
            prefix = f"{vp}Line.{k}."
            out += [
                Setting(prefix + "Enable", "Enabled"),
                Setting(prefix + "SIP.AuthUserName", line.user),
                Setting(prefix + "SIP.AuthPassword", line.password, secret=True),
            ]
            if line.directory_number:
                out.append(Setting(prefix + "DirectoryNumber", line.directory_number))
    return out


def settings(profile: ServiceProfile, security: SecurityTable) -> list[Setting]:
    """Every standard TR-098 setting for ``profile`` (IPTV is its VLAN, in `vlans`)."""
    return wifi(profile, security) + vlans(profile) + voip(profile)
