"""Two CWMP endpoints sharing one session store, behind a round-robin balancer.

Each endpoint stands for one ACS process: its own handler factory, its own telemetry,
its own in-process registry; they share only the database (SQLite here; the nginx test
in test_nginx_postgres.py does the same with real processes and PostgreSQL). The
balancer sends each POST to the next endpoint, so every session crosses processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from tests.provisioning.test_firmware_e2e import IMAGE, MODEL, TARGET
from tests.provisioning.test_workflow_e2e import RecordingTelemetry, fleet_of
from tests.scaleout.round_robin import Balancer, round_robin
from tests.server.cwmp_client import FakeClock, decode, files_running, running
from traceacs.assembly import INFORM_WRITE_BEHIND_SECONDS
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import serialize_envelope
from traceacs.cwmp.faults import RETRY_REQUEST
from traceacs.files import DiskFileStore, FileAccessTokens, FileStore, chunks_of
from traceacs.files.store import FIRMWARE_IMAGE
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.profile import FirmwareTarget
from traceacs.provisioning.repository import AttemptFilter, StorageUnavailable
from traceacs.provisioning.session_snapshot import ResumableHandlerFactory
from traceacs.provisioning.session_store import MemorySessionStore, StoredSession
from traceacs.provisioning.workflow import ProvisioningHandlerFactory
from traceacs.server.cwmp_endpoint import CwmpEndpoint, EndpointSettings
from traceacs.server.cwmp_sessions import COOKIE_NAME
from traceacs.server.file_server import FileServer
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import NO_FAULTS
from traceacs.simulator.firmware import firmware_image
from traceacs.simulator.fleet import Fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.storage.database import Database
from traceacs.storage.sessions import SqlSessionStore
from traceacs.storage.tasks import SqlTaskStore
from traceacs.tasks.composite import CompositeHandlerFactory
from traceacs.tasks.model import TaskStatus
from traceacs.tasks.runner import TaskHandlerFactory
from traceacs.tasks.transfer_urls import FileStoreUrls, PublicUrl

FIRMWARE_SPANS = ["cpe.provision.firmware", "cwmp.rpc Download"]
FULL_TRACE = [
    "cpe.inform",
    "cpe.provision.authenticate",
    "cpe.provision.fetch_profile",
    "cpe.provision.push_config",
    "cwmp.rpc SetParameterValues",
    "cpe.provision.verify",
    "cwmp.rpc GetParameterValues",
]


@dataclass
class Process:
    endpoint: CwmpEndpoint
    telemetry: RecordingTelemetry
    url: str = ""


@dataclass
class Cluster:
    repo: SqlDeviceRepository
    fleet: Fleet
    processes: list[Process]
    balancer: Balancer
    saved: list[str]
    """Every session state written to the shared store, in order (JSON text)."""


class RecordingStore(SqlSessionStore):
    """The shared store, keeping a copy of each state written (to look for secrets)."""

    def __init__(self, db: Database, saved: list[str]) -> None:
        super().__init__(db)
        self.saved = saved

    async def save(self, session: StoredSession, expected_version: int) -> bool:
        self.saved.append(session.state)
        return await super().save(session, expected_version)


@contextlib.asynccontextmanager
async def cluster(
    tmp_path: Path,
    fleet: Fleet,
    clock: Callable[[], float] = time.time,
    *,
    with_tasks: bool = False,
    pooled: int = 0,
    files: FileStore | None = None,
    quiet: bool = False,
    write_behind: bool = False,
) -> AsyncIterator[Cluster]:
    """``files``: the file store both processes serve (as workers sharing a data dir),
    CPEs fetching through the balancer; provisioning's firmware Downloads point there.
    ``quiet``: quiet periodic sessions served the quiet way, as `traceacs serve` does
    (with tasks, as it runs them); ``write_behind``: Informs written behind, as it
    writes them (the quiet check needs it)."""
    repo = await open_repository(
        f"sqlite:///{tmp_path / 'acs.db'}",
        inform_write_behind=INFORM_WRITE_BEHIND_SECONDS if write_behind else None,
    )
    tokens = FileAccessTokens(b"k" * 32)  # one key for the cluster, as one config file
    public = PublicUrl()  # the balancer's, once it listens
    saved: list[str] = []
    try:
        await store_fleet(repo, fleet, time.time())
        processes = []
        for name in ("a", "b"):
            telemetry = RecordingTelemetry()
            factory: ResumableHandlerFactory = ProvisioningHandlerFactory(
                repo,
                EmbeddedProfileSource(repo),
                telemetry,
                firmware_files=FileStoreUrls(files, tokens, public) if files else None,
            )
            if with_tasks or quiet:  # provisioning then tasks, as `traceacs serve` runs them
                tasks = TaskHandlerFactory(SqlTaskStore(repo.db, repo.secrets), telemetry=telemetry)
                factory = CompositeHandlerFactory(factory, tasks, quiet_sessions=quiet)
            endpoint = CwmpEndpoint(
                factory,
                authenticator=None,
                settings=EndpointSettings(worker_name=name),
                clock=clock,
                store=RecordingStore(repo.db, saved),
            )
            processes.append(Process(endpoint, telemetry))
        a, b = (p.endpoint for p in processes)
        async with contextlib.AsyncExitStack() as stack:
            url_a = await stack.enter_async_context(running(a, sweep_interval=3600))
            url_b = await stack.enter_async_context(running(b, sweep_interval=3600))
            file_backends = []
            if files is not None:  # each process's file port, as `--workers` serves them
                for _ in range(2):
                    served = files_running(FileServer(files, tokens))
                    file_backends.append(await stack.enter_async_context(served))
            balancer = await stack.enter_async_context(
                round_robin([url_a, url_b], pooled=pooled, file_backends=file_backends)
            )
            processes[0].url, processes[1].url = url_a, url_b
            public.url = balancer.origin
            yield Cluster(repo, fleet, processes, balancer, saved)
    finally:
        await repo.close()


async def test_sessions_crossing_processes_provision_with_one_trace_each(
    tmp_path: Path,
) -> None:
    fleet = fleet_of(*[NO_FAULTS] * 4)
    async with cluster(tmp_path, fleet) as acs:
        runner = FleetRunner(fleet.cpes, RunnerConfig(acs.balancer.url, connection_requests=False))
        for cpe in fleet.cpes:  # one at a time: strict alternation of the balancer
            assert await runner.run_session(cpe)

        for cpe in fleet.cpes:
            device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
            assert device is not None
            assert device.state is ProvisioningState.PROVISIONED
            assert device.parameter_key == cpe.parameter_key
        cookies = acs.balancer.cookies()
        assert len(cookies) == 4
        assert all(acs.balancer.backends_of(c) == {0, 1} for c in cookies)

        finished = [f for p in acs.processes for f in p.telemetry.finished]
        assert len(finished) == 4  # one trace per session, exported once
        for trace, outcome in finished:
            assert outcome is not None
            assert outcome.result == "success"
            assert [s.name for s in trace.spans] == FULL_TRACE
            assert all(s.end_ns is not None for s in trace.spans)
            serial = trace.root.attributes["cpe.serial_number"]
            [attempt] = await acs.repo.list_attempts(AttemptFilter(serial_number=str(serial)))
            assert attempt.trace_id == trace.trace_id
        # Sequential sessions of 4 POSTs alternate a,b,a,b: b ends and exports them all,
        # with the spans a recorded (cpe.inform, verify) in the same trace.
        assert len(acs.processes[1].telemetry.finished) == 4
        assert await acs.repo.db.fetchval("SELECT count(*) FROM cwmp_sessions") == 0


def at(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock.now, UTC)


async def post(
    http: aiohttp.ClientSession, url: str, message: m.Envelope | None, cookie: str | None
) -> tuple[int, m.Envelope | None, str | None, str]:
    """One CPE POST; (status, envelope or None, cookie set, worker that answered)."""
    body = serialize_envelope(message) if message is not None else b""
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}"} if cookie else {}
    async with http.post(url, data=body, headers=headers) as response:
        payload = await response.read()
        morsel = response.cookies.get(COOKIE_NAME)
        return (
            response.status,
            decode(payload) if payload and response.status == 200 else None,
            morsel.value if morsel else None,
            response.headers.get("X-TraceACS-Worker", ""),
        )


async def test_a_second_inform_on_the_other_process_gets_8005_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    clock = FakeClock(time.time())
    fleet = fleet_of(NO_FAULTS)
    cpe: SimulatedCpe = fleet.cpes[0]
    async with cluster(tmp_path, fleet, clock) as acs, aiohttp.ClientSession() as http:
        url_a, url_b = acs.processes[0].url, acs.processes[1].url
        status, answer, cookie, worker = await post(http, url_a, cpe.build_inform(at(clock)), None)
        assert (status, worker) == (200, "a")
        assert answer is not None
        assert isinstance(answer.body, m.InformResponse)
        assert cookie

        status, answer, _, worker = await post(http, url_b, cpe.build_inform(at(clock)), None)
        assert (status, worker) == (200, "b")
        assert answer is not None
        assert isinstance(answer.body, m.CwmpFault)
        assert answer.body.fault_code == RETRY_REQUEST

        # The first session continues, on b then a then b.
        urls = [url_b, url_a, url_b, url_a]
        status, answer, _, _ = await post(http, urls[0], None, cookie)
        sent = 1
        while status == 200:
            assert answer is not None
            reply = cpe.handle(answer.body, at(clock))
            status, answer, _, _ = await post(
                http, urls[sent], m.Envelope(body=reply, namespace=cpe.namespace), cookie
            )
            sent += 1
        assert status == 204
        assert sent == 3  # empty POST, SPV response, GPV response
        device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.PROVISIONED
        [(trace, outcome)] = acs.processes[1].telemetry.finished
        assert outcome is not None
        assert outcome.result == "success"
        assert [s.name for s in trace.spans] == FULL_TRACE


async def test_a_silent_session_is_ended_once_by_another_process_and_frees_the_device(
    tmp_path: Path,
) -> None:
    clock = FakeClock(time.time())
    fleet = fleet_of(NO_FAULTS)
    cpe = fleet.cpes[0]
    async with cluster(tmp_path, fleet, clock) as acs, aiohttp.ClientSession() as http:
        a, b = acs.processes
        status, _, cookie, _ = await post(http, a.url, cpe.build_inform(at(clock)), None)
        assert status == 200
        status, answer, _, _ = await post(http, b.url, None, cookie)  # SPV out, from b
        assert status == 200
        assert answer is not None
        assert isinstance(answer.body, m.SetParameterValues)

        clock.advance(31)  # past the 30 s session timeout
        assert await a.endpoint.expire_sessions() == 1
        assert await b.endpoint.expire_sessions() == 0  # the row is gone: ended once
        [(trace, outcome)] = a.telemetry.finished
        assert b.telemetry.finished == []
        assert outcome is not None
        assert outcome.result == "session_timeout"
        rpc = next(s for s in trace.spans if s.name == "cwmp.rpc SetParameterValues")
        assert rpc.status == "error"  # recorded by b, closed by a: one trace

        status, answer, _, _ = await post(http, b.url, cpe.build_inform(at(clock)), None)
        assert status == 200
        assert answer is not None
        assert isinstance(answer.body, m.InformResponse)


async def test_tasks_run_across_processes_inside_the_provisioning_trace(
    tmp_path: Path,
) -> None:
    fleet = fleet_of(NO_FAULTS)
    cpe = fleet.cpes[0]
    async with cluster(tmp_path, fleet, with_tasks=True) as acs:
        runner = FleetRunner(fleet.cpes, RunnerConfig(acs.balancer.url, connection_requests=False))
        assert await runner.run_session(cpe)  # bootstrap: provisioned
        store = SqlTaskStore(acs.repo.db, acs.repo.secrets)
        oui, serial = cpe.identity.oui, cpe.identity.serial_number
        root = cpe.root
        read = await store.add_task(
            oui, serial, "getParameterValues", {"parameterNames": [root + "DeviceInfo."]}, 0.0
        )
        refresh = await store.add_task(
            oui, serial, "refreshObject", {"objectName": root + "DeviceInfo."}, 0.0
        )
        assert await runner.run_session(cpe)  # periodic: nothing to push, two tasks

        for task_id in (read.id, refresh.id):
            task = await store.get_task(task_id)
            assert task is not None
            assert task.status is TaskStatus.DONE, task.fault_string
        done = await store.get_task(refresh.id)
        assert done is not None
        values = done.result["parameterValues"]
        assert any(name == root + "DeviceInfo.SoftwareVersion" for name, _, _ in values)
        # GPV, GPN, GPV: three RPCs; the session's POSTs were served by both processes.
        cookie = [c for c in acs.balancer.cookies() if len(acs.balancer.backends_of(c)) == 2]
        assert len(cookie) == 2
        finished = [f for p in acs.processes for f in p.telemetry.finished]
        assert len(finished) == 2
        task_trace = next(t for t, _ in finished if any("task" in s.name for s in t.spans))
        assert task_trace.root.name == "cpe.inform"
        names = [s.name for s in task_trace.spans]
        assert names.count("cpe.task.getParameterValues") == 1
        assert names.count("cpe.task.refreshObject") == 1
        assert names.count("cwmp.rpc GetParameterNames") == 1
        assert names.count("cwmp.rpc GetParameterValues") == 2
        assert all(s.end_ns is not None for s in task_trace.spans)
        by_id = {s.span_id for s in task_trace.spans}
        assert all(s.parent_span_id in by_id for s in task_trace.spans[1:])


async def test_concurrent_sessions_over_shared_upstream_connections_stay_apart(
    tmp_path: Path,
) -> None:
    """Behind a balancer, one upstream connection carries many CPEs' POSTs in turn: a
    connection must never stand for a session (only the cookie does)."""
    fleet = fleet_of(*[NO_FAULTS] * 40)
    async with cluster(tmp_path, fleet, pooled=3) as acs:
        runner = FleetRunner(fleet.cpes, RunnerConfig(acs.balancer.url, connection_requests=False))
        results = await asyncio.gather(*(runner.run_session(cpe) for cpe in fleet.cpes))
        assert all(results)
        for cpe in fleet.cpes:
            device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
            assert device is not None
            assert device.state is ProvisioningState.PROVISIONED
        finished = [f for p in acs.processes for f in p.telemetry.finished]
        assert len(finished) == 40
        assert all(o is not None and o.result == "success" for _, o in finished)
        assert all([s.name for s in t.spans] == FULL_TRACE for t, _ in finished)


class UnreachableStore(MemorySessionStore):
    """The shared store with its database gone."""

    async def load(self, key: str) -> StoredSession | None:
        raise StorageUnavailable("database unreachable")

    async def claim(self, session: StoredSession) -> bool:
        raise StorageUnavailable("database unreachable")


async def test_an_unreachable_session_store_answers_503_with_retry_after(tmp_path: Path) -> None:
    fleet = fleet_of(NO_FAULTS)
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    try:
        await store_fleet(repo, fleet, time.time())
        factory = ProvisioningHandlerFactory(repo, EmbeddedProfileSource(repo))
        endpoint = CwmpEndpoint(factory, authenticator=None, store=UnreachableStore())
        clock = FakeClock(time.time())
        async with running(endpoint) as url, aiohttp.ClientSession() as http:
            inform = serialize_envelope(fleet.cpes[0].build_inform(at(clock)))
            async with http.post(url, data=inform) as response:
                assert response.status == 503
                assert response.headers["Retry-After"] == "30"
            async with http.post(url, data=b"", headers={"Cookie": f"{COOKIE_NAME}=x"}) as again:
                assert again.status == 503
        assert len(endpoint.registry) == 0
    finally:
        await repo.close()


class GatedStore:
    """A view of a shared store whose next `save` waits for the test to open a gate."""

    def __init__(self, store: MemorySessionStore) -> None:
        self.store = store
        self.saving = asyncio.Event()
        self.gate = asyncio.Event()
        self.gated = False

    async def claim(self, session: StoredSession) -> bool:
        return await self.store.claim(session)

    async def load(self, key: str) -> StoredSession | None:
        return await self.store.load(key)

    async def for_device(self, device_key: str) -> StoredSession | None:
        return await self.store.for_device(device_key)

    async def save(self, session: StoredSession, expected_version: int) -> bool:
        if self.gated:
            self.saving.set()
            await self.gate.wait()
        return await self.store.save(session, expected_version)

    async def take(self, key: str, version: int) -> bool:
        return await self.store.take(key, version)

    async def delete(self, key: str) -> None:
        await self.store.delete(key)

    async def expired(self, now: float, limit: int = 100) -> list[StoredSession]:
        return await self.store.expired(now, limit)


async def test_two_processes_answering_one_post_only_one_advances_the_session(
    tmp_path: Path,
) -> None:
    """A CPE that gave up on a slow POST and sent it again to another process: the
    slower process loses the compare-and-set and answers 503; the session goes on from
    the winner's state."""
    fleet = fleet_of(NO_FAULTS)
    cpe = fleet.cpes[0]
    clock = FakeClock(time.time())
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    try:
        await store_fleet(repo, fleet, time.time())
        shared = MemorySessionStore()
        gated = GatedStore(shared)
        endpoints = [
            CwmpEndpoint(
                ProvisioningHandlerFactory(repo, EmbeddedProfileSource(repo)),
                authenticator=None,
                clock=clock,
                store=store,
            )
            for store in (gated, shared)
        ]
        async with (
            running(endpoints[0], sweep_interval=3600) as url_a,
            running(endpoints[1], sweep_interval=3600) as url_b,
            aiohttp.ClientSession() as http,
        ):
            _, _, cookie, _ = await post(http, url_a, cpe.build_inform(at(clock)), None)
            gated.gated = True
            slow = asyncio.create_task(post(http, url_a, None, cookie))
            await gated.saving.wait()  # a has answered in memory, not yet written
            status, answer, _, _ = await post(http, url_b, None, cookie)
            assert status == 200
            assert answer is not None
            assert isinstance(answer.body, m.SetParameterValues)
            gated.gate.set()
            status, _, _, _ = await slow
            assert status == 503  # a lost the compare-and-set: its answer is void
            assert len(endpoints[0].registry) == 0  # and its copy is gone

            gated.gated = False
            reply = cpe.handle(answer.body, at(clock))
            status, answer, _, _ = await post(
                http, url_a, m.Envelope(body=reply, namespace=cpe.namespace), cookie
            )
            assert status == 200  # a continues from b's state: GetParameterValues next
            assert answer is not None
            assert isinstance(answer.body, m.GetParameterValues)
    finally:
        await repo.close()


async def test_a_firmware_upgrade_alternating_between_processes_ends_on_the_target(
    tmp_path: Path,
) -> None:
    """Both sessions of an upgrade (Download out; TransferComplete, config, verify)
    cross processes at every POST, and the image is fetched through the balancer."""
    fleet = fleet_of(NO_FAULTS)
    target = (FirmwareTarget(MODEL, TARGET, IMAGE),)
    fleet = replace(fleet, profiles=tuple(replace(p, firmware=target) for p in fleet.profiles))
    cpe = fleet.cpes[0]
    old = cpe.identity.software_version
    assert (cpe.identity.product_class, old != TARGET) == (MODEL, True)
    files = DiskFileStore(tmp_path / "files")
    image = chunks_of(firmware_image(TARGET, 20_000))
    await files.put(IMAGE, image, file_type=FIRMWARE_IMAGE, now=time.time())
    async with cluster(tmp_path, fleet, with_tasks=True, files=files) as acs:
        config = RunnerConfig(acs.balancer.url, connection_requests=False, ramp_seconds=0.0)
        await FleetRunner([cpe], config).run()  # until the CPE has nothing more to say

        assert cpe.value("Device.DeviceInfo.SoftwareVersion") == TARGET
        assert [status for _, status in acs.balancer.fetched] == [200]  # the image, once
        device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.PROVISIONED
        assert device.firmware_version == TARGET
        assert device.parameter_key == cpe.parameter_key

        cookies = acs.balancer.cookies()
        assert len(cookies) == 2  # the Download's session and the reporting one
        assert all(acs.balancer.backends_of(c) == {0, 1} for c in cookies)
        finished = sorted(
            (f for p in acs.processes for f in p.telemetry.finished),
            key=lambda f: f[0].root.start_ns,
        )
        (first, none), (second, outcome) = finished  # one trace per session
        assert none is None
        assert [s.name for s in first.spans] == [*FULL_TRACE[:3], *FIRMWARE_SPANS]
        assert [s.name for s in second.spans] == [
            *FULL_TRACE[:3],
            FIRMWARE_SPANS[0],
            *FULL_TRACE[3:],
        ]
        assert all(s.end_ns is not None for t in (first, second) for s in t.spans)
        assert outcome is not None
        assert outcome.result == "success"
        [attempt] = await acs.repo.list_attempts(
            AttemptFilter(serial_number=cpe.identity.serial_number)
        )
        assert attempt.result == "success"
        assert attempt.trace_id == first.trace_id
        firmware = attempt.details["firmware"]
        assert (firmware["from_version"], firmware["target_version"]) == (old, TARGET)
        assert await acs.repo.db.fetchval("SELECT count(*) FROM cwmp_sessions") == 0
        # every state the processes shared: no file token, no file URL
        assert len(acs.saved) >= 6
        assert not any("token" in state or "/files/" in state for state in acs.saved)
