"""Profiles shared by the config-builder tests."""

from __future__ import annotations

from traceacs.provisioning.profile import (
    IptvConfig,
    ServiceProfile,
    VlanConfig,
    VoipLine,
    WifiConfig,
    WifiSecurity,
)

WIFI_KEY = "correct-horse-battery"
SIP_PASSWORDS = ("sip-pw-one-9f3", "sip-pw-two-7c1")


def full_profile(security: WifiSecurity = "WPA2-WPA3-Personal") -> ServiceProfile:
    """internet + voip + iptv, three bands, two VoIP lines on different registrars."""
    return ServiceProfile(
        name="gold",
        services=("internet", "voip", "iptv"),
        wifi=WifiConfig("home-net", WIFI_KEY, security, ("2.4GHz", "5GHz", "6GHz")),
        vlans=VlanConfig(internet=10, voip=20, iptv=30),
        voip_lines=(
            VoipLine("reg1.example.net", "proxy.example.net", "alice", SIP_PASSWORDS[0], "+3311"),
            VoipLine("reg2.example.net", "proxy.example.net", "bob", SIP_PASSWORDS[1]),
        ),
        iptv=IptvConfig(multicast_vlan=31),
        version="7",
    )


def wpa2_profile() -> ServiceProfile:
    """The full profile on two bands with WPA2 (what TR-098 can express)."""
    full = full_profile("WPA2-Personal")
    assert full.wifi is not None
    return ServiceProfile(
        name=full.name,
        services=full.services,
        wifi=WifiConfig(full.wifi.ssid, WIFI_KEY, "WPA2-Personal", ("2.4GHz", "5GHz")),
        vlans=full.vlans,
        voip_lines=full.voip_lines,
        iptv=full.iptv,
    )
