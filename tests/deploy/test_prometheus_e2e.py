"""A real Prometheus scrapes the live ACS and evaluates the shipped rules (issue 5 item 5).

Prometheus (the Debian package's binary) runs on 127.0.0.1 with a temporary config that
scrapes the ACS's ``/metrics`` every second and loads a test copy of
``deploy/prometheus/rules/``: the same expressions with windows, ``for:`` durations and
two thresholds scaled from minutes to seconds by `scaled_rules` (each substitution must
match exactly as often as expected, so a rule change cannot silently escape the test).
Simulated CPEs provision in waves; a sick fleet must bring all four alerts to
``firing``, a healthy one none. Every wait polls Prometheus's HTTP API with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.deploy.promtool import RULE_FILES
from tests.telemetry.live_acs import LiveAcs, live_acs
from traceacs.simulator.faults import Failure, assign_faults, parse_fail_spec
from traceacs.simulator.fleet import Fleet, build_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig

ALERTS = {
    "CPEProvisioningFailureRateHigh",
    "CPEProvisioningSlow",
    "CPEConfigVerificationMismatch",
    "CPEProvisioningSessionsOverCapacity",
}
SLOW_THRESHOLD_MS = 1500
"""Well under the sick fleet's average (a fifth of its sessions take ~10 s) and well over a
healthy fleet's on a loaded two-core machine (the healthy test failed at 500 ms under load)."""
# (shipped text, test text, how often it must occur across the rule files)
SCALING: tuple[tuple[str, str, int], ...] = (
    ("[5m]", "[20s]", 8),
    ("[15m]", "[30s]", 1),
    ("offset 15m", "offset 30s", 1),
    ("for: 5m", "for: 3s", 2),
    ("for: 10m", "for: 3s", 1),
    ("interval: 30s", "interval: 1s", 1),
    ("> 60000", f"> {SLOW_THRESHOLD_MS}", 1),
    (">= 20", ">= 5", 1),
)
SICK_FLEET = "unknown=10%,no_profile=10%,spv_fault=10%,mismatch=10%,slow=20%"
WAVE = 20
SLOW_SECONDS = 3.0
"""Before each POST of a slow CPE: its sessions stay open about 10 s, holding slots."""


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is not None:
        return path
    hint = "prometheus not installed: run deploy/prometheus/ensure-promtool.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(hint)
    pytest.skip(hint)


def scaled_rules(directory: Path) -> list[Path]:
    """Copies of the shipped rule files with minutes scaled down to seconds."""
    texts = {path.name: path.read_text(encoding="utf-8") for path in RULE_FILES}
    for old, new, expected in SCALING:
        found = sum(text.count(old) for text in texts.values())
        assert found == expected, f"{old!r} occurs {found} times in the rules, not {expected}"
        texts = {name: text.replace(old, new) for name, text in texts.items()}
    paths = []
    for name, text in texts.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def poll(
    check: Callable[[], Awaitable[bool]],
    what: Callable[[], Awaitable[str]] | str,
    deadline_s: float,
    every_s: float = 0.5,
) -> None:
    """Await ``check`` until it is true; fail saying ``what`` after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while not await check():
        if time.monotonic() > deadline:
            told = what if isinstance(what, str) else await what()
            pytest.fail(f"timed out after {deadline_s:g} s waiting for {told}")
        await asyncio.sleep(every_s)


class Prometheus:
    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.http = http

    async def get(self, path: str, **params: str) -> Any:
        async with self.http.get(f"{self.url}{path}", params=params) as response:
            body = await response.json()
            assert body["status"] == "success", body
            return body["data"]

    async def alerts(self) -> dict[str, str]:
        """Alert name -> state (pending / firing)."""
        data = await self.get("/api/v1/alerts")
        return {a["labels"]["alertname"]: a["state"] for a in data["alerts"]}

    async def describe(self) -> str:
        """What Prometheus sees, for a failure message."""
        targets = await self.get("/api/v1/targets")
        health = [(t["health"], t["lastError"]) for t in targets["activeTargets"]]
        values = {
            q: await self.value(q)
            for q in (
                "traceacs:provision_failure_ratio:rate5m",
                "traceacs:provision_duration_ms:avg5m",
                "traceacs:verify_mismatches:increase15m",
                "traceacs:active_sessions:sum",
                "traceacs:capacity:sum",
                "sum(cpe_provision_count_total)",
            )
        }
        return f"targets {health}; alerts {await self.alerts()}; {values}"

    async def value(self, query: str) -> float | None:
        data = await self.get("/api/v1/query", query=query)
        return float(data["result"][0]["value"][1]) if data["result"] else None


@contextlib.asynccontextmanager
async def prometheus(tmp_path: Path, target: str) -> AsyncIterator[Prometheus]:
    binary = prometheus_binary()
    rules = scaled_rules(tmp_path)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rules],
        "scrape_configs": [
            {"job_name": "traceacs", "static_configs": [{"targets": [target]}]},
        ],
    }
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/-/ready") as response:
                        return response.status == 200
                return False

            await poll(ready, "Prometheus to start", 60)
            yield Prometheus(url, http)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
        log.close()


async def provision_in_waves(live: LiveAcs, failures: str, stop: asyncio.Event) -> None:
    """New CPEs bootstrap, wave after wave, until ``stop``: attempts keep flowing."""
    for wave in range(1, 1000):
        plans = [
            replace(plan, slow_seconds=SLOW_SECONDS) if plan.failure is Failure.SLOW else plan
            for plan in assign_faults(WAVE, parse_fail_spec(failures), seed=wave)
        ]
        fleet: Fleet = build_fleet(WAVE, data_model="tr181", plans=plans, seed=wave)
        await live.acs.repository.import_devices(fleet.inventory_entries(), time.time())
        runner = FleetRunner(
            fleet.cpes,
            RunnerConfig(
                live.cwmp_url,
                ramp_seconds=0.5,
                connection_requests=False,
                max_attempts=2,  # a refused CPE tries once more, then the wave moves on
                retry_scale=0.01,
            ),
            seed=wave,
        )
        await runner.run()
        if stop.is_set():
            return


@contextlib.asynccontextmanager
async def fleet_under_watch(
    tmp_path: Path, failures: str, *, max_sessions: int = 10_000
) -> AsyncIterator[tuple[LiveAcs, Prometheus]]:
    first = build_fleet(1, data_model="tr181", seed=0)  # brings the profiles
    async with live_acs(tmp_path, first, {}, max_sessions=max_sessions) as live:
        target = live.api_url.removeprefix("http://").rstrip("/")
        async with prometheus(tmp_path, target) as prom:
            stop = asyncio.Event()
            waves = asyncio.create_task(provision_in_waves(live, failures, stop))
            try:
                yield live, prom
            finally:
                stop.set()
                waves.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waves


async def test_a_sick_fleet_brings_all_four_alerts_to_firing(tmp_path: Path) -> None:
    # --max-sessions 3: the slow CPEs hold every session slot for seconds at a time
    async with fleet_under_watch(tmp_path, SICK_FLEET, max_sessions=3) as (_, prom):
        firing: set[str] = set()

        async def all_firing() -> bool:
            firing.update(
                name for name, state in (await prom.alerts()).items() if state == "firing"
            )
            return firing >= ALERTS

        async def state() -> str:
            return f"all four alerts to fire; fired: {sorted(firing)}; {await prom.describe()}"

        await poll(all_firing, state, 120)
        assert await prom.value("traceacs:provision_failure_ratio:rate5m") is not None


async def test_a_healthy_fleet_fires_no_alert(tmp_path: Path) -> None:
    async with fleet_under_watch(tmp_path, "") as (_, prom):
        seen: dict[str, str] = {}

        async def evaluated_long_enough() -> bool:
            seen.update(await prom.alerts())
            # rules evaluated with attempts flowing for well over every shortened `for:`
            samples = await prom.value("count_over_time(traceacs:provision_attempts:rate5m[15s])")
            rate = await prom.value("traceacs:provision_attempts:rate5m")
            return samples is not None and samples >= 12 and rate is not None and rate > 0

        await poll(evaluated_long_enough, "the rules to be evaluated on live traffic", 90)
        seen.update(await prom.alerts())
        assert seen == {}
        average = await prom.value("traceacs:provision_duration_ms:avg5m")
        assert average is not None
        assert average < SLOW_THRESHOLD_MS
