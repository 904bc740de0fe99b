"""Scale-out for real: `traceacs serve --workers 2` on one PostgreSQL behind nginx.

Two ACS processes share a fresh PostgreSQL database; a private nginx on 127.0.0.1
balances round-robin with keep-alive to the workers and no stickiness. The simulated
fleet provisions through nginx; a hand-driven session shows, with the worker header,
that consecutive POSTs of one session hit both processes and that its trace (in the
embedded trace store, in PostgreSQL) is one trace holding the spans of both; a second
Inform of a device in session, answered by the other process, gets 8005.

Skips with the reason when nginx or PostgreSQL is missing; under CI=true it fails.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from tests.provisioning.test_workflow_e2e import fleet_of
from tests.scaleout.cluster import nginx_binary, nginx_in_front, serve_workers
from tests.scaleout.test_shared_sessions import FULL_TRACE, post
from traceacs.cwmp import messages as m
from traceacs.cwmp.faults import RETRY_REQUEST
from traceacs.provisioning.device import ProvisioningState
from traceacs.simulator.faults import NO_FAULTS
from traceacs.simulator.fleet import Fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.storage.secret_key import load_secret_box

FLEET_SIZE = 12

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def nginx() -> str:
    binary = nginx_binary()
    if binary is None:
        reason = "nginx not installed (sh tests/scaleout/ensure-nginx.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the scale-out test is required)")
        pytest.skip(reason)
    return binary


@dataclass
class Deployment:
    repo: SqlDeviceRepository
    fleet: Fleet
    url: str
    workers: list[str]


@pytest.fixture
async def deployment(nginx: str, pg_database: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    fleet = fleet_of(*[NO_FAULTS] * FLEET_SIZE)
    # The key the workers load from their data directory, so this side reads what
    # they seal (generated connection-request passwords).
    repo = await open_repository(pg_database, secrets=load_secret_box(tmp_path / "data"))
    try:
        await store_fleet(repo, fleet, time.time())
        async with (
            serve_workers(pg_database, tmp_path / "data", 2) as workers,
            nginx_in_front(nginx, tmp_path / "nginx", workers) as url,
        ):
            yield Deployment(repo, fleet, url, workers)
    finally:
        await repo.close()


async def wait_for_traces(repo: SqlDeviceRepository, count: int) -> list[str]:
    """Trace ids in the embedded store once ``count`` traces are there (deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        rows = await repo.db.fetch("SELECT trace_id FROM trace_summaries")
        if len(rows) >= count:
            return [r["trace_id"] for r in rows]
        if loop.time() > deadline:
            raise AssertionError(f"{len(rows)} of {count} traces stored after 30 s")
        await asyncio.sleep(0.1)


async def test_two_processes_behind_nginx_share_sessions_traces_and_the_device_lock(
    deployment: Deployment,
) -> None:
    repo, fleet = deployment.repo, deployment.fleet
    hand_driven, *others = fleet.cpes
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as http:
        # One session by hand, one POST at a time: nginx alternates between workers.
        status, answer, cookie, opened_on = await post(
            http, deployment.url, hand_driven.build_inform(now), None
        )
        assert status == 200
        assert answer is not None
        assert isinstance(answer.body, m.InformResponse)
        # The same device again while its session is open: the other worker says 8005.
        status, answer, _, refused_on = await post(
            http, deployment.url, hand_driven.build_inform(now), None
        )
        assert status == 200
        assert answer is not None
        assert isinstance(answer.body, m.CwmpFault)
        assert answer.body.fault_code == RETRY_REQUEST
        assert {opened_on, refused_on} == {"0", "1"}

        workers = [opened_on]
        status, answer, _, worker = await post(http, deployment.url, None, cookie)
        workers.append(worker)
        while status == 200:
            assert answer is not None
            reply = hand_driven.handle(answer.body, now)
            status, answer, _, worker = await post(
                http,
                deployment.url,
                m.Envelope(body=reply, namespace=hand_driven.namespace),
                cookie,
            )
            workers.append(worker)
        assert status == 204
        # Spans are opened while answering the Inform (cpe.inform, authenticate), the
        # empty POST (fetch_profile, push_config) and the SPV response (verify): those
        # POSTs were answered by both workers, so the one trace holds spans of both.
        assert len(workers) == 4
        assert set(workers[:3]) == {"0", "1"}, workers

    # The rest of the fleet at once, through nginx, as real CPEs would come.
    runner = FleetRunner(others, RunnerConfig(deployment.url, connection_requests=False))
    await runner.run()
    for cpe in fleet.cpes:
        device = await repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.state is ProvisioningState.PROVISIONED, cpe.identity.serial_number
        assert device.parameter_key == cpe.parameter_key

    # One trace per session, whichever process ended it, with every span of both.
    trace_ids = await wait_for_traces(repo, FLEET_SIZE)
    assert len(trace_ids) == FLEET_SIZE
    attempts = await repo.db.fetch("SELECT trace_id FROM attempts")
    assert sorted(r["trace_id"] for r in attempts) == sorted(trace_ids)
    for trace_id in trace_ids:
        spans = await repo.db.fetch(
            "SELECT name FROM trace_spans WHERE trace_id = $1 ORDER BY start_ns, name",
            trace_id,
        )
        assert sorted(s["name"] for s in spans) == sorted(FULL_TRACE)
    [row] = await repo.db.fetch(
        "SELECT trace_id, result FROM trace_summaries WHERE serial_number = $1",
        hand_driven.identity.serial_number,
    )
    assert row["result"] == "success"
    assert await repo.db.fetchval("SELECT count(*) FROM cwmp_sessions") == 0
