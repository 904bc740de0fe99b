"""A CPE that rebooted or dropped its connection mid-session re-Informs at once: its new
Inform replaces the abandoned session instead of getting 8005 for the session timeout.

The clock is a `FakeClock`; the only waiting is for the server to see a closed TCP
connection (an observable state, polled with a deadline).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from tests.provisioning.test_workflow_e2e import RecordingTelemetry, fleet_of
from tests.scaleout.test_shared_sessions import at, post
from tests.server.cwmp_client import (
    FakeClock,
    Journal,
    OneRpcFactory,
    OneRpcHandler,
    decode,
    gpv_response,
    inform,
    running,
)
from traceacs.cwmp import messages as m
from traceacs.cwmp.faults import RETRY_REQUEST
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.repository import AttemptFilter
from traceacs.provisioning.session_handler import SessionHandler
from traceacs.provisioning.workflow import ProvisioningHandlerFactory
from traceacs.server.cwmp_endpoint import CwmpEndpoint, EndpointSettings
from traceacs.server.cwmp_sessions import COOKIE_NAME, connection_closed
from traceacs.simulator.faults import NO_FAULTS, Failure, FaultPlan
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import COMPLETED, DROPPED, FleetRunner, RunnerConfig
from traceacs.storage import open_repository

DEVICE = "00D09E-{}"  # the registry key of the test CPEs (OUI-serial)


def new_endpoint(factory: OneRpcFactory, clock: FakeClock) -> CwmpEndpoint:
    settings = EndpointSettings(session_timeout=30.0, abandoned_after=10.0)
    return CwmpEndpoint(factory, authenticator=None, settings=settings, clock=clock)


async def connection_seen_closed(endpoint: CwmpEndpoint, device_key: str) -> None:
    """Wait (deadline 10 s) until the server saw the session's connection close."""
    deadline = time.monotonic() + 10.0
    while True:
        session = endpoint.registry.for_device(device_key)
        assert session is not None
        if connection_closed(session.connection):
            return
        assert time.monotonic() < deadline, "the server never saw the connection close"
        await asyncio.sleep(0.01)


async def inform_on_new_connection(url: str, serial: str) -> m.Envelope:
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as other,
        other.post(url, data=inform(serial, cwmp_id="again")) as resp,
    ):
        assert resp.status == 200
        return decode(await resp.read())


@pytest.fixture
def factory() -> OneRpcFactory:
    return OneRpcFactory()


async def test_reinform_after_a_dropped_connection_replaces_the_session(
    factory: OneRpcFactory,
) -> None:
    clock = FakeClock()
    endpoint = new_endpoint(factory, clock)
    async with running(endpoint, sweep_interval=3600) as url:
        async with aiohttp.ClientSession() as first:  # its connection closes on exit
            async with first.post(url, data=inform("BOOT1")) as resp:
                old_cookie = resp.cookies[COOKIE_NAME].value
            async with first.post(url, data=b"") as resp:  # the ACS waits on a GPV answer
                assert isinstance(decode(await resp.read()).body, m.GetParameterValues)
        await connection_seen_closed(endpoint, DEVICE.format("BOOT1"))
        clock.advance(1.0)  # well within the session timeout and the grace

        answer = await inform_on_new_connection(url, "BOOT1")
        assert isinstance(answer.body, m.InformResponse)
        assert factory.journal.ends == ["abandoned"]
        assert len(endpoint.registry) == 1

        # The old cookie reaches no session any more; the sweeper ends nothing twice.
        async with aiohttp.ClientSession() as late:
            headers = {"Cookie": f"{COOKIE_NAME}={old_cookie}"}
            async with late.post(url, data=gpv_response(), headers=headers) as resp:
                assert isinstance(decode(await resp.read()).body, m.CwmpFault)
        clock.advance(31.0)
        assert await endpoint.expire_sessions() == 1  # the new session, not the old one
        assert factory.journal.ends == ["abandoned", "timeout"]


async def test_the_new_session_runs_to_completion(factory: OneRpcFactory) -> None:
    clock = FakeClock()
    endpoint = new_endpoint(factory, clock)
    async with running(endpoint, sweep_interval=3600) as url:
        async with aiohttp.ClientSession() as first:
            await (await first.post(url, data=inform("BOOT2"))).read()
        await connection_seen_closed(endpoint, DEVICE.format("BOOT2"))
        async with aiohttp.ClientSession() as second:
            async with second.post(url, data=inform("BOOT2")) as resp:
                assert isinstance(decode(await resp.read()).body, m.InformResponse)
            async with second.post(url, data=b"") as resp:
                assert isinstance(decode(await resp.read()).body, m.GetParameterValues)
            assert (await second.post(url, data=gpv_response())).status == 204
        assert factory.journal.ends == ["abandoned", "completed"]
        assert len(set(factory.journal.session_ids)) == 2
        assert len(endpoint.registry) == 0


async def test_a_second_inform_while_the_first_connection_is_live_gets_8005(
    factory: OneRpcFactory,
) -> None:
    clock = FakeClock()
    endpoint = new_endpoint(factory, clock)
    async with running(endpoint, sweep_interval=3600) as url, aiohttp.ClientSession() as first:
        await (await first.post(url, data=inform("LIVE1"))).read()
        clock.advance(9.0)  # silent, but not for the 10 s grace; its connection is open
        answer = await inform_on_new_connection(url, "LIVE1")
        assert isinstance(answer.body, m.CwmpFault)
        assert answer.body.fault_code == RETRY_REQUEST
        assert factory.journal.ends == []
        async with first.post(url, data=b"") as resp:  # the first session goes on
            assert isinstance(decode(await resp.read()).body, m.GetParameterValues)


async def test_a_session_silent_past_the_grace_is_replaced_even_if_its_connection_looks_open(
    factory: OneRpcFactory,
) -> None:
    # A CPE that lost power leaves a half-open connection: no FIN, no RST.
    clock = FakeClock()
    endpoint = new_endpoint(factory, clock)
    async with running(endpoint, sweep_interval=3600) as url, aiohttp.ClientSession() as first:
        await (await first.post(url, data=inform("HALF1"))).read()
        session = endpoint.registry.for_device(DEVICE.format("HALF1"))
        assert session is not None
        assert not connection_closed(session.connection)
        clock.advance(10.0)
        answer = await inform_on_new_connection(url, "HALF1")
        assert isinstance(answer.body, m.InformResponse)
        assert factory.journal.ends == ["abandoned"]


async def test_an_inform_inside_the_session_starts_a_new_one(factory: OneRpcFactory) -> None:
    # A CPE that gave up on its session (an HTTP timeout) and starts over, keeping its
    # cookie: no Inform is legal inside a session, so the old one was abandoned.
    clock = FakeClock()
    endpoint = new_endpoint(factory, clock)
    async with running(endpoint, sweep_interval=3600) as url:
        async with aiohttp.ClientSession() as cpe:
            async with cpe.post(url, data=inform("KEEP1")) as resp:
                old_cookie = resp.cookies[COOKIE_NAME].value
            async with cpe.post(url, data=b"") as resp:
                assert isinstance(decode(await resp.read()).body, m.GetParameterValues)
            headers = {"Cookie": f"{COOKIE_NAME}={old_cookie}"}
            async with cpe.post(url, data=inform("KEEP1"), headers=headers) as resp:
                assert isinstance(decode(await resp.read()).body, m.InformResponse)
                new_cookie = resp.cookies[COOKIE_NAME].value
            assert new_cookie != old_cookie
            assert factory.journal.ends == ["abandoned"]
            headers = {"Cookie": f"{COOKIE_NAME}={new_cookie}"}
            async with cpe.post(url, data=b"", headers=headers) as resp:
                assert isinstance(decode(await resp.read()).body, m.GetParameterValues)
            assert (await cpe.post(url, data=gpv_response(), headers=headers)).status == 204
        assert factory.journal.ends == ["abandoned", "completed"]


class StallingHandler(OneRpcHandler):
    """Holds the answer to the empty POST until the test releases it."""

    def __init__(self, journal: Journal, entered: asyncio.Event, go: asyncio.Event) -> None:
        super().__init__(journal)
        self.entered, self.go = entered, go

    async def next_acs_request(self, now: float) -> m.Message | None:
        self.entered.set()
        await self.go.wait()
        return await super().next_acs_request(now)


class StallingFactory(OneRpcFactory):
    def __init__(self) -> None:
        super().__init__()
        self.entered, self.go = asyncio.Event(), asyncio.Event()

    def new_session(self, session_id: str) -> SessionHandler:
        self.journal.session_ids.append(session_id)
        return StallingHandler(self.journal, self.entered, self.go)


async def test_a_session_answering_a_post_is_never_cut() -> None:
    factory = StallingFactory()
    clock = FakeClock()
    endpoint = new_endpoint(factory, clock)
    async with running(endpoint, sweep_interval=3600) as url:
        async with aiohttp.ClientSession() as first:
            await (await first.post(url, data=inform("BUSY1"))).read()
            pending = asyncio.create_task(first.post(url, data=b""))
            await factory.entered.wait()
            pending.cancel()  # the CPE gives up on that POST and drops the connection
            with pytest.raises(asyncio.CancelledError):
                await pending
        await connection_seen_closed(endpoint, DEVICE.format("BUSY1"))
        clock.advance(20.0)
        answer = await inform_on_new_connection(url, "BUSY1")
        assert isinstance(answer.body, m.CwmpFault)
        assert answer.body.fault_code == RETRY_REQUEST
        assert factory.journal.ends == []
        factory.go.set()  # the POST is answered (to a closed connection); then replaceable
        session = endpoint.registry.for_device(DEVICE.format("BUSY1"))
        assert session is not None
        async with session.lock:
            pass
        answer = await inform_on_new_connection(url, "BUSY1")
        assert isinstance(answer.body, m.InformResponse)
        assert factory.journal.ends == ["abandoned"]


# ---------------------------------------------------------------- with the workflow


async def test_the_abandoned_attempt_ends_once_with_its_reason_and_the_cpe_provisions(
    tmp_path: Path,
) -> None:
    clock = FakeClock(time.time())
    fleet = fleet_of(NO_FAULTS)
    cpe = fleet.cpes[0]
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    try:
        await store_fleet(repo, fleet, time.time())
        telemetry = RecordingTelemetry()
        factory = ProvisioningHandlerFactory(repo, EmbeddedProfileSource(repo), telemetry)
        endpoint = CwmpEndpoint(factory, authenticator=None, clock=clock)
        device_key = f"{cpe.identity.oui}-{cpe.identity.serial_number}"
        async with running(endpoint, sweep_interval=3600) as url:
            async with aiohttp.ClientSession() as first:
                status, _, cookie, _ = await post(first, url, cpe.build_inform(at(clock)), None)
                assert status == 200
                status, answer, _, _ = await post(first, url, None, cookie)
                assert answer is not None
                assert isinstance(answer.body, m.SetParameterValues)  # mid push_config
            cpe.crash()  # power lost; the connection is gone
            cpe.session_failed()
            await connection_seen_closed(endpoint, device_key)
            clock.advance(2.0)

            async with aiohttp.ClientSession() as second:
                status, answer, cookie, _ = await post(
                    second, url, cpe.build_inform(at(clock)), None
                )
                assert status == 200
                assert answer is not None
                assert isinstance(answer.body, m.InformResponse)
                status, answer, _, _ = await post(second, url, None, cookie)
                while status == 200:
                    assert answer is not None
                    reply = cpe.handle(answer.body, at(clock))
                    status, answer, _, _ = await post(
                        second, url, m.Envelope(body=reply, namespace=cpe.namespace), cookie
                    )
                assert status == 204
            clock.advance(31.0)
            assert await endpoint.expire_sessions() == 0

        device = await repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.PROVISIONED
        [new, old] = await repo.list_attempts(
            AttemptFilter(serial_number=cpe.identity.serial_number)
        )
        assert (old.result, old.failing_step) == ("session_abandoned", "push_config")
        assert new.result == "success"
        # Each session's trace is exported once; the first says why it ended.
        [(old_trace, old_outcome), (new_trace, new_outcome)] = telemetry.finished
        assert old_outcome is not None
        assert old_outcome.result == "session_abandoned"
        assert old_trace.trace_id == old.trace_id
        assert old_trace.root.attributes["cpe.provision.result"] == "session_abandoned"
        assert old_trace.root.status == "error"
        assert all(s.end_ns is not None for s in old_trace.spans)
        assert new_outcome is not None
        assert new_outcome.result == "success"
        assert new_trace.trace_id == new.trace_id
        assert telemetry.active == 0
    finally:
        await repo.close()


@pytest.mark.parametrize("failure", [Failure.DROP, Failure.CRASH])
async def test_a_simulated_cpe_that_drops_mid_session_is_admitted_on_its_retry(
    tmp_path: Path, failure: Failure
) -> None:
    fleet = fleet_of(FaultPlan(failure))
    cpe = fleet.cpes[0]
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    try:
        await store_fleet(repo, fleet, time.time())
        telemetry = RecordingTelemetry()
        factory = ProvisioningHandlerFactory(repo, EmbeddedProfileSource(repo), telemetry)
        endpoint = CwmpEndpoint(factory, authenticator=None)
        device_key = f"{cpe.identity.oui}-{cpe.identity.serial_number}"
        async with running(endpoint, sweep_interval=3600) as url:
            runner = FleetRunner([cpe], RunnerConfig(url, connection_requests=False))
            assert not await runner.run_session(cpe)  # dropped after the first RPC
            await connection_seen_closed(endpoint, device_key)
            assert await runner.run_session(cpe)  # at once: no 8005 for 30 s
        assert runner.stats.results == {DROPPED: 1, COMPLETED: 1}
        [new, old] = await repo.list_attempts(
            AttemptFilter(serial_number=cpe.identity.serial_number)
        )
        assert old.result == "session_abandoned"
        assert new.result == "success"
        assert [o.result for _, o in telemetry.finished if o is not None] == [
            "session_abandoned",
            "success",
        ]
    finally:
        await repo.close()


async def test_the_sweeper_frees_the_slot_of_a_cpe_that_dropped_mid_session(
    factory: OneRpcFactory,
) -> None:
    """With ``max_sessions`` full of sessions whose CPEs hung up, a live CPE is admitted
    once they have been silent for ``abandoned_after``, not only after the timeout."""
    clock = FakeClock()
    settings = EndpointSettings(session_timeout=30.0, abandoned_after=10.0, max_sessions=1)
    endpoint = CwmpEndpoint(factory, authenticator=None, settings=settings, clock=clock)
    async with running(endpoint, sweep_interval=3600) as url:
        async with aiohttp.ClientSession() as dropped:  # hangs up while the ACS waits
            await (await dropped.post(url, data=inform("GONE1"))).read()
        await connection_seen_closed(endpoint, DEVICE.format("GONE1"))
        async with aiohttp.ClientSession() as live:
            async with live.post(url, data=inform("LIVE1")) as resp:
                assert resp.status == 503  # full: the dropped session holds the slot

            clock.advance(9.0)  # closed, but not silent long enough yet
            assert await endpoint.expire_sessions() == 0
            clock.advance(1.0)
            assert await endpoint.expire_sessions() == 1
            assert factory.journal.ends == ["abandoned"]

            async with live.post(url, data=inform("LIVE1")) as resp:
                assert isinstance(decode(await resp.read()).body, m.InformResponse)


async def test_the_sweeper_keeps_a_silent_session_whose_connection_is_open(
    factory: OneRpcFactory,
) -> None:
    """A CPE still connected (the ACS waits on its answer) is not abandoned by silence
    alone at the sweep: only the timeout ends it."""
    clock = FakeClock()
    endpoint = new_endpoint(factory, clock)
    async with running(endpoint, sweep_interval=3600) as url:
        async with aiohttp.ClientSession() as cpe:
            await (await cpe.post(url, data=inform("SLOW1"))).read()
            clock.advance(20.0)
            assert await endpoint.expire_sessions() == 0
            clock.advance(11.0)
            assert await endpoint.expire_sessions() == 1
        assert factory.journal.ends == ["timeout"]
