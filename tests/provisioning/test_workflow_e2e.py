"""The seed's workflow end to end over real HTTP: simulated CPEs against the ACS.

The ACS is the real CWMP endpoint on 127.0.0.1 with the provisioning workflow, a real
SQLite inventory and the embedded profile source; the CPEs are the simulator's, each
one failing the way its `FaultPlan` says. Results are read back from the store (what
`traceacs devices show` prints) and from the session traces handed to telemetry.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.server.cwmp_client import running
from traceacs.cwmp.messages import FactoryReset
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.profiles.source import ProfileSourceUnavailable
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.profile import ServiceProfile
from traceacs.provisioning.repository import AttemptFilter
from traceacs.provisioning.session_trace import SessionTrace
from traceacs.provisioning.telemetry_port import ProvisioningOutcome
from traceacs.provisioning.workflow import ProvisioningHandlerFactory
from traceacs.server.cwmp_endpoint import CwmpEndpoint
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import NO_FAULTS, Failure, FaultPlan
from traceacs.simulator.fleet import Fleet, build_fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.storage import SqlDeviceRepository, open_repository


@dataclass
class RecordingTelemetry:
    """The telemetry port, recording what the workflow reports."""

    finished: list[tuple[SessionTrace, ProvisioningOutcome | None]] = field(default_factory=list)
    active: int = 0
    tasks_finished: list[tuple[str, str, float | None]] = field(default_factory=list)
    rpcs: list[tuple[str, int | None]] = field(default_factory=list)

    def session_started(self) -> None:
        self.active += 1

    def session_released(self) -> None:
        self.active -= 1

    def session_finished(self, trace: SessionTrace, outcome: ProvisioningOutcome | None) -> None:
        self.active -= 1
        self.finished.append((trace, outcome))

    def task_finished(self, name: str, result: str, duration_ms: float | None) -> None:
        self.tasks_finished.append((name, result, duration_ms))

    def rpc_finished(self, method: str, duration_s: float, fault_code: int | None) -> None:
        self.rpcs.append((method, fault_code))

    def inform_received(self, event_codes: Sequence[str]) -> None:
        return None

    def outcomes(self) -> list[str | None]:
        return [o.result if o else None for _, o in self.finished]


class DeadBss:
    async def fetch(self, customer_id: str, service_plan: str) -> ServiceProfile:
        raise ProfileSourceUnavailable("connection", "connection refused")


@dataclass
class Acs:
    repo: SqlDeviceRepository
    telemetry: RecordingTelemetry
    url: str
    fleet: Fleet

    async def run(self, cpe: SimulatedCpe) -> None:
        runner = FleetRunner([cpe], RunnerConfig(self.url, connection_requests=False))
        assert await runner.run_session(cpe) or cpe.faults.failure is not None


async def start_acs(
    tmp_path: Path,
    fleet: Fleet,
    *,
    dead_bss: bool = False,
    clock: Callable[[], float] | None = None,
) -> AsyncIterator[Acs]:
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    await store_fleet(repo, fleet, time.time())
    telemetry = RecordingTelemetry()
    source = DeadBss() if dead_bss else EmbeddedProfileSource(repo)
    factory = ProvisioningHandlerFactory(repo, source, telemetry, clock=clock)
    endpoint = CwmpEndpoint(factory, authenticator=None)
    try:
        async with running(endpoint) as url:
            yield Acs(repo, telemetry, url, fleet)
    finally:
        await repo.close()


def fleet_of(*plans: FaultPlan, data_model: str = "tr181") -> Fleet:
    return build_fleet(len(plans), data_model=data_model, plans=list(plans), seed=7)  # type: ignore[arg-type]


@pytest.fixture
async def acs(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Acs]:
    marker = request.node.get_closest_marker("fleet")
    plans: tuple[FaultPlan, ...] = marker.args if marker else (NO_FAULTS,)
    data_model = marker.kwargs.get("data_model", "tr181") if marker else "tr181"
    dead = bool(marker.kwargs.get("dead_bss")) if marker else False
    async for running_acs in start_acs(
        tmp_path, fleet_of(*plans, data_model=data_model), dead_bss=dead
    ):
        yield running_acs


def span_names(trace: SessionTrace) -> list[str]:
    return [s.name for s in trace.spans]


@pytest.mark.parametrize("data_model", ["tr181", "tr098"])
async def test_bootstrap_provisions_and_verifies_every_value(
    tmp_path: Path, data_model: str
) -> None:
    async for acs in start_acs(tmp_path, fleet_of(NO_FAULTS, data_model=data_model)):
        cpe = acs.fleet.cpes[0]
        await acs.run(cpe)

        device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.PROVISIONED
        assert device.parameter_key
        assert device.parameter_key == cpe.parameter_key
        assert device.data_model_root == (
            "Device." if data_model == "tr181" else "InternetGatewayDevice."
        )
        [attempt] = await acs.repo.list_attempts(
            AttemptFilter(serial_number=cpe.identity.serial_number)
        )
        assert attempt.result == "success"

        [(trace, outcome)] = acs.telemetry.finished
        assert outcome is not None
        assert outcome.result == "success"
        assert attempt.trace_id == trace.trace_id
        assert span_names(trace) == [
            "cpe.inform",
            "cpe.provision.authenticate",
            "cpe.provision.fetch_profile",
            "cpe.provision.push_config",
            "cwmp.rpc SetParameterValues",
            "cpe.provision.verify",
            "cwmp.rpc GetParameterValues",
        ]
        root = trace.root
        assert root.attributes["cpe.serial_number"] == cpe.identity.serial_number
        assert all(
            s.parent_span_id == root.span_id
            for s in trace.spans[1:]
            if s.name.startswith("cpe.provision")
        )
        push = trace.spans[3]
        verify = trace.spans[5]
        param_count = push.attributes["cpe.config.param_count"]
        assert isinstance(param_count, int)
        assert param_count > 5
        assert verify.attributes["cpe.verify.mismatches"] == 0
        assert all(s.status != "error" for s in trace.spans)
        assert set(outcome.step_durations_ms) == {
            "authenticate",
            "fetch_profile",
            "push_config",
            "verify",
        }
        # every pushed value is on the device, secrets included
        assert acs.telemetry.rpcs == [("SetParameterValues", None), ("GetParameterValues", None)]


@pytest.mark.fleet(FaultPlan(failure=Failure.UNKNOWN))
async def test_unknown_device_is_refused_with_a_fault_and_nothing_pushed(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    assert await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number) is None
    [(trace, outcome)] = acs.telemetry.finished
    assert outcome is not None
    assert outcome.result == "unknown_device"
    assert span_names(trace) == ["cpe.inform", "cpe.provision.authenticate"]
    assert trace.spans[1].status == "error"
    assert trace.spans[1].status_message == "Device not in inventory"
    assert acs.telemetry.rpcs == []


@pytest.mark.fleet(FaultPlan(failure=Failure.NO_PROFILE))
async def test_missing_profile_fails_at_fetch_profile(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
    assert device is not None
    assert device.state is ProvisioningState.FAILED
    assert device.failed_step == "fetch_profile"
    assert device.failure_reason == "No service profile found"
    [(trace, outcome)] = acs.telemetry.finished
    assert outcome is not None
    assert outcome.result == "no_profile"
    assert trace.spans[-1].name == "cpe.provision.fetch_profile"
    assert trace.spans[-1].status == "error"
    assert acs.telemetry.rpcs == []


@pytest.mark.fleet(NO_FAULTS, dead_bss=True)
async def test_dead_bss_is_its_own_result_not_no_profile(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    [attempt] = await acs.repo.list_attempts(
        AttemptFilter(serial_number=cpe.identity.serial_number)
    )
    assert attempt.result == "bss_unavailable"
    assert attempt.failing_step == "fetch_profile"
    assert attempt.details == {"bss_error": "connection"}


@pytest.mark.fleet(FaultPlan(failure=Failure.SPV_FAULT, spv_fault_code=9007))
async def test_spv_fault_is_config_push_failed_with_per_parameter_faults(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    [attempt] = await acs.repo.list_attempts(
        AttemptFilter(serial_number=cpe.identity.serial_number)
    )
    assert attempt.result == "config_push_failed"
    assert attempt.failing_step == "push_config"
    assert attempt.fault_code == 9003
    faults = attempt.details["parameter_faults"]
    assert faults
    assert {f["fault_code"] for f in faults} == {9007}
    [(trace, _)] = acs.telemetry.finished
    push = next(s for s in trace.spans if s.name == "cpe.provision.push_config")
    assert push.status == "error"
    assert push.status_message.startswith("SetParameterValues fault: ")
    assert push.attributes["cpe.fault_code"] == 9003
    rpc = next(s for s in trace.spans if s.name == "cwmp.rpc SetParameterValues")
    assert rpc.parent_span_id == push.span_id
    assert rpc.attributes["cwmp.fault_code"] == 9003
    assert acs.telemetry.rpcs == [("SetParameterValues", 9003)]


@pytest.mark.fleet(FaultPlan(failure=Failure.MISMATCH))
async def test_silently_ignored_values_fail_verification_with_their_names(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    [attempt] = await acs.repo.list_attempts(
        AttemptFilter(serial_number=cpe.identity.serial_number)
    )
    assert attempt.result == "verification_failed"
    assert attempt.failing_step == "verify"
    mismatched = attempt.details["mismatched_parameters"]
    assert mismatched
    untouched = SimulatedCpe(cpe.identity)
    for name in mismatched:  # really not applied: the device still has its default
        assert cpe.value(name) == untouched.value(name), name
    [(trace, outcome)] = acs.telemetry.finished
    assert outcome is not None
    assert outcome.verify_mismatches == len(mismatched)
    verify = next(s for s in trace.spans if s.name == "cpe.provision.verify")
    assert verify.status_message == "Config verification failed"
    assert verify.attributes["cpe.verify.mismatches"] == len(mismatched)


async def test_periodic_inform_of_a_provisioned_device_changes_nothing(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    cpe.queue_event("2 PERIODIC")
    await acs.run(cpe)
    assert acs.telemetry.outcomes() == ["success", None]
    trace, _ = acs.telemetry.finished[1]
    assert not trace.changed_something
    # a check: the profile is read and compared, nothing is pushed
    assert span_names(trace) == [
        "cpe.inform",
        "cpe.provision.authenticate",
        "cpe.provision.fetch_profile",
    ]
    attempts = await acs.repo.list_attempts(AttemptFilter(serial_number=cpe.identity.serial_number))
    assert len(attempts) == 1
    assert acs.telemetry.active == 0


async def test_profile_changed_in_the_bss_reaches_the_device_at_its_next_inform(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
    assert device is not None
    found = await acs.repo.get_profile_document(device.service_plan)
    assert found is not None
    document, version = found
    assert document["wifi"]
    document["wifi"]["ssid"] = "Renamed-By-BSS"
    await acs.repo.put_profile_document(device.service_plan, document, str(int(version) + 1))

    cpe.queue_event("2 PERIODIC")
    await acs.run(cpe)
    assert acs.telemetry.outcomes() == ["success", "success"]
    ssids = [cpe.value(n) for n in ("Device.WiFi.SSID.1.SSID",)]
    assert ssids == ["Renamed-By-BSS"]
    after = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
    assert after is not None
    assert after.parameter_key != device.parameter_key
    assert after.profile_version == str(int(version) + 1)


async def test_boot_after_factory_reset_reprovisions(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    cpe.handle(FactoryReset(), datetime.now(UTC))
    cpe.end_session()
    await acs.run(cpe)
    assert acs.telemetry.outcomes() == ["success", "success"]
    [second, _] = acs.telemetry.finished[1][0].spans[:2]
    assert "0 BOOTSTRAP" in str(second.attributes["cpe.event_codes"])


@pytest.mark.fleet(NO_FAULTS)
async def test_plain_boot_of_a_provisioned_device_rechecks_without_pushing(acs: Acs) -> None:
    cpe = acs.fleet.cpes[0]
    await acs.run(cpe)
    cpe.queue_event("1 BOOT")
    await acs.run(cpe)
    assert acs.telemetry.outcomes() == ["success", None]
    assert acs.telemetry.rpcs == [("SetParameterValues", None), ("GetParameterValues", None)]


class SteppingClock:
    """A clock that advances 5 ms each time it is read."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 0.005
        return self.t


async def test_steps_inside_one_request_are_timed_with_the_injected_clock(
    tmp_path: Path,
) -> None:
    async for acs in start_acs(tmp_path, fleet_of(NO_FAULTS), clock=SteppingClock()):
        await acs.run(acs.fleet.cpes[0])
        [(trace, outcome)] = acs.telemetry.finished
        assert outcome is not None
        by_name = {s.name: s for s in trace.spans}
        # authenticate spans the inventory lookup, fetch_profile the profile read:
        # both happen within one HTTP request, so only the clock can time them.
        assert by_name["cpe.provision.authenticate"].duration_ms >= 4.99
        assert by_name["cpe.provision.fetch_profile"].duration_ms >= 4.99
        assert outcome.step_durations_ms["authenticate"] >= 4.99
