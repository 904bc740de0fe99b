"""Every parameter the config builder can emit exists, writable, in the simulated trees.

Builds the fullest config (every service, every band, VoIP lines, VLANs, IPTV) for each
data model with the real config builder and pushes it to a simulated CPE: the SPV must
succeed and read back. This keeps the simulator's trees and the builder in step.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from traceacs.cwmp.messages import (
    GetParameterValues,
    GetParameterValuesResponse,
    SetParameterValues,
    SetParameterValuesResponse,
)
from traceacs.provisioning.profile import (
    IptvConfig,
    ServiceProfile,
    VlanConfig,
    VoipLine,
    WifiConfig,
)
from traceacs.simulator.cpe import CpeIdentity, SimulatedCpe
from traceacs.simulator.fleet import plans_for, service_profiles
from traceacs.simulator.param_tree import ROOTS, DataModel

config_builder = pytest.importorskip(
    "traceacs.provisioning.config_builder", reason="the config builder is not written yet"
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FULL_WIFI = WifiConfig(
    "Full", "full-passphrase-1", "WPA2-WPA3-Personal", ("2.4GHz", "5GHz", "6GHz")
)
FULL = ServiceProfile(
    name="everything",
    services=("internet", "voip", "iptv"),
    wifi=FULL_WIFI,
    vlans=VlanConfig(internet=10, voip=20, iptv=30),
    voip_lines=(
        VoipLine("reg.example", "proxy.example", "u1", "sip-secret-1", "100"),
        VoipLine("reg.example", "proxy.example", "u2", "sip-secret-2", "101"),
    ),
    iptv=IptvConfig(multicast_vlan=30),
)


CASES = [
    (model, profile)
    for model in ("tr181", "tr098")
    for profile in (
        FULL
        if model == "tr181"
        else replace(FULL, wifi=replace(FULL_WIFI, security="WPA2-Personal")),
        *plans_for(model, service_profiles()),
    )
]


@pytest.mark.parametrize(("model", "profile"), CASES, ids=lambda c: getattr(c, "name", c))
def test_builder_config_applies_on_simulated_cpe(model: DataModel, profile: ServiceProfile) -> None:
    """The fleet's own profiles, and the fullest one, push cleanly to each model."""
    from traceacs.provisioning.config_types import ConfigTarget

    cpe = SimulatedCpe(CpeIdentity("SIMCOV00001", data_model=model))
    config = config_builder.build_config(profile, ConfigTarget(ROOTS[model]))  # type: ignore[arg-type]
    assert len(config.parameters) > 5
    missing = [i for i in config.instances if not cpe.tree.has_object(i)]
    assert missing == []
    resp = cpe.handle(SetParameterValues(config.parameters, config.parameter_key), NOW)
    assert resp == SetParameterValuesResponse(status=0), resp
    assert cpe.parameter_key == config.parameter_key
    names = tuple(sorted(config.verifiable_names))
    values = cpe.handle(GetParameterValues(names), NOW)
    assert isinstance(values, GetParameterValuesResponse)
    want = {p.name: p.value for p in config.parameters}
    assert {p.name: p.value for p in values.parameters} == {n: want[n] for n in names}
