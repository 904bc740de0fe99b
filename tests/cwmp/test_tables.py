"""Fault codes, event codes and the namespace / version helpers."""

from __future__ import annotations

import pytest

from traceacs.cwmp import events, faults
from traceacs.cwmp.messages import CwmpFault, SetParameterValuesFault
from traceacs.cwmp.namespaces import (
    CWMP_1_0,
    CWMP_1_1,
    CWMP_1_2,
    CWMP_1_4,
    highest_common_version,
    namespace_for_version,
    parse_supported_versions,
    version_for_namespace,
)


def test_fault_tables_cover_the_standard_ranges() -> None:
    assert sorted(faults.ACS_FAULTS) == list(range(8000, 8007))
    assert sorted(faults.CPE_FAULTS) == list(range(9000, 9033))


@pytest.mark.parametrize(
    ("code", "soap"),
    [
        (8000, "Server"),
        (8003, "Client"),
        (8005, "Server"),
        (9002, "Server"),
        (9005, "Client"),
        (9007, "Client"),
        (9010, "Server"),
        (8850, "Server"),
        (9850, "Server"),
    ],
)
def test_soap_fault_class(code: int, soap: str) -> None:
    assert faults.soap_fault_code(code) == soap


def test_vendor_ranges() -> None:
    assert faults.is_vendor_fault(8800)
    assert faults.is_vendor_fault(9899)
    assert not faults.is_vendor_fault(8799)
    assert not faults.is_vendor_fault(9900)
    assert faults.fault_string(9801) == "Vendor fault"


def test_make_fault_uses_the_standard_string_and_class() -> None:
    spv = faults.set_parameter_values_fault("Device.WiFi.SSID.1.SSID", 9007)
    assert faults.make_fault(9003, set_parameter_values_faults=(spv,)) == CwmpFault(
        fault_code=9003,
        fault_string="Invalid arguments",
        soap_fault_code="Client",
        set_parameter_values_faults=(
            SetParameterValuesFault("Device.WiFi.SSID.1.SSID", 9007, "Invalid parameter value"),
        ),
    )
    assert faults.make_fault(8005).soap_fault_code == "Server"
    assert faults.make_fault(8005).fault_string == "Retry request"


def test_event_codes() -> None:
    assert events.BOOTSTRAP == "0 BOOTSTRAP"
    assert events.AUTONOMOUS_TRANSFER_COMPLETE == "10 AUTONOMOUS TRANSFER COMPLETE"
    assert events.is_method_event(events.M_REBOOT)
    assert not events.is_method_event(events.BOOT)
    assert events.is_vendor_event("X 00D09E MyEvent")


@pytest.mark.parametrize(
    ("version", "namespace"),
    [("1.0", CWMP_1_0), ("1.1", CWMP_1_1), ("1.2", CWMP_1_2), ("1.3", CWMP_1_2), ("1.4", CWMP_1_2)],
)
def test_namespace_for_version(version: str, namespace: str) -> None:
    assert namespace_for_version(version) == namespace


def test_version_for_namespace() -> None:
    assert version_for_namespace(CWMP_1_2) == "1.2"
    assert version_for_namespace(CWMP_1_4) == "1.4"
    with pytest.raises(ValueError, match="not a CWMP namespace"):
        version_for_namespace("urn:example")
    with pytest.raises(ValueError, match="unknown CWMP version"):
        namespace_for_version("2.0")


def test_supported_versions_negotiation() -> None:
    assert parse_supported_versions("1.0, 1.1,1.2,9.9") == ("1.0", "1.1", "1.2")
    assert highest_common_version("1.0,1.1,1.2,1.3,1.4") == "1.4"
    assert highest_common_version("1.0,1.2", ("1.0", "1.1")) == "1.0"
    assert highest_common_version("2.0") is None
