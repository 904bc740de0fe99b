"""Every envelope the simulated fleet sends parses as the reference walk reads it.

The fast paths (`parse_fast`, the dateTime shortcut) take these
messages, the ones a real deployment parses most: Informs (BOOTSTRAP and PERIODIC) of
both data models in every CWMP version the fleet speaks, the answers to the
provisioning's SetParameterValues and GetParameterValues, with the SOAP-prefix,
boolean and missing-ID quirks, on the bytes the simulator's HTTP client posts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from tests.cwmp.test_reference import parsed
from traceacs.cwmp import events as ev
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope
from traceacs.cwmp.parse import parse_envelope_reference
from traceacs.provisioning.config_builder import build_config
from traceacs.provisioning.config_types import ConfigTarget
from traceacs.simulator.fleet import FleetModel, build_fleet
from traceacs.simulator.http_client import AcsConnection

QUIRKS = {"quirk_prefix": 0.4, "quirk_bool": 0.4, "quirk_no_id": 0.3}
NOW = datetime(2026, 11, 26, 9, 29, 5, tzinfo=UTC)


def _session_wires(model: FleetModel, seed: int) -> list[bytes]:
    """The bytes each CPE of a small fleet posts in a bootstrap and a periodic session."""
    fleet = build_fleet(12, data_model=model, shares=QUIRKS, seed=seed)
    profiles = {p.name: p for p in fleet.profiles}
    plans = {r.serial_number: r.service_plan for r in fleet.inventory}
    wires = []
    for cpe in fleet.cpes:
        client: Any = SimpleNamespace(_faults=cpe.faults)

        def wire(envelope: m.Envelope, client: Any = client) -> bytes:
            return AcsConnection.encode(client, envelope)

        boot = cpe.build_inform(NOW)
        assert isinstance(boot.body, m.Inform)
        wires.append(wire(boot))
        plan = plans.get(boot.body.device_id.serial_number)
        if plan is not None:
            config = build_config(profiles[plan], ConfigTarget.from_inform(boot.body))
            spv = m.SetParameterValues(config.parameters, parameter_key=config.parameter_key)
            gpv = m.GetParameterValues(tuple(p.name for p in config.verifiable()))
            for request, cwmp_id in ((spv, "acs-1"), (gpv, "acs-2")):
                answer = cpe.handle(request, NOW)
                wires.append(wire(m.Envelope(answer, cwmp_id=cwmp_id, namespace=boot.namespace)))
        cpe.inform_accepted(cpe.pending_events)
        cpe.end_session()
        cpe.queue_event(ev.PERIODIC)
        wires.append(wire(cpe.build_inform(NOW, cwmp_id="2")))
    return wires


@pytest.mark.parametrize(("model", "seed"), [("tr181", 8), ("tr098", 3), ("mixed", 5)])
def test_the_fleets_envelopes_parse_as_the_reference_reads_them(
    model: FleetModel, seed: int
) -> None:
    wires = _session_wires(model, seed)
    assert sum(b"Inform>" in w for w in wires) >= 24
    for data in wires:
        fast = parsed(parse_envelope, data)
        assert not isinstance(fast, tuple), fast  # every one of them is a valid envelope
        assert fast == parsed(parse_envelope_reference, data)
        assert repr(fast) == repr(parse_envelope_reference(data))
