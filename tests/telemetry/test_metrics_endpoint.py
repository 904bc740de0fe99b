"""``GET /metrics`` on the API port of a live ACS: what Prometheus scrapes.

One test runs `traceacs serve` as a real subprocess (the path an operator takes), one
provisioning goes through it, and an unauthenticated scrape finds the seed's metrics;
the CPE-facing CWMP port does not serve them. Another shows ``serve`` without a
repository still serves ``/metrics`` alone on the API port.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry, Counter

from tests.server.test_serve_command import read_until
from tests.telemetry.live_acs import samples
from traceacs.app import serve
from traceacs.config import Settings, default_database_url
from traceacs.simulator.fleet import build_fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.storage import open_repository

CWMP = re.compile(rb"CWMP endpoint listening on (http://127\.0\.0\.1:\d+/)")
API = re.compile(rb"API listening on (http://127\.0\.0\.1:\d+/)")
SEED_SERIES = (
    "cpe_provision_count_total",
    "cpe_provision_duration_milliseconds_count",
    "cpe_provision_step_duration_milliseconds_count",
    "cpe_provision_active_sessions",
)


async def test_traceacs_serve_exposes_the_seeds_metrics_without_a_token(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fleet = build_fleet(1, data_model="tr181", seed=3)
    repo = await open_repository(default_database_url(data))
    try:
        await store_fleet(repo, fleet, time.time())
    finally:
        await repo.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEACS_", "OTEL_"))}
    env["TRACEACS_DATA_DIR"] = str(data)
    env["TRACEACS_FILES_PORT"] = "0"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "traceacs.cli", "serve", "--cwmp-port", "0", "--api-port", "0",
        "--bind", "127.0.0.1", "--allow-unauthenticated-cpes", "--max-sessions", "7",
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        cwmp_match, _ = await read_until(proc.stderr, CWMP)
        api_match, _ = await read_until(proc.stderr, API)
        cwmp_url, api_url = cwmp_match.group(1).decode(), api_match.group(1).decode()
        runner = FleetRunner(fleet.cpes, RunnerConfig(cwmp_url, connection_requests=False))
        stats = await runner.run()
        assert stats.results["completed"] == 1
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{api_url}metrics") as response:
                assert response.status == 200
                assert response.content_type == "text/plain"
                body = await response.text()
            async with http.get(f"{cwmp_url}metrics") as response:
                assert response.status != 200  # never on the CPE-facing port
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=30)
    scraped = samples(body)
    for name in SEED_SERIES:
        assert name in scraped, name
    assert scraped["cpe_provision_count_total"] == [({"result": "success"}, 1.0)]
    assert scraped["cpe_provision_capacity"] == [({}, 7.0)]
    assert scraped["cpe_provision_active_sessions"] == [({}, 0.0)]
    assert "cpe_serial_number" not in body  # serials are span attributes only


async def test_serve_without_a_repository_serves_metrics_alone(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    Counter("probe", "a probe counter", registry=registry).inc()
    settings = Settings(cwmp_port=0, api_port=0, allow_unauthenticated_cpes=True)
    stop = asyncio.Event()
    ready: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(settings, stop=stop, on_api_ready=ready.set_result, metrics=registry)
    )
    try:
        [api_url, *_] = await asyncio.wait_for(asyncio.shield(ready), timeout=30)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{api_url}metrics") as response:
                assert response.status == 200
                assert "probe_total 1.0" in await response.text()
            async with http.get(f"{api_url}api/summary") as response:
                assert response.status == 404  # no repository: no REST API
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
