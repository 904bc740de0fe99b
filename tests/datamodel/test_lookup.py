"""Lookups against the packaged tables: instance numbers, types, flags."""

from __future__ import annotations

import pytest

from traceacs.datamodel import DATA_MODEL_ROOTS, ParameterSpec, load_data_model, template_of


def test_template_of_replaces_every_instance_number() -> None:
    assert (
        template_of("Device.WiFi.AccessPoint.12.AssociatedDevice.3.MACAddress")
        == "Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.MACAddress"
    )
    assert template_of("Device.WiFi.SSID.3.") == "Device.WiFi.SSID.{i}."


def test_lookup_with_instance_numbers() -> None:
    model = load_data_model("Device.")
    assert model.lookup("Device.WiFi.SSID.3.SSID") == ParameterSpec(
        "Device.WiFi.SSID.{i}.SSID", "string", writable=True, hidden=False
    )
    assert model.lookup("Device.WiFi.SSID.{i}.SSID") == model.lookup("Device.WiFi.SSID.1.SSID")
    assert model.lookup("Device.WiFi.SSID.3.NoSuchThing") is None
    assert model.lookup("Device.WiFi.SSID.x.SSID") is None


@pytest.mark.parametrize(
    ("root", "name", "xsd_type", "writable", "hidden"),
    [
        # dataType refs resolve to their primitive
        ("Device.", "Device.WiFi.SSID.1.Stats.BytesSent", "unsignedLong", False, False),
        ("Device.", "Device.IP.Interface.1.IPv4Address.2.IPAddress", "string", True, False),
        ("Device.", "Device.Ethernet.VLANTermination.4.VLANID", "unsignedInt", True, False),
        ("Device.", "Device.DeviceInfo.UpTime", "unsignedInt", False, False),
        ("Device.", "Device.DeviceInfo.FirstUseDate", "dateTime", False, False),
        # secured: reads back empty
        ("Device.", "Device.WiFi.AccessPoint.2.Security.KeyPassphrase", "string", True, True),
        ("Device.", "Device.ManagementServer.Password", "string", True, True),
        # TR-104 supplement
        (
            "Device.",
            "Device.Services.VoiceService.1.SIP.Client.2.AuthPassword",
            "string",
            True,
            True,
        ),
        (
            "InternetGatewayDevice.",
            "InternetGatewayDevice.LANDevice.1.WLANConfiguration.3.PreSharedKey.1.KeyPassphrase",
            "string",
            True,
            True,
        ),
        (
            "InternetGatewayDevice.",
            "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.Channel",
            "unsignedInt",
            True,
            False,
        ),
        (
            "InternetGatewayDevice.",
            "InternetGatewayDevice.Services.VoiceService.1.VoiceProfile.1.SIP.RegistrarServer",
            "string",
            True,
            False,
        ),
    ],
)
def test_specs(root: str, name: str, xsd_type: str, writable: bool, hidden: bool) -> None:
    model = load_data_model(root)  # type: ignore[arg-type]
    spec = model.lookup(name)
    assert spec is not None, name
    assert (spec.xsd_type, spec.writable, spec.hidden) == (xsd_type, writable, hidden)


def test_objects_know_multi_instance_and_writable() -> None:
    model = load_data_model("Device.")
    ssid = model.lookup_object("Device.WiFi.SSID.2.")
    assert ssid is not None
    assert (ssid.multi_instance, ssid.writable) == (True, True)
    radio = model.lookup_object("Device.WiFi.Radio.1.")
    assert radio is not None
    assert (radio.multi_instance, radio.writable) == (True, False)
    wifi = model.lookup_object("Device.WiFi.")
    assert wifi is not None
    assert not wifi.multi_instance


def test_types_are_cwmp_wire_types() -> None:
    allowed = {
        "string",
        "int",
        "unsignedInt",
        "long",
        "unsignedLong",
        "boolean",
        "dateTime",
        "base64",
        "hexBinary",
        "decimal",
    }
    for root in DATA_MODEL_ROOTS:
        model = load_data_model(root)
        assert {spec.xsd_type for spec in model.parameters.values()} <= allowed
        assert all(path.startswith(root) for path in model.parameters)


def test_models_are_loaded_once() -> None:
    assert load_data_model("Device.") is load_data_model("Device.")
    assert load_data_model("InternetGatewayDevice.").model_name == "InternetGatewayDevice:1.14"


def test_unknown_root_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown data-model root"):
        load_data_model("Bogus.")  # type: ignore[arg-type]
