"""build_config: names and types from the data model, ParameterKey, secrets."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from tests.provisioning.config_profiles import SIP_PASSWORDS, WIFI_KEY, full_profile, wpa2_profile
from traceacs.cwmp.messages import DeviceId, EventStruct, Inform, ParameterValueStruct
from traceacs.datamodel import load_data_model
from traceacs.provisioning.config_builder import (
    ConfigBuildError,
    ConfigTarget,
    DesiredConfig,
    build_config,
)
from traceacs.provisioning.profile import ExtraParameter, ServiceProfile, WifiConfig
from traceacs.provisioning.vendor_overrides import VendorOverrides

NO_OVERRIDES = VendorOverrides()
TR181 = ConfigTarget("Device.", "00D09E", "X100")
TR098 = ConfigTarget("InternetGatewayDevice.", "00D09E", "X100")
PY_TYPES = {
    "string": str,
    "boolean": bool,
    "int": int,
    "unsignedInt": int,
    "long": int,
    "unsignedLong": int,
}


def build(profile: ServiceProfile, target: ConfigTarget) -> DesiredConfig:
    return build_config(profile, target, overrides=NO_OVERRIDES)


@pytest.mark.parametrize(
    ("target", "profile"),
    [(TR181, full_profile()), (TR098, wpa2_profile())],
    ids=["tr181", "tr098"],
)
def test_every_emitted_parameter_exists_writable_and_typed(
    target: ConfigTarget, profile: ServiceProfile
) -> None:
    config = build(profile, target)
    model = load_data_model(target.data_model_root)
    assert config.data_model_root == target.data_model_root
    assert len(config.names) == len(set(config.names))
    for p in config.parameters:
        spec = model.lookup(p.name)
        assert spec is not None, p.name
        assert spec.writable, p.name
        assert p.xsd_type == spec.xsd_type, p.name
        assert type(p.value) is PY_TYPES[p.xsd_type], p.name


def _values(config: DesiredConfig) -> dict[str, object]:
    return dict(config.values())


def test_tr181_full_profile_mapping() -> None:
    values = _values(build(full_profile(), TR181))
    for n in (1, 2, 3):
        assert values[f"Device.WiFi.SSID.{n}.SSID"] == "home-net"
        assert values[f"Device.WiFi.SSID.{n}.Enable"] is True
    assert values["Device.WiFi.AccessPoint.1.Security.ModeEnabled"] == "WPA3-Personal-Transition"
    assert values["Device.WiFi.AccessPoint.1.Security.KeyPassphrase"] == WIFI_KEY
    # 6 GHz is WPA3-only: the transition mode becomes WPA3 there, no WPA2 key
    assert values["Device.WiFi.AccessPoint.3.Security.ModeEnabled"] == "WPA3-Personal"
    assert "Device.WiFi.AccessPoint.3.Security.KeyPassphrase" not in values
    assert values["Device.WiFi.AccessPoint.3.Security.SAEPassphrase"] == WIFI_KEY
    vlan = {n: values[f"Device.Ethernet.VLANTermination.{n}.VLANID"] for n in (1, 2, 3, 4)}
    assert vlan == {1: 10, 2: 20, 3: 30, 4: 31}
    voice = "Device.Services.VoiceService.1."
    assert values[voice + "SIP.Network.1.RegistrarServer"] == "reg1.example.net"
    assert values[voice + "SIP.Network.2.RegistrarServer"] == "reg2.example.net"
    assert values[voice + "SIP.Client.2.Network"] == voice + "SIP.Network.2"
    assert values[voice + "SIP.Client.1.AuthUserName"] == "alice"
    assert values[voice + "SIP.Client.2.AuthPassword"] == SIP_PASSWORDS[1]
    assert values[voice + "CallControl.Line.1.DirectoryNumber"] == "+3311"


def test_tr098_full_profile_mapping() -> None:
    values = _values(build(wpa2_profile(), TR098))
    wlan = "InternetGatewayDevice.LANDevice.1.WLANConfiguration."
    assert values[wlan + "2.SSID"] == "home-net"
    assert values[wlan + "1.BeaconType"] == "11i"
    assert values[wlan + "1.PreSharedKey.1.KeyPassphrase"] == WIFI_KEY
    bridge = "InternetGatewayDevice.Layer2Bridging.Bridge."
    assert [values[f"{bridge}{n}.VLANID"] for n in (1, 2, 3, 4)] == [10, 20, 30, 31]
    vp = "InternetGatewayDevice.Services.VoiceService.1.VoiceProfile."
    assert values[vp + "1.SIP.RegistrarServer"] == "reg1.example.net"
    assert values[vp + "2.SIP.RegistrarServer"] == "reg2.example.net"
    assert values[vp + "2.Line.1.SIP.AuthUserName"] == "bob"
    assert values[vp + "1.Line.1.SIP.AuthPassword"] == SIP_PASSWORDS[0]


def test_tr098_rejects_wpa3_without_vendor_mapping() -> None:
    with pytest.raises(ConfigBuildError, match="WPA3-Personal has no standard TR-098 mapping"):
        build(full_profile("WPA3-Personal"), TR098)


def test_wpa2_on_6ghz_is_rejected() -> None:
    profile = dataclasses.replace(
        full_profile(), wifi=WifiConfig("x", WIFI_KEY, "WPA2-Personal", ("6GHz",))
    )
    with pytest.raises(ConfigBuildError, match="not allowed on 6GHz"):
        build(profile, TR181)


def test_parameter_key_is_stable_and_fits_the_schema() -> None:
    first = build(full_profile(), TR181)
    again = build(full_profile(), TR181)
    assert first.parameter_key == again.parameter_key
    assert re.fullmatch(r"[0-9a-f]{32}", first.parameter_key)
    # the key depends on content, not on the BSS's version label
    relabelled = dataclasses.replace(full_profile(), version="8", name="other")
    assert build(relabelled, TR181).parameter_key == first.parameter_key


def _changed_profiles() -> list[ServiceProfile]:
    base = full_profile()
    assert base.wifi is not None
    line = base.voip_lines[1]
    return [
        dataclasses.replace(base, wifi=dataclasses.replace(base.wifi, ssid="home-net2")),
        dataclasses.replace(base, wifi=dataclasses.replace(base.wifi, passphrase=WIFI_KEY + "!")),
        dataclasses.replace(base, vlans=dataclasses.replace(base.vlans, iptv=33)),
        dataclasses.replace(
            base,
            voip_lines=(base.voip_lines[0], dataclasses.replace(line, password="other-pw")),
        ),
        dataclasses.replace(
            base,
            extra_parameters=(
                ExtraParameter(
                    "Device.ManagementServer.PeriodicInformInterval", "600", "unsignedInt"
                ),
            ),
        ),
    ]


@pytest.mark.parametrize("changed", _changed_profiles())
def test_parameter_key_changes_when_any_value_changes(changed: ServiceProfile) -> None:
    assert build(changed, TR181).parameter_key != build(full_profile(), TR181).parameter_key


def test_parameter_key_secret_keys_the_hash() -> None:
    plain = build_config(full_profile(), TR181, overrides=NO_OVERRIDES)
    keyed = build_config(full_profile(), TR181, overrides=NO_OVERRIDES, key_secret=b"k1")
    other = build_config(full_profile(), TR181, overrides=NO_OVERRIDES, key_secret=b"k2")
    assert len({plain.parameter_key, keyed.parameter_key, other.parameter_key}) == 3


@pytest.mark.parametrize(
    ("target", "profile"), [(TR181, full_profile()), (TR098, wpa2_profile())], ids=["181", "098"]
)
def test_secrets_flagged_and_hidden_not_verifiable(
    target: ConfigTarget, profile: ServiceProfile
) -> None:
    config = build(profile, target)
    secret_values = {WIFI_KEY, *SIP_PASSWORDS}
    carrying_secret = {p.name for p in config.parameters if p.value in secret_values}
    assert carrying_secret
    assert carrying_secret == set(config.secret_names)
    # every secret here is hidden on the device: GPV cannot verify it
    assert not config.secret_names & config.verifiable_names
    assert config.verifiable_names == set(config.names) - config.secret_names
    text = repr(config) + repr(config.redacted())
    assert not any(secret in text for secret in secret_values)
    assert {p.name for p in config.verifiable()} == config.verifiable_names


def test_instances_lists_objects_to_exist() -> None:
    config = build(full_profile(), TR181)
    assert "Device.WiFi.SSID.3." in config.instances
    assert "Device.Services.VoiceService.1.SIP.Client.2." in config.instances
    assert "Device.Ethernet.VLANTermination.4." in config.instances


def test_extra_parameters_are_typed_from_the_table() -> None:
    profile = dataclasses.replace(
        full_profile(),
        extra_parameters=(
            ExtraParameter("Device.ManagementServer.PeriodicInformInterval", "600", "unsignedInt"),
            ExtraParameter("Device.WiFi.Radio.1.AutoChannelEnable", "true", "boolean"),
        ),
    )
    values = _values(build(profile, TR181))
    assert values["Device.ManagementServer.PeriodicInformInterval"] == 600
    assert values["Device.WiFi.Radio.1.AutoChannelEnable"] is True


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (ExtraParameter("Device.WiFi.SSID.1.Bogus", "s3cr3t-value"), "not in Device:2.17"),
        (ExtraParameter("Device.DeviceInfo.SerialNumber", "s3cr3t-value"), "read-only"),
        (
            ExtraParameter(
                "Device.WiFi.AccessPoint.1.Security.KeyPassphrase", "s3cr3t-value", "int"
            ),
            "is xsd:string in Device:2.17, not xsd:int",
        ),
        (
            ExtraParameter(
                "Device.ManagementServer.PeriodicInformInterval", "s3cr3t-value", "unsignedInt"
            ),
            "not a valid xsd:unsignedInt",
        ),
        (ExtraParameter("InternetGatewayDevice.ManagementServer.URL", "s3cr3t-value"), "not under"),
        (ExtraParameter("Device.X_ACME_Secret", "s3cr3t-value"), "needs an override"),
    ],
)
def test_bad_extra_parameter_rejected_without_echoing_value(
    extra: ExtraParameter, message: str
) -> None:
    profile = dataclasses.replace(full_profile(), extra_parameters=(extra,))
    with pytest.raises(ConfigBuildError, match=re.escape(message)) as caught:
        build(profile, TR181)
    assert extra.name in str(caught.value)
    assert "s3cr3t-value" not in str(caught.value)
    assert WIFI_KEY not in str(caught.value)


def test_target_from_inform_picks_the_root() -> None:
    def inform(name: str) -> Inform:
        return Inform(
            device_id=DeviceId("Acme", "00D09E", "X100", "SN1"),
            events=(EventStruct("0 BOOTSTRAP"),),
            max_envelopes=1,
            current_time=datetime(2024, 1, 1, tzinfo=UTC),
            retry_count=0,
            parameters=(ParameterValueStruct(name, "x"),),
        )

    assert ConfigTarget.from_inform(inform("Device.DeviceInfo.HardwareVersion")) == TR181
    assert (
        ConfigTarget.from_inform(inform("InternetGatewayDevice.DeviceInfo.HardwareVersion"))
        == TR098
    )
    with pytest.raises(ConfigBuildError):
        ConfigTarget.from_inform(inform("Other.Thing"))


def test_default_overrides_file_loads() -> None:
    config = build_config(full_profile(), TR181)
    assert config.parameter_key == build(full_profile(), TR181).parameter_key
