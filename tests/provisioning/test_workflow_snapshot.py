"""`ProvisioningSession` paused between POSTs, written down and resumed by another factory.

Each resume uses a fresh `ProvisioningHandlerFactory` (its own config cache), as a
second ACS process would. The snapshot is JSON text with no secret in it; the config is
rebuilt from the profile, and a profile that changed meanwhile stops the resume.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.provisioning.test_workflow_e2e import RecordingTelemetry, fleet_of
from tests.scaleout.test_shared_sessions import FULL_TRACE, load_fleet
from traceacs.cwmp import messages as m
from traceacs.profiles.document import profile_to_document
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.provisioning.session_snapshot import SnapshotError
from traceacs.provisioning.workflow import ProvisioningHandlerFactory, ProvisioningSession
from traceacs.simulator.faults import NO_FAULTS
from traceacs.simulator.fleet import Fleet
from traceacs.storage import SqlDeviceRepository, open_repository

NOW = time.time()


def factory(repo: SqlDeviceRepository, telemetry: RecordingTelemetry) -> ProvisioningHandlerFactory:
    return ProvisioningHandlerFactory(repo, EmbeddedProfileSource(repo), telemetry)


async def through_json(
    session: ProvisioningSession, repo: SqlDeviceRepository, telemetry: RecordingTelemetry
) -> tuple[ProvisioningSession, str]:
    """The session as another process sees it: snapshot -> JSON text -> restore."""
    text = json.dumps(session.snapshot())
    session.release()  # this process lets go, as the endpoint does with a stale copy
    restored = await factory(repo, telemetry).restore("sess-1", json.loads(text))
    return restored, text


async def open_session(tmp_path: Path) -> tuple[SqlDeviceRepository, Fleet]:
    fleet = fleet_of(NO_FAULTS)
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    await load_fleet(repo, fleet)
    return repo, fleet


async def test_a_session_resumed_at_every_pause_provisions_with_one_trace(
    tmp_path: Path,
) -> None:
    repo, fleet = await open_session(tmp_path)
    cpe = fleet.cpes[0]
    at = datetime.fromtimestamp(NOW, UTC)
    telemetry = RecordingTelemetry()
    try:
        session = factory(repo, telemetry).new_session("sess-1")
        assert isinstance(session, ProvisioningSession)
        inform = cpe.build_inform(at).body
        assert isinstance(inform, m.Inform)
        assert isinstance(await session.on_inform(inform, NOW), m.InformResponse)
        trace_id = session.trace.trace_id

        session, _ = await through_json(session, repo, telemetry)
        spv = await session.next_acs_request(NOW + 1)
        assert isinstance(spv, m.SetParameterValues)
        secrets = {str(p.value) for p in spv.parameters if "Passphrase" in p.name}
        secrets |= {str(p.value) for p in spv.parameters if "Password" in p.name}
        assert secrets  # the fleet's profiles carry Wi-Fi keys and VoIP passwords

        session, text = await through_json(session, repo, telemetry)
        assert not any(secret in text for secret in secrets)
        await session.on_cpe_response(cpe.handle(spv, at), NOW + 2)
        gpv = await session.next_acs_request(NOW + 2)
        assert isinstance(gpv, m.GetParameterValues)

        session, text = await through_json(session, repo, telemetry)
        assert not any(secret in text for secret in secrets)
        await session.on_cpe_response(cpe.handle(gpv, at), NOW + 3)
        assert await session.next_acs_request(NOW + 3) is None
        await session.on_session_end("completed", NOW + 3)

        [(trace, outcome)] = telemetry.finished
        assert outcome is not None
        assert outcome.result == "success"
        assert trace.trace_id == trace_id
        assert [s.name for s in trace.spans] == FULL_TRACE
        assert all(s.end_ns is not None for s in trace.spans)
        assert telemetry.active == 0  # started, released and resumed, finished: balanced
        device = await repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.parameter_key == cpe.parameter_key
    finally:
        await repo.close()


async def test_a_profile_changed_while_paused_stops_the_resume(tmp_path: Path) -> None:
    repo, fleet = await open_session(tmp_path)
    cpe = fleet.cpes[0]
    at = datetime.fromtimestamp(NOW, UTC)
    telemetry = RecordingTelemetry()
    try:
        session = factory(repo, telemetry).new_session("sess-1")
        assert isinstance(session, ProvisioningSession)
        inform = cpe.build_inform(at).body
        assert isinstance(inform, m.Inform)
        await session.on_inform(inform, NOW)
        assert isinstance(await session.next_acs_request(NOW), m.SetParameterValues)
        state = session.snapshot()

        [profile] = [p for p in fleet.profiles if p.name == fleet.inventory[0].service_plan]
        assert profile.wifi is not None
        changed = replace(profile, wifi=replace(profile.wifi, ssid="renamed"), version="2")
        await repo.put_profile_document(profile.name, profile_to_document(changed), "2")
        with pytest.raises(SnapshotError, match="changed"):
            await factory(repo, telemetry).restore("sess-1", state)
    finally:
        await repo.close()


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.update(format=99),
        lambda s: s.update(unknown_field=1),
        lambda s: s.pop("trace"),
        lambda s: s.update(step_span_id="0000000000000bad"),
    ],
)
async def test_a_damaged_snapshot_is_refused_with_a_snapshot_error(
    tmp_path: Path, damage: Any
) -> None:
    repo, fleet = await open_session(tmp_path)
    telemetry = RecordingTelemetry()
    try:
        session = factory(repo, telemetry).new_session("sess-1")
        assert isinstance(session, ProvisioningSession)
        inform = fleet.cpes[0].build_inform(datetime.fromtimestamp(NOW, UTC)).body
        assert isinstance(inform, m.Inform)
        await session.on_inform(inform, NOW)
        await session.next_acs_request(NOW)
        state = session.snapshot()
        damage(state)
        with pytest.raises(SnapshotError):
            await factory(repo, telemetry).restore("sess-1", state)
    finally:
        await repo.close()


async def test_sessions_of_one_factory_share_its_config_cache(tmp_path: Path) -> None:
    """A resumed session rebuilds its config through the factory's cache: the cache
    must be shared from the first session on (an empty cache is falsy)."""
    repo, fleet = await open_session(tmp_path)
    at = datetime.fromtimestamp(NOW, UTC)
    try:
        made = factory(repo, RecordingTelemetry())
        session = made.new_session("sess-1")
        assert isinstance(session, ProvisioningSession)
        inform = fleet.cpes[0].build_inform(at).body
        assert isinstance(inform, m.Inform)
        await session.on_inform(inform, NOW)
        assert isinstance(await session.next_acs_request(NOW), m.SetParameterValues)
        resumed = await made.restore("sess-1", session.snapshot())
        # Built once, by the first session, into the factory's cache; the resumed
        # session found it there by ParameterKey (no profile fetch, no rebuild).
        assert (made._configs.misses, made._configs.hits) == (1, 0)
        assert len(made._configs) == 1
        assert resumed.snapshot()["config_key"] == session.snapshot()["config_key"]
    finally:
        await repo.close()
