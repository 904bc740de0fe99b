"""The real ACS for end-to-end telemetry tests: `open_acs` + `serve` on 127.0.0.1.

Built exactly as `traceacs serve` builds it (telemetry from an ``OTEL_*`` environment,
the embedded trace store processor when wanted, the provisioning workflow), with the
REST API and ``/metrics`` on a second port; the fleet's inventory and profiles are
imported first, as an operator would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp

from tests.serving import serving
from traceacs.assembly import Acs, open_acs
from traceacs.config import Settings
from traceacs.provisioning.profile import ServiceProfile
from traceacs.server.cpe_auth import CpeCredentialStore
from traceacs.simulator.fleet import Fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.simulator.stats import FleetStats


@dataclass
class LiveAcs:
    acs: Acs
    cwmp_url: str
    api_url: str
    fleet: Fleet

    async def run_fleet(self, **config: object) -> FleetStats:
        """Every CPE of the fleet runs its sessions against the live CWMP endpoint."""
        options: dict[str, object] = {
            "sessions_per_cpe": 1,
            "ramp_seconds": 0.0,
            "connection_requests": False,
            "max_attempts": 1,  # a refused CPE (unknown) is not retried
        }
        options.update(config)
        runner = FleetRunner(self.fleet.cpes, RunnerConfig(self.cwmp_url, **options))  # type: ignore[arg-type]
        return await runner.run()

    async def scrape(self, path: str = "metrics", token: str | None = None) -> str:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.api_url}{path}", headers=headers) as response,
        ):
            assert response.status == 200, response.status
            return await response.text()

    async def flush(self) -> None:
        """Flush every exporter (from a thread: the OTLP receiver may share this loop)."""
        telemetry = self.acs.telemetry
        assert telemetry is not None
        assert await asyncio.to_thread(telemetry.force_flush, 20_000)


@contextlib.asynccontextmanager
async def live_acs(
    tmp_path: Path,
    fleet: Fleet,
    environ: Mapping[str, str],
    *,
    profiles: Sequence[ServiceProfile] | None = None,
    connection_request_password: str | None = None,
    credentials: CpeCredentialStore | None = None,
    **settings: object,
) -> AsyncIterator[LiveAcs]:
    """Serve the ACS until the block ends; ``settings`` override `Settings` fields."""
    base = Settings(
        cwmp_port=0,
        api_port=0,
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'acs.db'}",
        allow_unauthenticated_cpes=True,
    )
    config = replace(base, **settings)  # type: ignore[arg-type]
    async with open_acs(config, environ=environ, sweep_interval=None) as acs:
        stored = fleet if profiles is None else replace(fleet, profiles=tuple(profiles))
        await store_fleet(
            acs.repository,
            stored,
            time.time(),
            connection_request_password=connection_request_password,
        )
        registry = acs.telemetry.prometheus_registry if acs.telemetry else None
        async with serving(
            config,
            acs.factory,
            credentials=credentials,
            repository=acs.repository,
            metrics=registry,
        ) as (cwmp_url, api_url):
            yield LiveAcs(acs, cwmp_url, api_url, fleet)


def samples(exposition: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> (labels without the otel_scope_* ones, value), from a scrape."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if not k.startswith("otel_scope_")}
            out.setdefault(sample.name, []).append((labels, sample.value))
    return out
