"""`reported_values`: what the workflow reads from an Inform, by parameter-name suffix."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from traceacs.cwmp import messages as m
from traceacs.provisioning.quiet_check import reported_values

SUFFIXES = (".SoftwareVersion", ".ManagementServer.ParameterKey", ".ConnectionRequestURL")
NAMES = (
    "Device.DeviceInfo.SoftwareVersion",
    "InternetGatewayDevice.DeviceInfo.SoftwareVersion",
    "Device.ManagementServer.ParameterKey",
    "Device.ManagementServer.ConnectionRequestURL",
    "Device.X_Vendor.ConnectionRequestURL",
    "Device.DeviceInfo.HardwareVersion",
    "Device.RootDataModelVersion",
    "Device.X_Vendor.ParameterKey",
    "SoftwareVersion",
)


def reference(inform: m.Inform) -> dict[str, str]:
    """The first parameter whose name ends with each suffix (a test per suffix)."""
    found: dict[str, str] = {}
    for parameter in inform.parameters:
        for suffix in SUFFIXES:
            if parameter.name.endswith(suffix) and suffix not in found:
                found[suffix] = str(parameter.value)
    return found


def _inform(parameters: tuple[m.ParameterValueStruct, ...]) -> m.Inform:
    return m.Inform(
        device_id=m.DeviceId("Acme", "00D09E", "RG", "SN1"),
        events=(m.EventStruct("2 PERIODIC"),),
        max_envelopes=1,
        current_time=datetime(2026, 1, 1, tzinfo=UTC),
        retry_count=0,
        parameters=parameters,
    )


def test_matches_the_per_suffix_reference_on_random_informs() -> None:
    """Differential: first match per suffix wins, other names are skipped, values are
    strings, whatever the order and repetitions."""
    rng = random.Random(3)
    for _ in range(500):
        parameters = tuple(
            m.ParameterValueStruct(rng.choice(NAMES), rng.choice(("1.0", 7, True, "")))
            for _ in range(rng.randrange(0, 12))
        )
        inform = _inform(parameters)
        assert reported_values(inform) == reference(inform)


def test_the_first_parameter_with_a_suffix_wins() -> None:
    inform = _inform(
        (
            m.ParameterValueStruct("Device.DeviceInfo.HardwareVersion", "hw"),
            m.ParameterValueStruct("Device.DeviceInfo.SoftwareVersion", "1.0"),
            m.ParameterValueStruct("Device.Other.SoftwareVersion", "2.0"),
            m.ParameterValueStruct("Device.ManagementServer.ParameterKey", "k1"),
        )
    )
    assert reported_values(inform) == {
        ".SoftwareVersion": "1.0",
        ".ManagementServer.ParameterKey": "k1",
    }
