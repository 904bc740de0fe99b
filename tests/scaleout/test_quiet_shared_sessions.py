"""Quiet periodic sessions whose POSTs land on two processes sharing one session store.

The quiet path (`QuietFirstSession`) and the general one must leave the same things
behind, also when the Inform is answered by one process and the empty POST by the
other: the process that answers the Inform writes the quiet record down
(`QuietSession.snapshot`), the other rebuilds it and ends the session with the trace the
general path records. Each test runs the same sessions on two clusters built alike
(`tests.scaleout.test_shared_sessions.cluster`), one serving quiet sessions the quiet
way and one not, and compares what the CPE was answered, the traces, the session
counts of each process, the inventory and the shared store; the quiet cluster's saved
states show the quiet path was taken (the test would otherwise pass without it).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.provisioning.test_quiet_session import shape
from tests.provisioning.test_workflow_e2e import fleet_of
from tests.scaleout.test_shared_sessions import Cluster, at, cluster, post
from tests.server.cwmp_client import FakeClock
from traceacs.cwmp import messages as m
from traceacs.provisioning.device import InformedDevice, ProvisioningState
from traceacs.provisioning.profile import ServiceProfile
from traceacs.provisioning.quiet_check import QuietVerdict, reported_values
from traceacs.provisioning.quiet_session import QuietFacts, QuietSession
from traceacs.provisioning.repository import AttemptFilter
from traceacs.provisioning.session_snapshot import SnapshotError
from traceacs.provisioning.trace_recorder import RandomIds
from traceacs.simulator.faults import NO_FAULTS
from traceacs.simulator.fleet import service_profiles
from traceacs.simulator.runner import FleetRunner, RunnerConfig

SECRETS = ("sim-wifi-", "sim-sip-pw-")
"""How the simulated fleet's Wi-Fi keys and SIP passwords begin (`service_profiles`)."""


Answer = tuple[int, str, str]
"""One POST's answer as compared: status, the worker that answered, the body's type."""


@dataclass
class Observed:
    """What one cluster left behind after the periodic sessions."""

    answers: list[Answer]
    traces: list[tuple[str, dict[str, Any]]]
    active: list[int]
    devices: list[tuple[str, ProvisioningState, str | None]]
    attempts: list[int]
    rows_left: int
    handler_states: list[dict[str, Any]]


@dataclass
class Run:
    """A cluster whose fleet was bootstrapped through the balancer (a b a b per CPE)."""

    acs: Cluster
    http: aiohttp.ClientSession
    clock: FakeClock
    finished_before: list[int]
    saved_before: int

    async def observed(self, answers: list[Answer]) -> Observed:
        """What the cluster left behind since the bootstrap."""
        acs = self.acs
        traces = [
            (name, shape(trace, outcome))
            for name, process, before in zip("ab", acs.processes, self.finished_before, strict=True)
            for trace, outcome in process.telemetry.finished[before:]
        ]
        devices, attempts = [], []
        for cpe in acs.fleet.cpes:
            device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
            assert device is not None
            devices.append((device.serial_number, device.state, device.parameter_key))
            found = await acs.repo.list_attempts(AttemptFilter(serial_number=device.serial_number))
            attempts.append(len(found))
        assert not any(secret in state for state in acs.saved for secret in SECRETS)
        return Observed(
            answers=answers,
            traces=sorted(traces, key=lambda t: str(t[1]["spans"][0][2]["cpe.serial_number"])),
            active=[p.telemetry.active for p in acs.processes],
            devices=devices,
            attempts=attempts,
            rows_left=await acs.repo.db.fetchval("SELECT count(*) FROM cwmp_sessions"),
            handler_states=[json.loads(s)["handler"] for s in acs.saved[self.saved_before :]],
        )


async def exchange(
    run: Run, url: str, message: m.Envelope | None, cookie: str | None, answers: list[Answer]
) -> tuple[m.Envelope | None, str | None]:
    """One CPE POST to ``url``, its answer appended to ``answers``; (envelope, cookie)."""
    status, answer, set_cookie, worker = await post(run.http, url, message, cookie)
    answers.append((status, worker, type(answer.body).__name__ if answer else ""))
    return answer, set_cookie


@contextlib.asynccontextmanager
async def bootstrapped(tmp_path: Path, cpes: int, *, quiet: bool) -> AsyncIterator[Run]:
    """``cpes`` provisioned CPEs on a cluster built as `traceacs serve` builds its
    workers (Informs written behind, tasks), serving quiet sessions the quiet way or not."""
    clock = FakeClock(time.time())
    fleet = fleet_of(*[NO_FAULTS] * cpes)
    async with (
        cluster(tmp_path, fleet, clock, with_tasks=True, quiet=quiet, write_behind=True) as acs,
        aiohttp.ClientSession() as http,
    ):
        runner = FleetRunner(fleet.cpes, RunnerConfig(acs.balancer.url, connection_requests=False))
        for cpe in fleet.cpes:  # one at a time: 4 POSTs each, a b a b
            assert await runner.run_session(cpe)
        yield Run(
            acs, http, clock, [len(p.telemetry.finished) for p in acs.processes], len(acs.saved)
        )


async def periodic_round(tmp_path: Path, *, quiet: bool) -> Observed:
    """One periodic session per provisioned CPE: Inform on a, empty POST on b."""
    async with bootstrapped(tmp_path, 3, quiet=quiet) as run:
        a, b = run.acs.processes
        answers: list[Answer] = []
        for cpe in run.acs.fleet.cpes:
            run.clock.advance(60)
            inform = cpe.build_inform(at(run.clock))
            assert isinstance(inform.body, m.Inform)
            assert inform.body.event_codes == ("2 PERIODIC",)
            answer, cookie = await exchange(run, a.url, inform, None, answers)
            assert answer is not None
            await exchange(run, b.url, None, cookie, answers)
        return await run.observed(answers)


async def test_quiet_periodic_sessions_crossing_processes_end_as_the_general_ones(
    tmp_path: Path,
) -> None:
    quiet = await periodic_round(tmp_path / "quiet", quiet=True)
    general = await periodic_round(tmp_path / "general", quiet=False)

    assert quiet.answers == general.answers
    assert quiet.answers[:2] == [(200, "a", "InformResponse"), (204, "b", "")]
    assert quiet.traces == general.traces
    assert [process for process, _ in quiet.traces] == ["b", "b", "b"]  # ended on b
    assert [span[0] for span in quiet.traces[0][1]["spans"]] == [
        "cpe.inform",
        "cpe.provision.authenticate",
        "cpe.provision.fetch_profile",
    ]
    assert quiet.active == general.active
    assert quiet.devices == general.devices
    assert all(state is ProvisioningState.PROVISIONED for _, state, _ in quiet.devices)
    assert quiet.attempts == general.attempts == [1, 1, 1]  # periodic pushed nothing
    assert quiet.rows_left == general.rows_left == 0
    # The quiet path was taken: a's state after each Inform is the quiet record (small:
    # no trace, no profile), where the general path writes the workflow's state.
    assert len(quiet.handler_states) == len(general.handler_states) == 3
    assert all(set(state) == {"quiet"} for state in quiet.handler_states)
    assert not any("quiet" in state for state in general.handler_states)


async def turned_general(tmp_path: Path, *, quiet: bool) -> Observed:
    """A quiet session whose CPE asks GetRPCMethods on the other process, then ends."""
    async with bootstrapped(tmp_path, 1, quiet=quiet) as run:
        a, b = run.acs.processes
        cpe = run.acs.fleet.cpes[0]
        run.clock.advance(60)
        answers: list[Answer] = []
        answer, cookie = await exchange(run, a.url, cpe.build_inform(at(run.clock)), None, answers)
        assert answer is not None
        request = m.Envelope(body=m.GetRPCMethods(), namespace=cpe.namespace, cwmp_id="9")
        answer, _ = await exchange(run, b.url, request, cookie, answers)
        assert answer is not None
        assert answer.cwmp_id == "9"
        await exchange(run, a.url, None, cookie, answers)
        return await run.observed(answers)


async def test_a_quiet_session_resumed_elsewhere_turns_general_on_a_cpe_request(
    tmp_path: Path,
) -> None:
    quiet = await turned_general(tmp_path / "quiet", quiet=True)
    general = await turned_general(tmp_path / "general", quiet=False)

    assert (
        quiet.answers
        == general.answers
        == [
            (200, "a", "InformResponse"),
            (200, "b", "GetRPCMethodsResponse"),
            (204, "a", ""),
        ]
    )
    assert quiet.traces == general.traces
    assert len(quiet.traces) == 1
    assert quiet.active == general.active
    assert quiet.devices == general.devices
    assert quiet.attempts == general.attempts
    assert quiet.rows_left == general.rows_left == 0
    # a wrote the quiet record after the Inform; b, having turned general, the general
    # handler's state after answering GetRPCMethods.
    assert set(quiet.handler_states[0]) == {"quiet"}
    assert set(quiet.handler_states[1]) == set(general.handler_states[1])
    assert "quiet" not in quiet.handler_states[1]


async def silent_then_swept(tmp_path: Path, *, quiet: bool) -> tuple[Observed, list[int]]:
    """A periodic session whose CPE goes silent after the Inform (answered by a); b's
    sweep ends it past the session timeout, then a's finds nothing left to end."""
    async with bootstrapped(tmp_path, 1, quiet=quiet) as run:
        a, b = run.acs.processes
        run.clock.advance(60)
        inform = run.acs.fleet.cpes[0].build_inform(at(run.clock))
        status, _, _, worker = await post(run.http, a.url, inform, None)
        assert (status, worker) == (200, "a")
        run.clock.advance(31)  # past the 30 s session timeout
        swept = [await b.endpoint.expire_sessions(), await a.endpoint.expire_sessions()]
        return await run.observed([]), swept


async def test_a_silent_quiet_session_is_ended_once_by_the_other_process_as_a_general_one(
    tmp_path: Path,
) -> None:
    quiet, quiet_swept = await silent_then_swept(tmp_path / "quiet", quiet=True)
    general, general_swept = await silent_then_swept(tmp_path / "general", quiet=False)

    assert quiet_swept == general_swept == [1, 0]  # ended once, by b
    assert quiet.traces == general.traces
    [(process, trace)] = quiet.traces
    assert process == "b"
    assert [span[0] for span in trace["spans"]] == ["cpe.inform", "cpe.provision.authenticate"]
    assert quiet.active == general.active
    assert quiet.devices == general.devices
    assert quiet.attempts == general.attempts
    assert quiet.rows_left == general.rows_left == 0
    assert [set(state) for state in quiet.handler_states] == [{"quiet"}]


def _record(telemetry: Any) -> QuietSession:
    """A quiet record as `check_quiet` would make it, for one simulated CPE."""
    fleet = fleet_of(NO_FAULTS)
    cpe = fleet.cpes[0]
    inform = cpe.build_inform(at(FakeClock(1_700_000_000.0))).body
    assert isinstance(inform, m.Inform)
    profile: ServiceProfile = service_profiles()[0]
    verdict = QuietVerdict(
        quiet=True,
        device=InformedDevice(
            state=ProvisioningState.PROVISIONED,
            parameter_key="k1",
            customer_id="c1",
            service_plan=profile.name,
            location_id="l1",
            updated_at=1.0,
            queued_tasks=False,
        ),
        profile=profile,
        recorded_at=10.5,
        checked_at=10.75,
        reports=reported_values(inform),
    )
    return QuietSession(
        "s1",
        inform,
        inform.event_codes,
        QuietFacts.of(verdict),
        10.0,
        telemetry=telemetry,
        sampling=None,
        ids=RandomIds(),
    )


class Counting:
    """Telemetry that counts what a quiet record reports."""

    def __init__(self) -> None:
        self.started = self.informs = self.released = 0
        self.finished: list[Any] = []

    def session_started(self) -> None:
        self.started += 1

    def session_released(self) -> None:
        self.released += 1

    def session_finished(self, trace: Any, outcome: Any) -> None:
        self.finished.append((trace, outcome))

    def inform_received(self, event_codes: Any) -> None:
        self.informs += 1

    def task_finished(self, name: str, result: str, duration_ms: float | None) -> None:
        return None

    def rpc_finished(self, method: str, duration_s: float, fault_code: int | None) -> None:
        return None


def test_a_resumed_quiet_record_counts_the_session_not_the_inform_and_traces_alike() -> None:
    here, there = Counting(), Counting()
    original = _record(here)
    original.asked()
    state = json.loads(json.dumps(original.snapshot()))  # as the shared store keeps it
    resumed = QuietSession.resumed("s1", state, telemetry=there, sampling=None, ids=RandomIds())
    assert (there.started, there.informs) == (1, 0)  # the Inform was counted by `here`
    original.release()
    assert here.released == 1
    resumed.end("completed", 11.0)
    reference = Counting()  # the same record ended where it began
    unmoved = _record(reference)
    unmoved.asked()
    unmoved.end("completed", 11.0)
    [(trace, _)] = there.finished
    [(expected, _)] = reference.finished
    assert shape(trace, None) == shape(expected, None)
    assert [s.end_ns for s in trace.spans] == [s.end_ns for s in expected.spans]
    assert not any(secret in json.dumps(state) for secret in SECRETS)


@pytest.mark.parametrize("broken", ["inform", "device", "parameter_count", "codes"])
def test_an_unreadable_quiet_snapshot_is_refused(broken: str) -> None:
    state = _record(Counting()).snapshot()
    state[broken] = None if broken != "inform" else "<not-a-soap-envelope/>"
    with pytest.raises(SnapshotError):
        QuietSession.resumed("s1", state, telemetry=Counting(), sampling=None, ids=RandomIds())
