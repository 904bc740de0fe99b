"""Profile documents: every validation rule, precise paths, and no secret in any error."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from traceacs.profiles.document import (
    ProfileDocumentError,
    profile_from_document,
    profile_to_document,
)
from traceacs.provisioning.profile import (
    ExtraParameter,
    IptvConfig,
    ServiceProfile,
    VlanConfig,
    VoipLine,
    WifiConfig,
)

WIFI_KEY = "correct-horse-battery"
SIP_PASSWORD = "sip-Secret-99"


def full_document() -> dict[str, Any]:
    return {
        "name": "triple-play-500",
        "version": "7",
        "services": ["internet", "voip", "iptv"],
        "wifi": {
            "ssid": "Home-1234",
            "passphrase": WIFI_KEY,
            "security": "WPA2-WPA3-Personal",
            "bands": ["2.4GHz", "5GHz", "6GHz"],
        },
        "vlans": {"internet": 100, "voip": 200, "iptv": 300},
        "voip_lines": [
            {
                "registrar": "sip.isp.example",
                "proxy": "proxy.isp.example",
                "user": "+3312345678",
                "password": SIP_PASSWORD,
                "directory_number": "0123456789",
            }
        ],
        "iptv": {"multicast_vlan": 300, "igmp_enabled": True, "igmp_version": 2},
        "extra_parameters": [
            {"name": "Device.Time.NTPServer1", "value": "ntp.isp.example", "type": "string"},
            {"name": "Device.X_VENDOR_Led", "value": False, "type": "boolean"},
            {"name": "Device.X_VENDOR_Mtu", "value": 1492, "type": "unsignedInt"},
        ],
        "target_firmware": "2.1.0",
    }


def problems_of(document: object) -> list[str]:
    with pytest.raises(ProfileDocumentError) as info:
        profile_from_document(document)
    text = str(info.value)
    assert WIFI_KEY not in text
    assert SIP_PASSWORD not in text
    return [str(p) for p in info.value.problems]


def test_full_document_builds_the_profile() -> None:
    profile = profile_from_document(full_document())
    assert profile == ServiceProfile(
        name="triple-play-500",
        version="7",
        services=("internet", "voip", "iptv"),
        wifi=WifiConfig(
            ssid="Home-1234",
            passphrase=WIFI_KEY,
            security="WPA2-WPA3-Personal",
            bands=("2.4GHz", "5GHz", "6GHz"),
        ),
        vlans=VlanConfig(internet=100, voip=200, iptv=300),
        voip_lines=(
            VoipLine(
                registrar="sip.isp.example",
                proxy="proxy.isp.example",
                user="+3312345678",
                password=SIP_PASSWORD,
                directory_number="0123456789",
            ),
        ),
        iptv=IptvConfig(multicast_vlan=300, igmp_enabled=True, igmp_version=2),
        extra_parameters=(
            ExtraParameter("Device.Time.NTPServer1", "ntp.isp.example", "string"),
            ExtraParameter("Device.X_VENDOR_Led", "false", "boolean"),
            ExtraParameter("Device.X_VENDOR_Mtu", "1492", "unsignedInt"),
        ),
        target_firmware="2.1.0",
    )


def test_minimal_document_gets_defaults() -> None:
    profile = profile_from_document({"name": "basic", "services": ["internet"]})
    assert profile == ServiceProfile(name="basic", services=("internet",))
    wifi = profile_from_document(
        {"name": "b", "services": ["internet"], "wifi": {"ssid": "x", "passphrase": "12345678"}}
    ).wifi
    assert wifi == WifiConfig(ssid="x", passphrase="12345678")


def test_round_trip_through_the_document_form() -> None:
    profile = profile_from_document(full_document())
    assert profile_from_document(profile_to_document(profile)) == profile
    minimal = ServiceProfile(name="basic", services=("internet",), vlans=VlanConfig(internet=7))
    assert profile_to_document(minimal) == {
        "name": "basic",
        "version": "",
        "services": ["internet"],
        "vlans": {"internet": 7},
    }
    assert profile_from_document(profile_to_document(minimal)) == minimal


def test_integer_version_is_accepted_float_version_is_explained() -> None:
    assert profile_from_document({"name": "n", "services": [], "version": 12}).version == "12"
    (problem,) = problems_of({"name": "n", "services": [], "version": 1.1})
    assert problem.startswith("version: must be a string or an integer")


def mutated(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    doc = full_document()
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("wifi", "bands", 1), "7GHz", "wifi.bands[1]: '7GHz' is not one of 2.4GHz, 5GHz, 6GHz"),
        (("wifi", "bands", 1), "2.4GHz", "wifi.bands[1]: '2.4GHz' is listed twice"),
        (("wifi", "bands"), [], "wifi.bands: must list at least one band"),
        (("wifi", "bands"), "5GHz", "wifi.bands: must be a list, got string"),
        (
            ("wifi", "security"),
            "WEP",
            "wifi.security: 'WEP' is not one of WPA2-Personal, WPA3-Personal, "
            "WPA2-WPA3-Personal, None",
        ),
        (("wifi", "ssid"), "", "wifi.ssid: must not be empty"),
        (("wifi", "ssid"), "é" * 17, "wifi.ssid: must be at most 32 bytes in UTF-8"),
        (("wifi", "ssid"), _DELETE, "wifi.ssid: is required"),
        (("vlans", "voip"), 0, "vlans.voip: 0 is out of range 1-4094"),
        (("vlans", "internet"), 4095, "vlans.internet: 4095 is out of range 1-4094"),
        (("vlans", "iptv"), "300", "vlans.iptv: must be an integer, got string"),
        (("vlans", "iptv"), True, "vlans.iptv: must be an integer, got boolean"),
        (("vlans", "video"), 5, "vlans.video: unknown field (expected internet, voip, iptv)"),
        (("iptv", "multicast_vlan"), 5000, "iptv.multicast_vlan: 5000 is out of range 1-4094"),
        (("iptv", "multicast_vlan"), _DELETE, "iptv.multicast_vlan: is required"),
        (("iptv", "igmp_version"), 4, "iptv.igmp_version: 4 is not one of 1, 2, 3"),
        (("iptv", "igmp_enabled"), "yes", "iptv.igmp_enabled: must be true or false, got string"),
        (("services", 0), "tv", "services[0]: 'tv' is not one of internet, voip, iptv"),
        (
            ("services",),
            ["internet", "voip", "iptv", "voip"],
            "services[3]: 'voip' is listed twice",
        ),
        (("name",), "  ", "name: must not be empty"),
        (("name",), _DELETE, "name: is required"),
        (("services",), _DELETE, "services: is required"),
        (("target_firmware",), 2, "target_firmware: must be a string, got number"),
        (("voip_lines", 0, "registrar"), _DELETE, "voip_lines[0].registrar: is required"),
        (("voip_lines", 0, "user"), 42, "voip_lines[0].user: must be a string, got number"),
        (("voip_lines", 0, "realm"), "x", "voip_lines[0].realm: unknown field"),
        (("extra_parameters", 1, "value"), "maybe", "extra_parameters[1].value: must be true"),
        (
            ("extra_parameters", 2, "value"),
            -1,
            "extra_parameters[2].value: is out of range for type unsignedInt",
        ),
        (("extra_parameters", 0, "type"), "float", "extra_parameters[0].type: 'float' is not"),
        (
            ("extra_parameters", 0, "name"),
            "Device.Time.",
            "extra_parameters[0].name: 'Device.Time.' is not a full parameter name",
        ),
        (("extra_parameters", 0, "value"), _DELETE, "extra_parameters[0].value: is required"),
        (("colour",), "blue", "colour: unknown field"),
    ],
)
def test_each_rule_names_the_field(
    path: tuple[str | int, ...], value: object, expected: str
) -> None:
    problems = problems_of(mutated(path, value))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)


@pytest.mark.parametrize(
    "passphrase",
    ["short7!", "x" * 64, "caf\u00e9-caf\u00e9-caf\u00e9", "tab\there-and-more"],
)
def test_wpa_passphrase_rules_never_echo_the_passphrase(passphrase: str) -> None:
    problems = problems_of(mutated(("wifi", "passphrase"), passphrase))
    assert len(problems) == 1
    assert problems[0].startswith("wifi.passphrase: must")
    assert passphrase not in problems[0]


def test_passphrase_boundaries_are_inclusive() -> None:
    for length in (8, 63):
        doc = mutated(("wifi", "passphrase"), "p" * length)
        assert profile_from_document(doc).wifi == WifiConfig(
            ssid="Home-1234",
            passphrase="p" * length,
            security="WPA2-WPA3-Personal",
            bands=("2.4GHz", "5GHz", "6GHz"),
        )


def test_ssid_limit_is_in_bytes_not_characters() -> None:
    # 16 two-byte characters = 32 bytes: allowed; 17 would be 34 bytes (see table above).
    assert profile_from_document(mutated(("wifi", "ssid"), "é" * 16)).wifi is not None


def test_open_network_needs_no_passphrase() -> None:
    doc = full_document()
    doc["wifi"] = {"ssid": "Guest", "security": "None"}
    wifi = profile_from_document(doc).wifi
    assert wifi is not None
    assert wifi.passphrase == ""
    doc["wifi"] = {"ssid": "Guest", "security": "WPA3-Personal"}
    assert problems_of(doc) == ["wifi.passphrase: is required unless security is None"]


def test_voip_lines_present_iff_voip_service() -> None:
    doc = full_document()
    doc["services"] = ["internet", "iptv"]
    assert problems_of(doc) == ["voip_lines: must be absent when services do not include voip"]
    doc = full_document()
    doc["voip_lines"] = []
    assert problems_of(doc) == [
        "voip_lines: is required (at least one line) when services include voip"
    ]


def test_iptv_present_iff_iptv_service() -> None:
    doc = full_document()
    doc["services"] = ["internet", "voip"]
    assert problems_of(doc) == ["iptv: must be absent when services do not include iptv"]
    doc = full_document()
    del doc["iptv"]
    assert problems_of(doc) == ["iptv: is required when services include iptv"]


def test_all_problems_are_reported_at_once() -> None:
    doc = full_document()
    doc["vlans"]["voip"] = 0
    doc["wifi"]["bands"] = ["7GHz"]
    doc["voip_lines"][0]["password"] = ""
    with pytest.raises(ProfileDocumentError) as info:
        profile_from_document(doc)
    assert [p.path for p in info.value.problems] == [
        "wifi.bands[0]",
        "vlans.voip",
        "voip_lines[0].password",
    ]
    assert str(info.value).startswith("3 problems: wifi.bands[0]: '7GHz' is not one of")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("wifi", "passphrase"), 12345678),
        (("voip_lines", 0, "password"), ["list", "of", "secrets"]),
        (("extra_parameters", 0, "value"), {"nested": "secret-value-123"}),
    ],
)
def test_wrongly_typed_secrets_are_described_by_type_only(
    path: tuple[str | int, ...], value: object
) -> None:
    problems = problems_of(mutated(path, value))
    assert len(problems) == 1
    assert "12345678" not in problems[0]
    assert "secret" not in problems[0]
    assert "must be a string" in problems[0]


def test_extra_parameter_values_are_never_echoed() -> None:
    doc = full_document()
    doc["extra_parameters"][2]["value"] = "hunter2-is-my-password"
    (problem,) = problems_of(doc)
    assert problem == "extra_parameters[2].value: must be an integer for type unsignedInt"


def test_not_an_object_at_all() -> None:
    assert problems_of(["a", "list"]) == ["must be an object, got list"]


def test_profile_repr_hides_secrets() -> None:
    profile = profile_from_document(full_document())
    assert WIFI_KEY not in repr(profile)
    assert SIP_PASSWORD not in repr(profile)
    assert copy.deepcopy(profile) == profile
