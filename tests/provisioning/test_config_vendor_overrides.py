"""Vendor overrides: matching by OUI / product class, and what each section does."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Final

import pytest
import yaml

from tests.provisioning.config_profiles import WIFI_KEY, full_profile, wpa2_profile
from traceacs.provisioning.config_builder import ConfigBuildError, ConfigTarget, build_config
from traceacs.provisioning.profile import ExtraParameter
from traceacs.provisioning.vendor_overrides import (
    VendorOverrideError,
    VendorOverrides,
    load_vendor_overrides,
    parse_vendor_overrides,
)

IGD: Final = "InternetGatewayDevice."
BRIDGE_VLAN = IGD + "Layer2Bridging.Bridge.{i}.VLANID"
VENDOR_VLAN = IGD + "Layer2Bridging.X_ACME_VLAN.{i}.VID"

MAPPING = f"""
overrides:
  - name: acme-all-models
    match: {{oui: "00d09e"}}
    data_model: "{IGD}"
    remove: ["{IGD}Layer2Bridging.Bridge.{{i}}.BridgeEnable"]
    rename:
      - {{from: "{BRIDGE_VLAN}", to: "{VENDOR_VLAN}", type: unsignedInt}}
    add:
      - {{name: "{IGD}X_ACME_IGMP.Enable", value: "${{iptv.igmp_enabled}}", type: boolean}}
      - {{name: "{IGD}X_ACME_IGMP.Version", value: "${{iptv.igmp_version}}", type: unsignedInt}}
  - name: x100-radio-naming
    match: {{product_class: "X100"}}
    values:
      - name: "{IGD}LANDevice.{{i}}.WLANConfiguration.{{i}}.BeaconType"
        map: {{"11i": "WPA2"}}
    security_modes:
      WPA3-Personal:
        BeaconType: "11i"
        X_ACME_AuthMode: "SAE"
        X_ACME_SAEKey: "${{wifi.passphrase}}"
    parameters:
      "{IGD}LANDevice.{{i}}.WLANConfiguration.{{i}}.X_ACME_AuthMode": {{type: string}}
      "{IGD}LANDevice.{{i}}.WLANConfiguration.{{i}}.X_ACME_SAEKey": {{type: string, hidden: true}}
      "{IGD}X_ACME_Tuning.Level": {{type: unsignedInt}}
"""


@pytest.fixture
def overrides(tmp_path: Path) -> VendorOverrides:
    path = tmp_path / "overrides.yaml"
    path.write_text(MAPPING, "utf-8")
    return load_vendor_overrides(path)


def test_override_by_oui_renames_removes_and_adds(overrides: VendorOverrides) -> None:
    target = ConfigTarget(IGD, "00D09E", "Z9")  # OUI matches (case-insensitive), class not
    config = build_config(wpa2_profile(), target, overrides=overrides)
    values = dict(config.values())
    types = {p.name: p.xsd_type for p in config.parameters}
    assert values[IGD + "Layer2Bridging.X_ACME_VLAN.3.VID"] == 30
    assert types[IGD + "Layer2Bridging.X_ACME_VLAN.3.VID"] == "unsignedInt"
    assert not any(".Bridge." in name for name in values)
    assert values[IGD + "X_ACME_IGMP.Enable"] is True
    assert values[IGD + "X_ACME_IGMP.Version"] == 3
    # the product-class override did not apply
    assert values[IGD + "LANDevice.1.WLANConfiguration.1.BeaconType"] == "11i"


def test_override_by_product_class_maps_values(overrides: VendorOverrides) -> None:
    target = ConfigTarget(IGD, "AABBCC", "X100")
    values = dict(build_config(wpa2_profile(), target, overrides=overrides).values())
    assert values[IGD + "LANDevice.1.WLANConfiguration.1.BeaconType"] == "WPA2"
    assert values[IGD + "Layer2Bridging.Bridge.1.VLANID"] == 10  # OUI override not applied


def test_security_mode_override_enables_wpa3_on_tr098(overrides: VendorOverrides) -> None:
    profile = wpa2_profile()
    assert profile.wifi is not None
    profile = dataclasses.replace(
        profile, wifi=dataclasses.replace(profile.wifi, security="WPA3-Personal")
    )
    config = build_config(profile, ConfigTarget(IGD, "AABBCC", "X100"), overrides=overrides)
    key_name = IGD + "LANDevice.1.WLANConfiguration.2.X_ACME_SAEKey"
    assert dict(config.values())[key_name] == WIFI_KEY
    assert key_name in config.secret_names
    assert key_name not in config.verifiable_names  # declared hidden


def test_no_match_leaves_the_standard_mapping(overrides: VendorOverrides) -> None:
    target = ConfigTarget(IGD, "AABBCC", "Other")
    assert (
        build_config(wpa2_profile(), target, overrides=overrides).parameter_key
        == build_config(wpa2_profile(), target, overrides=VendorOverrides()).parameter_key
    )


def test_declared_vendor_parameter_allowed_as_extra(overrides: VendorOverrides) -> None:
    profile = dataclasses.replace(
        wpa2_profile(),
        extra_parameters=(ExtraParameter(IGD + "X_ACME_Tuning.Level", "4", "unsignedInt"),),
    )
    config = build_config(profile, ConfigTarget(IGD, "AABBCC", "X100"), overrides=overrides)
    assert dict(config.values())[IGD + "X_ACME_Tuning.Level"] == 4
    with pytest.raises(ConfigBuildError, match="no vendor override for this device declares it"):
        build_config(profile, ConfigTarget(IGD, "AABBCC", "Y"), overrides=overrides)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"overrides": [{"name": "a", "match": {}}]}, "needs an oui"),
        ({"overrides": [{"name": "a", "match": {"oui": "1"}, "bogus": 1}]}, "unknown keys"),
        (
            {
                "overrides": [
                    {
                        "name": "a",
                        "match": {"oui": "1"},
                        "rename": [{"from": BRIDGE_VLAN, "to": IGD + "Layer2.VID", "type": "int"}],
                    }
                ]
            },
            "no X_ segment",
        ),
        (
            {
                "overrides": [
                    {
                        "name": "a",
                        "match": {"oui": "1"},
                        "add": [{"name": IGD + "X_A.B", "value": "1", "type": "integer"}],
                    }
                ]
            },
            "is not one of",
        ),
        (
            {
                "overrides": [
                    {"name": "a", "match": {"oui": "1"}, "add": [{"name": "x", "value": "${nope}"}]}
                ]
            },
            "unknown profile field",
        ),
    ],
)
def test_malformed_mapping_rejected_at_load(document: object, message: str) -> None:
    with pytest.raises(VendorOverrideError, match=message):
        parse_vendor_overrides(document)


def test_undeclared_vendor_rename_target_is_rejected() -> None:
    overrides = parse_vendor_overrides(
        yaml.safe_load(
            f"""
overrides:
  - name: sloppy
    match: {{oui: "00D09E"}}
    rename: [{{from: "{BRIDGE_VLAN}", to: "{VENDOR_VLAN}"}}]
"""
        )
    )
    with pytest.raises(ConfigBuildError, match=r"X_ACME_VLAN\.1\.VID is not in"):
        build_config(wpa2_profile(), ConfigTarget(IGD, "00D09E", "X"), overrides=overrides)


def test_tr181_vendor_override_applies_only_to_its_root(overrides: VendorOverrides) -> None:
    # the OUI override is restricted to InternetGatewayDevice.
    config = build_config(
        full_profile(), ConfigTarget("Device.", "00D09E", "Z"), overrides=overrides
    )
    assert not any("X_ACME" in name for name in config.names)
