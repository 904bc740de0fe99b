"""Firmware upgrades inside provisioning, end to end over real HTTP.

The ACS is the real CWMP endpoint and file server on one 127.0.0.1 port, with the
workflow, a SQLite inventory, the embedded profile source and the disk file store; the
CPEs are the simulator's. A simulated CPE installs the version written in the image it
fetched (`traceacs.simulator.firmware`), and the image is stored under a name that does
not spell the version, so a CPE that ends on the target version really downloaded the
bytes through the file server. Time jumps (the download timeout) go through the
endpoint's injected clock: no test sleeps.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.provisioning.test_workflow_e2e import RecordingTelemetry, span_names
from tests.server.cwmp_client import files_running, running
from traceacs.cwmp import events as ev
from traceacs.files import DiskFileStore, FileAccessTokens, chunks_of
from traceacs.files.store import FIRMWARE_IMAGE
from traceacs.profiles.document import profile_to_document
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.provisioning.device import ProvisioningAttempt, ProvisioningState
from traceacs.provisioning.profile import FirmwareTarget
from traceacs.provisioning.repository import AttemptFilter
from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.workflow import ProvisioningHandlerFactory, WorkflowSettings
from traceacs.server.cwmp_endpoint import CwmpEndpoint
from traceacs.server.file_server import FileServer
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import NO_FAULTS, Failure, FaultPlan
from traceacs.simulator.firmware import firmware_image
from traceacs.simulator.fleet import Fleet, build_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.tasks.transfer_urls import FileStoreUrls, PublicUrl

TARGET = "4.0.0"
IMAGE = "gw-image-b.bin"  # the name does not spell the version: the bytes must arrive
TIMEOUT = 1800.0
MODEL = "TraceGW-181"


@dataclass
class Acs:
    repo: SqlDeviceRepository
    telemetry: RecordingTelemetry
    url: str
    fleet: Fleet
    public: PublicUrl
    files: DiskFileStore
    clock_offset: list[float] = field(default_factory=lambda: [0.0])

    async def run(self, *cpes: SimulatedCpe) -> None:
        """Run the CPEs until each has nothing more to say (transfers included)."""
        runner = FleetRunner(
            list(cpes or self.fleet.cpes),
            RunnerConfig(self.url, connection_requests=False, ramp_seconds=0.0),
        )
        await runner.run()

    async def attempts(self, cpe: SimulatedCpe) -> list[ProvisioningAttempt]:
        return await self.repo.list_attempts(
            AttemptFilter(serial_number=cpe.identity.serial_number)
        )

    async def set_target(self, target: FirmwareTarget | None) -> None:
        for profile in self.fleet.profiles:
            changed = dataclasses.replace(profile, firmware=(target,) if target else ())
            document = profile_to_document(changed)
            found = await self.repo.get_profile_document(profile.name)
            version = str(int(found[1]) + 1) if found else "1"
            await self.repo.put_profile_document(profile.name, document, version)


@pytest.fixture
async def acs(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Acs]:
    marker = request.node.get_closest_marker("fleet")
    plans: Sequence[FaultPlan] = marker.args if marker else (NO_FAULTS,)
    options = marker.kwargs if marker else {}
    fleet = build_fleet(len(plans), plans=list(plans), seed=7)
    if "software_version" in options:
        for cpe in fleet.cpes:
            cpe.identity = dataclasses.replace(
                cpe.identity, software_version=options["software_version"]
            )
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    await repo.import_devices(fleet.inventory_entries(), time.time())
    files = DiskFileStore(tmp_path / "files")
    await files.put(
        IMAGE, chunks_of(firmware_image(TARGET, 20_000)), file_type=FIRMWARE_IMAGE, now=time.time()
    )
    tokens = FileAccessTokens(b"k" * 32)
    public = PublicUrl()
    telemetry = RecordingTelemetry()
    factory = ProvisioningHandlerFactory(
        repo,
        EmbeddedProfileSource(repo),
        telemetry,
        settings=WorkflowSettings(firmware_timeout=TIMEOUT),
        firmware_files=FileStoreUrls(files, tokens, public),
    )
    state = Acs(repo, telemetry, "", fleet, public, files)
    target = options.get("target", FirmwareTarget(MODEL, TARGET, IMAGE))
    await state.set_target(target)
    endpoint = CwmpEndpoint(
        factory, authenticator=None, clock=lambda: time.time() + state.clock_offset[0]
    )
    try:
        async with running(endpoint) as url, files_running(FileServer(files, tokens)) as origin:
            public.url = origin  # files on their own port, as `traceacs serve` serves them
            state.url = url
            yield state
    finally:
        await repo.close()


def spans_named(trace: SessionTrace, name: str) -> list[SpanRecord]:
    return [s for s in trace.spans if s.name == name]


def assert_no_token_anywhere(acs: Acs, caplog: pytest.LogCaptureFixture) -> None:
    for trace, _ in acs.telemetry.finished:
        for span in trace.spans:
            text = repr(span.attributes) + (span.status_message or "")
            assert "token" not in text
            assert "http://" not in text
    assert all("token=" not in r.getMessage() for r in caplog.records)


async def test_firmware_upgrade_inside_bootstrap_provisioning(
    acs: Acs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cpe = acs.fleet.cpes[0]
    old = cpe.identity.software_version
    assert old != TARGET
    await acs.run(cpe)

    assert cpe.value("Device.DeviceInfo.SoftwareVersion") == TARGET
    device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
    assert device is not None
    assert device.state is ProvisioningState.PROVISIONED
    assert device.firmware_version == TARGET
    assert device.parameter_key == cpe.parameter_key  # configured after the upgrade
    [attempt] = await acs.attempts(cpe)
    assert attempt.result == "success"
    assert attempt.details["firmware"]["target_version"] == TARGET
    assert attempt.details["firmware"]["from_version"] == old
    assert attempt.details["firmware"]["file_size"] == 20_000
    assert "token" not in repr(attempt.details)
    assert "http" not in repr(attempt.details)

    (download_trace, none), (boot_trace, outcome) = acs.telemetry.finished
    assert none is None  # the attempt went on in the next session
    assert span_names(download_trace) == [
        "cpe.inform",
        "cpe.provision.authenticate",
        "cpe.provision.fetch_profile",
        "cpe.provision.firmware",
        "cwmp.rpc Download",
    ]
    [sent] = spans_named(download_trace, "cpe.provision.firmware")
    assert sent.attributes["cpe.firmware.phase"] == "downloading"
    assert sent.attributes["cpe.firmware.current_version"] == old
    assert sent.attributes["cpe.firmware.target_version"] == TARGET
    assert sent.attributes["cpe.firmware.file"] == IMAGE
    assert download_trace.root.attributes["cpe.provision.result"] == "in_progress"
    assert attempt.trace_id == download_trace.trace_id

    assert span_names(boot_trace) == [
        "cpe.inform",
        "cpe.provision.authenticate",
        "cpe.provision.fetch_profile",
        "cpe.provision.firmware",
        "cpe.provision.push_config",
        "cwmp.rpc SetParameterValues",
        "cpe.provision.verify",
        "cwmp.rpc GetParameterValues",
    ]
    events = str(boot_trace.root.attributes["cpe.event_codes"]).split(",")
    assert {ev.BOOT, ev.TRANSFER_COMPLETE, ev.M_DOWNLOAD} <= set(events)
    [done] = spans_named(boot_trace, "cpe.provision.firmware")
    assert done.attributes["cpe.firmware.phase"] == "transfer_complete"
    assert done.attributes["cpe.firmware.current_version"] == TARGET
    assert done.status != "error"
    assert outcome is not None
    assert outcome.result == "success"
    assert "firmware" in outcome.step_durations_ms
    assert_no_token_anywhere(acs, caplog)


@pytest.mark.fleet(NO_FAULTS, software_version=TARGET)
async def test_a_device_already_on_the_target_skips_the_step(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    [(trace, outcome)] = acs.telemetry.finished
    assert outcome is not None
    assert outcome.result == "success"
    assert "cpe.provision.firmware" not in span_names(trace)
    assert acs.telemetry.rpcs == [("SetParameterValues", None), ("GetParameterValues", None)]


@pytest.mark.fleet(FaultPlan(failure=Failure.FIRMWARE_CORRUPT))
async def test_corrupt_image_is_firmware_failed_with_the_cpes_fault(
    acs: Acs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cpe = acs.fleet.cpes[0]
    old = cpe.identity.software_version
    await acs.run(cpe)

    assert cpe.value("Device.DeviceInfo.SoftwareVersion") == old
    [attempt] = await acs.attempts(cpe)
    assert attempt.result == "firmware_failed"
    assert attempt.failing_step == "firmware"
    assert attempt.fault_code == 9018
    assert attempt.fault_string
    device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
    assert device is not None
    assert device.state is ProvisioningState.FAILED
    assert device.failed_step == "firmware"
    assert device.failure_reason is not None
    assert "9018" in device.failure_reason
    _, (trace, outcome) = acs.telemetry.finished
    assert outcome is not None
    assert (outcome.result, outcome.fault_code) == ("firmware_failed", 9018)
    [span] = spans_named(trace, "cpe.provision.firmware")
    assert span.attributes["cpe.fault_code"] == 9018
    assert span.status == "error"
    assert "cpe.provision.push_config" not in span_names(trace)
    assert_no_token_anywhere(acs, caplog)


@pytest.mark.fleet(FaultPlan(failure=Failure.FIRMWARE_WRONG_VERSION))
async def test_an_upgrade_that_boots_the_old_version_is_firmware_failed(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    old = cpe.identity.software_version
    await acs.run(cpe)
    [attempt] = await acs.attempts(cpe)
    assert attempt.result == "firmware_failed"
    assert attempt.fault_code is None
    device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
    assert device is not None
    assert device.failure_reason == f"still running {old} after upgrade to {TARGET}"


@pytest.mark.fleet(FaultPlan(failure=Failure.FIRMWARE_TIMEOUT))
async def test_download_timeout_fails_the_attempt_at_the_next_inform(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)  # Download accepted; the CPE never reports
    [waiting] = await acs.attempts(cpe)
    assert waiting.in_progress
    assert waiting.waiting_step == "firmware"
    assert waiting.deadline_at is not None

    cpe.queue_event(ev.PERIODIC)  # still within the timeout: nothing happens
    await acs.run(cpe)
    [still] = await acs.attempts(cpe)
    assert still.in_progress

    acs.clock_offset[0] = TIMEOUT + 1  # the ACS's clock jumps past the deadline
    cpe.queue_event(ev.PERIODIC)
    await acs.run(cpe)
    [attempt] = await acs.attempts(cpe)
    assert attempt.result == "firmware_failed"
    assert attempt.failing_step == "firmware"
    device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
    assert device is not None
    assert device.state is ProvisioningState.FAILED
    assert device.failure_reason == "firmware download timed out after 1800 s"
    trace, outcome = acs.telemetry.finished[-1]
    assert outcome is not None
    assert outcome.result == "firmware_failed"
    [span] = spans_named(trace, "cpe.provision.firmware")
    assert span.attributes["cpe.firmware.phase"] == "timed_out"
    assert span.status == "error"


@pytest.mark.fleet(FaultPlan(failure=Failure.FIRMWARE_TIMEOUT))
async def test_stale_attempt_expiry_waits_for_the_firmware_deadline(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    [waiting] = await acs.attempts(cpe)
    assert waiting.deadline_at is not None
    sent = waiting.deadline_at - TIMEOUT
    # past the generic 600 s stale limit, but within the firmware timeout: kept open
    assert await acs.repo.expire_stale_attempts(600, sent + 700) == 0
    assert (await acs.attempts(cpe))[0].in_progress
    assert await acs.repo.expire_stale_attempts(600, sent + TIMEOUT + 1) == 1
    [attempt] = await acs.attempts(cpe)
    assert attempt.result == "firmware_failed"
    assert attempt.failing_step == "firmware"
    assert attempt.fault_string == "firmware download timed out after 1800 s"
    device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
    assert device is not None
    assert (device.state, device.failed_step) == (ProvisioningState.FAILED, "firmware")


async def test_download_refused_by_the_cpe_is_firmware_failed(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    acs.public.url = "ftp://127.0.0.1"  # a scheme the CPE does not support: fault 9013
    await acs.run(cpe)
    [attempt] = await acs.attempts(cpe)
    assert (attempt.result, attempt.fault_code) == ("firmware_failed", 9013)
    assert acs.telemetry.rpcs == [("Download", 9013)]


@pytest.mark.fleet(NO_FAULTS, target=FirmwareTarget(MODEL, TARGET, "not-uploaded.bin"))
async def test_missing_image_is_a_clear_failure_and_nothing_is_sent(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    [attempt] = await acs.attempts(cpe)
    assert attempt.result == "firmware_failed"
    device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
    assert device is not None
    assert device.failure_reason is not None
    assert "'not-uploaded.bin' is not in the file store" in device.failure_reason
    assert acs.telemetry.rpcs == []


@pytest.mark.fleet(NO_FAULTS, NO_FAULTS, NO_FAULTS, target=None)
async def test_setting_a_target_upgrades_a_provisioned_fleet_at_its_next_inform(
    acs: Acs,
) -> None:
    await acs.run()
    assert acs.telemetry.outcomes() == ["success"] * 3
    await acs.set_target(FirmwareTarget(MODEL, TARGET, IMAGE))
    for cpe in acs.fleet.cpes:
        cpe.queue_event(ev.PERIODIC)
    await acs.run()
    assert [c.value("Device.DeviceInfo.SoftwareVersion") for c in acs.fleet.cpes] == [TARGET] * 3
    for cpe in acs.fleet.cpes:
        results = [a.result for a in await acs.attempts(cpe)]
        assert results == ["success", "success"]
        device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.PROVISIONED


@pytest.mark.fleet(FaultPlan(failure=Failure.FIRMWARE_CORRUPT))
async def test_failed_upgrades_are_retried_with_the_usual_backoff(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    assert [a.result for a in await acs.attempts(cpe)] == ["firmware_failed"]

    cpe.queue_event(ev.PERIODIC)  # the first failure is retried at the very next inform
    await acs.run(cpe)
    assert [a.result for a in await acs.attempts(cpe)] == ["firmware_failed"] * 2

    cpe.queue_event(ev.PERIODIC)  # then the retry waits (60 s after the second failure)
    await acs.run(cpe)
    assert len(await acs.attempts(cpe)) == 2

    acs.clock_offset[0] = 61.0
    cpe.queue_event(ev.PERIODIC)
    await acs.run(cpe)
    attempts = await acs.attempts(cpe)
    assert [a.result for a in attempts] == ["firmware_failed"] * 3
    assert all(a.fault_code == 9018 for a in attempts)
