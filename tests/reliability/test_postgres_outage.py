"""PostgreSQL going away mid-run, through a TCP proxy the test cuts and restores.

While the database is gone the ACS must answer "retry later" (fault 8005 / HTTP 503),
never crash; the CPEs retry; once it is back the pool reconnects and every device
ends provisioned, with nothing half-written and nothing lost.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.reliability.fleet_checks import refusals, retrying_fleet, store_violations, until
from tests.reliability.harness import real_acs
from tests.reliability.tcp_proxy import cuttable_proxy
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.repository import DeviceFilter

pytestmark = pytest.mark.postgres

DEVICES = 21  # 20 in the fleet; real_acs keeps the last for `healthy_session`


async def test_postgres_outage_is_retried_and_nothing_is_lost(
    tmp_path: Path, pg_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    url = urlsplit(pg_database)
    assert url.hostname is not None
    assert url.port is not None
    async with cuttable_proxy(url.hostname, url.port) as proxy:
        via_proxy = url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}").geturl()
        async with real_acs(tmp_path, devices=DEVICES, store_url=via_proxy) as acs:
            # A second session per CPE (a periodic Inform) is how a device whose result
            # could not be written during the outage gets provisioned: its next Inform.
            runner = retrying_fleet(acs.fleet.cpes[:-1], acs.url, sessions=2)
            fleet = asyncio.create_task(runner.run())
            await until(lambda: runner.stats.results["completed"] >= 3, "some sessions")

            await proxy.cut()
            await until(lambda: refusals(runner) >= 5, "sessions refused while PG is gone")
            before = proxy.connections
            await proxy.restore()

            stats = await asyncio.wait_for(fleet, 120)
            assert proxy.connections > before, "the pool never reconnected"
            assert stats.results["completed"] == 2 * (DEVICES - 1), stats.results
            # Only "retry later" answers, never an ACS error or a dropped process.
            unexpected = {
                k: v
                for k, v in stats.results.items()
                if k not in ("completed", "dropped", "faulted(8005)", "http_error(503)")
            }
            assert not unexpected, stats.results
            await acs.healthy_session()

            provisioned = await acs.repo.count_devices(
                DeviceFilter(state=ProvisioningState.PROVISIONED)
            )
            assert provisioned == DEVICES
            assert not any((await store_violations(acs.repo)).values())
    assert "inventory unavailable, answered 8005" in caplog.text  # names the cause...
    assert "PostgreSQL at" in caplog.text
    assert "password" not in caplog.text.lower()
