"""The committed default trees: realistic content, shared defaults, per-CPE overlay."""

from __future__ import annotations

import pytest

from traceacs.simulator.param_tree import DataModel, ParamTree, default_tree

EXPECTED = {
    "tr181": [
        "Device.ManagementServer.ConnectionRequestURL",
        "Device.ManagementServer.ConnectionRequestUsername",
        "Device.ManagementServer.ConnectionRequestPassword",
        "Device.ManagementServer.PeriodicInformInterval",
        "Device.ManagementServer.ParameterKey",
        "Device.WiFi.Radio.3.OperatingFrequencyBand",
        "Device.WiFi.AccessPoint.3.Security.KeyPassphrase",
        "Device.Ethernet.VLANTermination.3.VLANID",
        "Device.Services.VoiceService.1.SIP.Client.2.AuthPassword",
        "Device.Services.VoiceService.1.CallControl.Line.2.DirectoryNumber",
        "Device.X_TRACEACS_IGMP.MulticastVLANID",
    ],
    "tr098": [
        "InternetGatewayDevice.DeviceSummary",
        "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
        "InternetGatewayDevice.LANDevice.1.WLANConfiguration.3.KeyPassphrase",
        "InternetGatewayDevice.Layer2Bridging.Bridge.3.VLANID",
        "InternetGatewayDevice.Services.VoiceService.1.VoiceProfile.1.Line.2.SIP.AuthPassword",
        "InternetGatewayDevice.X_TRACEACS_IGMP.Enable",
    ],
}


@pytest.mark.parametrize("model", ["tr181", "tr098"])
def test_default_tree_is_realistic(model: DataModel) -> None:
    tree = default_tree(model)
    assert len(tree.params) > 300
    for name in EXPECTED[model]:
        assert name in tree.params, name
    secrets = [p for p in tree.params.values() if "Password" in p.name or "Passphrase" in p.name]
    assert secrets
    assert all(p.hidden for p in secrets if p.writable)
    assert all(p.name.startswith(tree.root) for p in tree.params.values())


def test_defaults_are_shared_and_overlay_is_per_cpe() -> None:
    shared = default_tree("tr181")
    assert default_tree("tr181") is shared
    a, b = ParamTree(shared), ParamTree(shared)
    a.set_values({"Device.WiFi.SSID.1.SSID": "A"})
    assert a.get("Device.WiFi.SSID.1.SSID") == "A"
    assert b.get("Device.WiFi.SSID.1.SSID") == shared.params["Device.WiFi.SSID.1.SSID"].default
    assert dict(b.changed()) == {}
    a.reset()
    assert dict(a.changed()) == {}


def test_type_and_range_checks() -> None:
    vlan = default_tree("tr181").params["Device.Ethernet.VLANTermination.1.VLANID"]
    assert vlan.check(100, "unsignedInt") == 0
    assert vlan.check(100, "int") == 0  # integer types are interchangeable on the wire
    assert vlan.check(0, "unsignedInt") == 9007
    assert vlan.check("100", "string") == 9006
    assert vlan.check(True, "boolean") == 9006
    ssid = default_tree("tr181").params["Device.WiFi.SSID.1.SSID"]
    assert ssid.check("x" * 32, "string") == 0
    assert ssid.check("x" * 33, "string") == 9007


def test_snapshot_round_trips_every_value_type() -> None:
    import json
    from datetime import UTC, datetime

    tree = ParamTree(default_tree("tr181"))
    when = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    tree.set_values({"Device.WiFi.SSID.1.SSID": "S", "Device.Time.Enable": False})
    tree.set_values({"Device.DeviceInfo.X_Blob": b"\x00\x01", "Device.Time.CurrentLocalTime": when})
    again = ParamTree(default_tree("tr181"))
    again.restore(json.loads(json.dumps(tree.snapshot())))
    assert dict(again.changed()) == dict(tree.changed())
