"""Shared session mode: a device's new Inform takes over its session row once that row
has been silent for the grace (``abandoned_after``, 10 s), before the full expiry.

Which connection a CPE uses is unknown across processes, so only the row's silence
counts; the old session is ended by exactly one process (the one whose take, a
compare-and-set on the row's version, succeeds).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from tests.provisioning.test_workflow_e2e import fleet_of
from tests.scaleout.test_shared_sessions import Cluster, at, cluster, post
from tests.server.cwmp_client import FakeClock
from traceacs.cwmp import messages as m
from traceacs.cwmp.faults import RETRY_REQUEST
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.repository import AttemptFilter
from traceacs.provisioning.session_store import StoredSession
from traceacs.server.shared_sessions import OPENING
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import NO_FAULTS


async def start_and_stall(
    acs: Cluster, http: aiohttp.ClientSession, cpe: SimulatedCpe, clock: FakeClock
) -> str:
    """Inform on a, empty POST on b (the SetParameterValues goes out); returns the cookie."""
    a, b = acs.processes
    status, _, cookie, _ = await post(http, a.url, cpe.build_inform(at(clock)), None)
    assert status == 200
    assert cookie
    status, answer, _, _ = await post(http, b.url, None, cookie)
    assert status == 200
    assert answer is not None
    assert isinstance(answer.body, m.SetParameterValues)
    return cookie


async def run_to_end(
    http: aiohttp.ClientSession, urls: list[str], cpe: SimulatedCpe, clock: FakeClock, cookie: str
) -> int:
    """The rest of a session after its InformResponse; returns the last status."""
    status, answer, _, _ = await post(http, urls[0], None, cookie)
    sent = 1
    while status == 200:
        assert answer is not None
        reply = cpe.handle(answer.body, at(clock))
        status, answer, _, _ = await post(
            http, urls[sent % 2], m.Envelope(body=reply, namespace=cpe.namespace), cookie
        )
        sent += 1
    return status


async def test_a_reinform_after_the_grace_takes_the_row_and_ends_the_old_session_once(
    tmp_path: Path,
) -> None:
    clock = FakeClock(time.time())
    fleet = fleet_of(NO_FAULTS)
    cpe = fleet.cpes[0]
    async with cluster(tmp_path, fleet, clock) as acs, aiohttp.ClientSession() as http:
        a, b = acs.processes
        old_cookie = await start_and_stall(acs, http, cpe, clock)
        cpe.crash()  # rebooted mid push_config
        cpe.session_failed()
        clock.advance(11.0)  # past the 10 s grace, well before the 30 s expiry

        status, answer, cookie, worker = await post(http, a.url, cpe.build_inform(at(clock)), None)
        assert (status, worker) == (200, "a")
        assert answer is not None
        assert isinstance(answer.body, m.InformResponse)
        assert cookie
        assert cookie != old_cookie
        [(old_trace, old_outcome)] = a.telemetry.finished  # ended by a, the taker
        assert b.telemetry.finished == []
        assert old_outcome is not None
        assert old_outcome.result == "session_abandoned"
        assert old_trace.root.status == "error"
        # The old cookie reaches no session any more.
        status, _, _, _ = await post(http, b.url, None, old_cookie)
        assert status == 204

        assert await run_to_end(http, [b.url, a.url], cpe, clock, cookie) == 204
        clock.advance(31.0)
        assert await a.endpoint.expire_sessions() == 0
        assert await b.endpoint.expire_sessions() == 0

        device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.PROVISIONED
        [new, old] = await acs.repo.list_attempts(
            AttemptFilter(serial_number=cpe.identity.serial_number)
        )
        assert (old.result, old.failing_step) == ("session_abandoned", "push_config")
        assert old.trace_id == old_trace.trace_id
        assert new.result == "success"
        finished = [f for p in acs.processes for f in p.telemetry.finished]
        assert len(finished) == 2  # each session's trace exported once
        assert await acs.repo.db.fetchval("SELECT count(*) FROM cwmp_sessions") == 0


async def test_a_reinform_within_the_grace_gets_8005_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    clock = FakeClock(time.time())
    fleet = fleet_of(NO_FAULTS)
    cpe = fleet.cpes[0]
    async with cluster(tmp_path, fleet, clock) as acs, aiohttp.ClientSession() as http:
        a, b = acs.processes
        status, answer, cookie, _ = await post(http, a.url, cpe.build_inform(at(clock)), None)
        assert status == 200
        assert cookie
        clock.advance(9.0)
        status, answer, _, _ = await post(http, b.url, cpe.build_inform(at(clock)), None)
        assert status == 200
        assert answer is not None
        assert isinstance(answer.body, m.CwmpFault)
        assert answer.body.fault_code == RETRY_REQUEST
        assert await run_to_end(http, [b.url, a.url], cpe, clock, cookie) == 204
        [(_, outcome)] = [f for p in acs.processes for f in p.telemetry.finished]
        assert outcome is not None
        assert outcome.result == "success"


async def test_concurrent_takeovers_admit_one_session_and_end_the_old_one_once(
    tmp_path: Path,
) -> None:
    clock = FakeClock(time.time())
    fleet = fleet_of(NO_FAULTS)
    cpe = fleet.cpes[0]
    async with cluster(tmp_path, fleet, clock) as acs, aiohttp.ClientSession() as http:
        a, b = acs.processes
        await start_and_stall(acs, http, cpe, clock)
        cpe.session_failed()
        clock.advance(11.0)
        replies = await asyncio.gather(
            post(http, a.url, cpe.build_inform(at(clock), cwmp_id="a"), None),
            post(http, b.url, cpe.build_inform(at(clock), cwmp_id="b"), None),
        )
        bodies = [type(answer.body) for _, answer, _, _ in replies if answer is not None]
        assert sorted(t.__name__ for t in bodies) == ["CwmpFault", "InformResponse"]
        ended = [o for p in acs.processes for _, o in p.telemetry.finished]
        assert [o.result for o in ended if o is not None] == ["session_abandoned"]
        assert await acs.repo.db.fetchval("SELECT count(*) FROM cwmp_sessions") == 1


async def test_a_row_whose_inform_is_still_answered_is_not_taken(tmp_path: Path) -> None:
    clock = FakeClock(time.time())
    fleet = fleet_of(NO_FAULTS)
    cpe = fleet.cpes[0]
    async with cluster(tmp_path, fleet, clock) as acs, aiohttp.ClientSession() as http:
        a, _ = acs.processes
        store = a.endpoint.shared.store if a.endpoint.shared is not None else None
        assert store is not None
        device_key = f"{cpe.identity.oui}-{cpe.identity.serial_number}"
        opening = StoredSession("k" * 64, device_key, "opening1", 0, clock.now + 30.0, OPENING)
        assert await store.claim(opening)
        clock.advance(11.0)
        status, answer, _, _ = await post(http, a.url, cpe.build_inform(at(clock)), None)
        assert status == 200
        assert answer is not None
        assert isinstance(answer.body, m.CwmpFault)
        assert answer.body.fault_code == RETRY_REQUEST
        clock.advance(20.0)  # past its expiry: ended as timed out, the device is free
        status, answer, _, _ = await post(http, a.url, cpe.build_inform(at(clock)), None)
        assert status == 200
        assert answer is not None
        assert isinstance(answer.body, m.InformResponse)


async def test_an_inform_with_the_old_cookie_ends_that_session_once_and_opens_a_new_one(
    tmp_path: Path,
) -> None:
    clock = FakeClock(time.time())
    fleet = fleet_of(NO_FAULTS)
    cpe = fleet.cpes[0]
    async with cluster(tmp_path, fleet, clock) as acs, aiohttp.ClientSession() as http:
        a, b = acs.processes
        old_cookie = await start_and_stall(acs, http, cpe, clock)
        cpe.session_failed()
        clock.advance(1.0)  # within the grace: only the in-session Inform tells
        status, answer, cookie, _ = await post(http, a.url, cpe.build_inform(at(clock)), old_cookie)
        assert status == 200
        assert answer is not None
        assert isinstance(answer.body, m.InformResponse)
        assert cookie
        assert cookie != old_cookie
        assert await run_to_end(http, [b.url, a.url], cpe, clock, cookie) == 204
        outcomes = [o for p in acs.processes for _, o in p.telemetry.finished]
        assert sorted(o.result for o in outcomes if o is not None) == [
            "session_abandoned",
            "success",
        ]
        assert await acs.repo.db.fetchval("SELECT count(*) FROM cwmp_sessions") == 0
