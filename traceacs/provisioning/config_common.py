"""Conventions both data-model mappers share: instance numbers and profile fields.

Instance numbering is a convention, not something the models define: band 2.4 GHz is
instance 1, 5 GHz 2, 6 GHz 3 (Radio, SSID, AccessPoint, WLANConfiguration); VLANs are
1 internet, 2 voip, 3 iptv, 4 the IPTV multicast VLAN when it differs from the IPTV
service VLAN. A device that numbers its instances differently gets a vendor override
(``rename``), which keeps the convention in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from traceacs.cwmp.messages import ParamValue
from traceacs.provisioning.config_types import ConfigBuildError
from traceacs.provisioning.profile import ServiceProfile, WifiBand, WifiSecurity

BAND_INSTANCE: Final[Mapping[WifiBand, int]] = {"2.4GHz": 1, "5GHz": 2, "6GHz": 3}
VLAN_INSTANCE: Final[Mapping[str, int]] = {"internet": 1, "voip": 2, "iptv": 3, "multicast": 4}

#: security-mode tables map a parameter (relative to the model's security object) to a
#: value; this placeholder stands for the profile's Wi-Fi passphrase (a secret).
PASSPHRASE: Final = "${wifi.passphrase}"  # noqa: S105 - a placeholder, not a secret

SecurityTable = Mapping[WifiSecurity, Mapping[str, str]]


def vlan_plan(profile: ServiceProfile) -> list[tuple[int, int]]:
    """(instance, VLAN id) for every tagged service the profile has, in instance order."""
    plan: list[tuple[int, int]] = []
    vlans = profile.vlans
    if "internet" in profile.services and vlans.internet is not None:
        plan.append((VLAN_INSTANCE["internet"], vlans.internet))
    if profile.has_voip and vlans.voip is not None:
        plan.append((VLAN_INSTANCE["voip"], vlans.voip))
    if profile.has_iptv:
        multicast = profile.iptv.multicast_vlan if profile.iptv else None
        if vlans.iptv is not None:
            plan.append((VLAN_INSTANCE["iptv"], vlans.iptv))
            if multicast is not None and multicast != vlans.iptv:
                plan.append((VLAN_INSTANCE["multicast"], multicast))
        elif multicast is not None:
            plan.append((VLAN_INSTANCE["iptv"], multicast))
    for _, vid in plan:
        if not 0 <= vid <= 4094:
            raise ConfigBuildError(f"VLAN id {vid} is outside 0..4094")
    return plan


def sip_server_groups(profile: ServiceProfile) -> list[tuple[tuple[str, str], list[int]]]:
    """Lines grouped by (registrar, proxy), first-seen order: line indexes are 0-based.

    TR-098's VoiceProfile holds the servers for all its lines, so lines with different
    servers need different VoiceProfiles; TR-181 uses the same grouping for SIP.Network.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for index, line in enumerate(profile.voip_lines):
        groups.setdefault((line.registrar, line.proxy), []).append(index)
    return list(groups.items())


# Profile fields a vendor override may use as a value ("${iptv.igmp_version}").
# The bool says whether the field is a secret.
_FIELDS: Final[Mapping[str, tuple[Callable[[ServiceProfile], ParamValue | None], bool]]] = {
    "wifi.ssid": (lambda p: p.wifi.ssid if p.wifi else None, False),
    "wifi.passphrase": (lambda p: p.wifi.passphrase if p.wifi else None, True),
    "wifi.security": (lambda p: p.wifi.security if p.wifi else None, False),
    "vlans.internet": (lambda p: p.vlans.internet, False),
    "vlans.voip": (lambda p: p.vlans.voip, False),
    "vlans.iptv": (lambda p: p.vlans.iptv, False),
    "iptv.multicast_vlan": (lambda p: p.iptv.multicast_vlan if p.iptv else None, False),
    "iptv.igmp_enabled": (lambda p: p.iptv.igmp_enabled if p.iptv else None, False),
    "iptv.igmp_version": (lambda p: p.iptv.igmp_version if p.iptv else None, False),
}
PROFILE_FIELDS: Final = frozenset(_FIELDS)


def placeholder_field(value: str) -> str | None:
    """``"${iptv.igmp_version}"`` -> ``"iptv.igmp_version"``; anything else -> None."""
    if value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return None


def resolve_field(profile: ServiceProfile, name: str) -> tuple[ParamValue | None, bool]:
    """(value, is_secret) of a profile field; value None when the profile lacks it."""
    if name not in _FIELDS:
        raise ConfigBuildError(
            f"unknown profile field ${{{name}}}; known: {', '.join(sorted(_FIELDS))}"
        )
    getter, secret = _FIELDS[name]
    return getter(profile), secret
