"""`ProvisioningSession` paused between POSTs, written down and resumed by another factory.

Each resume uses a fresh `ProvisioningHandlerFactory` (its own config cache), as a
second ACS process would. The snapshot is JSON text with no secret in it; the config is
rebuilt from the profile, and a profile that changed meanwhile stops the resume.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.provisioning.test_firmware_e2e import IMAGE, MODEL, TARGET
from tests.provisioning.test_workflow_e2e import RecordingTelemetry, fleet_of, span_names
from tests.scaleout.test_shared_sessions import FULL_TRACE
from traceacs.cwmp import events as ev
from traceacs.cwmp import messages as m
from traceacs.files import DiskFileStore, FileAccessTokens, chunks_of
from traceacs.files.store import FIRMWARE_IMAGE
from traceacs.profiles.document import profile_to_document
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.firmware import FirmwareFiles
from traceacs.provisioning.profile import FirmwareTarget
from traceacs.provisioning.repository import AttemptFilter
from traceacs.provisioning.session_snapshot import SnapshotError
from traceacs.provisioning.workflow import ProvisioningHandlerFactory, ProvisioningSession
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import NO_FAULTS, Failure, FaultPlan
from traceacs.simulator.firmware import firmware_image
from traceacs.simulator.fleet import Fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.tasks.transfer_urls import FileStoreUrls, PublicUrl

NOW = time.time()


def factory(
    repo: SqlDeviceRepository,
    telemetry: RecordingTelemetry,
    files: FirmwareFiles | None = None,
) -> ProvisioningHandlerFactory:
    return ProvisioningHandlerFactory(
        repo, EmbeddedProfileSource(repo), telemetry, firmware_files=files
    )


async def through_json(
    session: ProvisioningSession,
    repo: SqlDeviceRepository,
    telemetry: RecordingTelemetry,
    *,
    session_id: str = "sess-1",
    files: FirmwareFiles | None = None,
) -> tuple[ProvisioningSession, str]:
    """The session as another process sees it: snapshot -> JSON text -> restore."""
    text = json.dumps(session.snapshot())
    session.release()  # this process lets go, as the endpoint does with a stale copy
    restored = await factory(repo, telemetry, files).restore(session_id, json.loads(text))
    return restored, text


async def open_session(
    tmp_path: Path, plan: FaultPlan = NO_FAULTS
) -> tuple[SqlDeviceRepository, Fleet]:
    fleet = fleet_of(plan)
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    await store_fleet(repo, fleet, time.time())
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
        lambda s: s.update(transfer={"firmware": {"command_key": "k"}}),
        lambda s: s.update(transfer_complete={"command_key": "k", "fault_code": "x"}),
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


# ---------------------------------------------------------------------------- firmware

DOWNLOAD_TRACE = [
    "cpe.inform",
    "cpe.provision.authenticate",
    "cpe.provision.fetch_profile",
    "cpe.provision.firmware",
    "cwmp.rpc Download",
]
UPGRADED_TRACE = [
    "cpe.inform",
    "cpe.provision.authenticate",
    "cpe.provision.fetch_profile",
    "cpe.provision.firmware",
    *FULL_TRACE[3:],
]


@dataclass
class Upgrade:
    """One CPE whose profile targets `TARGET`, its sessions resumed at every pause."""

    repo: SqlDeviceRepository
    cpe: SimulatedCpe
    files: FirmwareFiles
    telemetry: RecordingTelemetry = field(default_factory=RecordingTelemetry)
    texts: list[str] = field(default_factory=list)
    """Every snapshot taken, as the JSON text another process would read."""
    url: str = ""
    """The Download's URL as the CPE received it (its token must be in no snapshot)."""

    async def pause(self, session: ProvisioningSession, session_id: str) -> ProvisioningSession:
        restored, text = await through_json(
            session, self.repo, self.telemetry, session_id=session_id, files=self.files
        )
        self.texts.append(text)
        return restored


@contextlib.asynccontextmanager
async def upgrade(tmp_path: Path, plan: FaultPlan = NO_FAULTS) -> AsyncIterator[Upgrade]:
    repo, fleet = await open_session(tmp_path, plan)
    try:
        for profile in fleet.profiles:
            target = (FirmwareTarget(MODEL, TARGET, IMAGE),)
            upgraded = replace(profile, firmware=target, version="2")
            await repo.put_profile_document(profile.name, profile_to_document(upgraded), "2")
        store = DiskFileStore(tmp_path / "files")
        image = chunks_of(firmware_image(TARGET, 20_000))
        await store.put(IMAGE, image, file_type=FIRMWARE_IMAGE, now=NOW)
        tokens = FileAccessTokens(b"k" * 32)
        files = FileStoreUrls(store, tokens, PublicUrl("http://acs.test:7547"))
        cpe = fleet.cpes[0]
        assert cpe.identity.product_class == MODEL
        assert cpe.identity.software_version != TARGET
        yield Upgrade(repo, cpe, files)
    finally:
        await repo.close()


async def download_session(up: Upgrade) -> str:
    """The first session, resumed at each pause: the Download goes out and is accepted,
    and the CPE carries it out (flashing the image, or failing as its plan says).
    Returns the session's trace id."""
    cpe, at = up.cpe, datetime.fromtimestamp(NOW, UTC)
    session = factory(up.repo, up.telemetry, up.files).new_session("sess-1")
    assert isinstance(session, ProvisioningSession)
    envelope = cpe.build_inform(at)
    assert isinstance(envelope.body, m.Inform)
    assert isinstance(await session.on_inform(envelope.body, NOW), m.InformResponse)
    cpe.inform_accepted(envelope.body.events)
    trace_id = session.trace.trace_id

    session = await up.pause(session, "sess-1")
    download = await session.next_acs_request(NOW + 1)
    assert isinstance(download, m.Download)
    assert "token=" in download.url
    up.url = download.url

    session = await up.pause(session, "sess-1")  # the Download pending
    accepted = cpe.handle(download, at)
    assert isinstance(accepted, m.DownloadResponse)
    assert accepted.status == 1  # fetched after the session: a TransferComplete follows
    await session.on_cpe_response(accepted, NOW + 2)
    assert await session.next_acs_request(NOW + 2) is None  # waiting for the CPE
    await session.on_session_end("completed", NOW + 2)
    assert not cpe.end_session()

    [transfer] = cpe.take_transfers()
    assert transfer.url == download.url
    done_at = datetime.fromtimestamp(NOW + 60, UTC)
    cpe.transfer_done(transfer, 0, at, done_at, image_version=TARGET)
    return trace_id


async def reporting_session(up: Upgrade, now: float) -> ProvisioningSession:
    """The CPE's next session up to its empty POST, resumed at each pause: the Inform
    (TRANSFER COMPLETE, M Download; BOOT after a flash), then its TransferComplete."""
    cpe, at = up.cpe, datetime.fromtimestamp(now, UTC)
    session = factory(up.repo, up.telemetry, up.files).new_session("sess-2")
    assert isinstance(session, ProvisioningSession)
    envelope = cpe.build_inform(at)
    assert isinstance(envelope.body, m.Inform)
    assert {ev.TRANSFER_COMPLETE, ev.M_DOWNLOAD} <= set(envelope.body.event_codes)
    assert isinstance(await session.on_inform(envelope.body, now), m.InformResponse)
    cpe.inform_accepted(envelope.body.events)

    session = await up.pause(session, "sess-2")
    report = cpe.next_cpe_request()
    assert isinstance(report, m.TransferComplete)
    answer = await session.on_cpe_request(report, now + 1)
    assert isinstance(answer, m.TransferCompleteResponse)
    cpe.handle_acs_response(answer)
    assert cpe.next_cpe_request() is None

    return await up.pause(session, "sess-2")  # the TransferComplete received


def assert_no_download_url(up: Upgrade) -> None:
    token = up.url.partition("token=")[2]
    assert token
    assert up.texts
    for text in up.texts:
        assert token not in text
        assert "token=" not in text
        assert up.url.partition("?")[0] not in text  # nor the URL without its token


async def test_a_firmware_upgrade_resumed_at_every_pause_ends_on_the_new_version(
    tmp_path: Path,
) -> None:
    async with upgrade(tmp_path) as up:
        cpe = up.cpe
        old = cpe.identity.software_version
        download_trace_id = await download_session(up)
        assert cpe.value("Device.DeviceInfo.SoftwareVersion") == TARGET
        assert ev.BOOT in {e.event_code for e in cpe.pending_events}
        [waiting] = await up.repo.list_attempts(
            AttemptFilter(serial_number=cpe.identity.serial_number)
        )
        assert waiting.in_progress
        assert waiting.waiting_step == "firmware"

        now = NOW + 120
        at = datetime.fromtimestamp(now, UTC)
        session = await reporting_session(up, now)
        boot_trace_id = session.trace.trace_id
        spv = await session.next_acs_request(now + 2)
        assert isinstance(spv, m.SetParameterValues)

        session = await up.pause(session, "sess-2")  # push_config: SPV pending
        await session.on_cpe_response(cpe.handle(spv, at), now + 3)
        gpv = await session.next_acs_request(now + 3)
        assert isinstance(gpv, m.GetParameterValues)

        session = await up.pause(session, "sess-2")  # verify: GPV pending
        await session.on_cpe_response(cpe.handle(gpv, at), now + 4)
        assert await session.next_acs_request(now + 4) is None
        await session.on_session_end("completed", now + 4)

        assert len(up.texts) == 6  # every pause of both sessions went through JSON
        assert_no_download_url(up)
        (first, none), (second, outcome) = up.telemetry.finished
        assert none is None  # the attempt went on in the next session
        assert first.trace_id == download_trace_id
        assert span_names(first) == DOWNLOAD_TRACE
        assert first.root.attributes["cpe.provision.result"] == "in_progress"
        assert second.trace_id == boot_trace_id
        assert span_names(second) == UPGRADED_TRACE
        assert all(s.end_ns is not None for t in (first, second) for s in t.spans)
        [judged] = [s for s in second.spans if s.name == "cpe.provision.firmware"]
        assert judged.attributes["cpe.firmware.phase"] == "transfer_complete"
        assert judged.attributes["cpe.firmware.current_version"] == TARGET
        assert judged.status != "error"
        assert outcome is not None
        assert outcome.result == "success"
        # timed from the Download (NOW + 1) to the judgement (now + 2)
        assert outcome.step_durations_ms["firmware"] == pytest.approx((now + 1 - NOW) * 1000)
        # the attempt began with the first session's Inform
        assert outcome.total_duration_ms == pytest.approx((now + 4 - NOW) * 1000)
        assert up.telemetry.active == 0

        [attempt] = await up.repo.list_attempts(
            AttemptFilter(serial_number=cpe.identity.serial_number)
        )
        assert attempt.result == "success"
        assert attempt.trace_id == download_trace_id
        assert attempt.started_at == NOW
        assert attempt.ended_at == now + 4
        assert attempt.waiting_step == "firmware"  # it waited across the sessions
        firmware = attempt.details["firmware"]
        assert (firmware["from_version"], firmware["target_version"]) == (old, TARGET)
        assert firmware["file_size"] == 20_000
        assert "token" not in repr(attempt.details)
        device = await up.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.PROVISIONED
        assert device.firmware_version == TARGET
        assert device.parameter_key == cpe.parameter_key  # configured after the upgrade


async def test_a_corrupt_image_reported_across_a_pause_is_firmware_failed_with_9018(
    tmp_path: Path,
) -> None:
    async with upgrade(tmp_path, FaultPlan(failure=Failure.FIRMWARE_CORRUPT)) as up:
        cpe = up.cpe
        old = cpe.identity.software_version
        await download_session(up)
        assert cpe.value("Device.DeviceInfo.SoftwareVersion") == old

        now = NOW + 120
        session = await reporting_session(up, now)
        assert await session.next_acs_request(now + 2) is None  # judged: nothing to push
        await session.on_session_end("completed", now + 2)

        assert_no_download_url(up)
        _, (trace, outcome) = up.telemetry.finished
        assert outcome is not None
        assert (outcome.result, outcome.fault_code) == ("firmware_failed", 9018)
        [judged] = [s for s in trace.spans if s.name == "cpe.provision.firmware"]
        assert judged.attributes["cpe.fault_code"] == 9018
        assert judged.status == "error"
        assert "cpe.provision.push_config" not in span_names(trace)
        assert up.telemetry.active == 0
        [attempt] = await up.repo.list_attempts(
            AttemptFilter(serial_number=cpe.identity.serial_number)
        )
        assert (attempt.result, attempt.failing_step) == ("firmware_failed", "firmware")
        assert attempt.fault_code == 9018
        device = await up.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.FAILED
        assert device.failure_reason is not None
        assert "9018" in device.failure_reason


async def test_a_session_ending_after_its_transfer_report_does_not_leave_the_attempt_waiting(
    tmp_path: Path,
) -> None:
    """The CPE's TransferComplete was acknowledged (it will not send it again), then its
    session died before the empty POST: ended by a sweeper from the snapshot. The
    adopted attempt must not go on waiting for a report that will never come (and fail
    as a download timeout half an hour later): it ends with the session, and the next
    inform provisions the upgraded CPE without a second Download."""
    async with upgrade(tmp_path) as up:
        cpe = up.cpe
        await download_session(up)
        now = NOW + 120
        session = await reporting_session(up, now)
        await session.on_session_end("timeout", now + 31)
        cpe.session_failed()

        [attempt] = await up.repo.list_attempts(
            AttemptFilter(serial_number=cpe.identity.serial_number)
        )
        assert (attempt.result, attempt.failing_step) == ("session_timeout", "firmware")
        assert attempt.details["firmware"]["target_version"] == TARGET

        later = now + 60
        at = datetime.fromtimestamp(later, UTC)
        retried = factory(up.repo, up.telemetry, up.files).new_session("sess-3")
        envelope = cpe.build_inform(at)
        assert isinstance(envelope.body, m.Inform)
        assert ev.TRANSFER_COMPLETE not in envelope.body.event_codes  # acknowledged
        assert isinstance(await retried.on_inform(envelope.body, later), m.InformResponse)
        spv = await retried.next_acs_request(later)
        assert isinstance(spv, m.SetParameterValues)  # on the target: no Download
        await retried.on_cpe_response(cpe.handle(spv, at), later + 1)
        gpv = await retried.next_acs_request(later + 1)
        assert isinstance(gpv, m.GetParameterValues)
        await retried.on_cpe_response(cpe.handle(gpv, at), later + 2)
        assert await retried.next_acs_request(later + 2) is None
        await retried.on_session_end("completed", later + 2)
        device = await up.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.PROVISIONED
        assert device.firmware_version == TARGET


async def test_a_pending_download_without_its_transfer_is_refused(tmp_path: Path) -> None:
    """The Download is rebuilt from the transfer (its URL is not kept): a snapshot that
    lost the transfer cannot say what the CPE is answering."""
    async with upgrade(tmp_path) as up:
        session = factory(up.repo, up.telemetry, up.files).new_session("sess-1")
        envelope = up.cpe.build_inform(datetime.fromtimestamp(NOW, UTC))
        assert isinstance(envelope.body, m.Inform)
        await session.on_inform(envelope.body, NOW)
        assert isinstance(await session.next_acs_request(NOW), m.Download)
        assert isinstance(session, ProvisioningSession)
        state = session.snapshot()
        assert state["rpc"]["method"] == "Download"
        state["transfer"] = None
        with pytest.raises(SnapshotError, match="pending Download"):
            await factory(up.repo, up.telemetry, up.files).restore("sess-1", state)
