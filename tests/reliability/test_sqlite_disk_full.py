"""The SQLite default on a full disk: a real ``SQLITE_FULL``, from ``PRAGMA max_page_count``.

While the database cannot grow, CPEs are told to retry (fault 8005) and the log names
the cause; the file stays intact; when space returns, every device gets provisioned at
its next Inform (one sent after the disk is freed, whatever the host's speed).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.reliability.fleet_checks import (
    periodic_round,
    refusals,
    retrying_fleet,
    store_violations,
)
from tests.reliability.harness import real_acs
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.repository import DeviceFilter, StorageUnavailable
from traceacs.storage import SqlDeviceRepository

DEVICES = 11  # 10 in the fleet; real_acs keeps the last for `healthy_session`
UNLIMITED_PAGES = 2**31 - 2
RETRIES_WHILE_FULL = 5


async def fill_the_disk(repo: SqlDeviceRepository) -> None:
    """Cap the file at its current size, then use up the free room left in its pages."""
    await repo.db.execute("CREATE TABLE test_filler (junk BLOB)")
    pages = int(await repo.db.fetchval("PRAGMA page_count"))
    assert int(await repo.db.fetchval(f"PRAGMA max_page_count = {pages}")) == pages
    with pytest.raises(StorageUnavailable, match="SQLITE_FULL"):
        await _insert_until_refused(repo)


async def _insert_until_refused(repo: SqlDeviceRepository) -> None:
    for _ in range(100_000):
        await repo.db.execute("INSERT INTO test_filler VALUES (randomblob(64))")


async def free_the_disk(repo: SqlDeviceRepository) -> None:
    await repo.db.fetchval(f"PRAGMA max_page_count = {UNLIMITED_PAGES}")
    await repo.db.execute("DROP TABLE test_filler")


async def test_full_disk_is_answered_8005_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with real_acs(tmp_path, devices=DEVICES) as acs:
        cpes = acs.fleet.cpes[:-1]
        await fill_the_disk(acs.repo)
        # While the disk is full, each device boots and informs periodically, retrying
        # refusals a few times before it gives up for now. Small writes may still fit in
        # the last free bytes: a session can complete whose result cannot be written.
        full = retrying_fleet(cpes, acs.url, sessions=2, max_attempts=RETRIES_WHILE_FULL)
        during = await asyncio.wait_for(full.run(), 120)
        assert refusals(full) >= RETRIES_WHILE_FULL, during.results
        assert set(during.results) <= {"completed", "faulted(8005)"}, during.results
        assert await acs.repo.db.fetchval("PRAGMA integrity_check") == "ok"

        # Space is back: at its next periodic Inform, sent only now, every device is
        # served (no more 8005) and provisioned, be it one that was refused or one whose
        # result was not written.
        await free_the_disk(acs.repo)
        after = await asyncio.wait_for(periodic_round(cpes, acs.url).run(), 120)
        assert after.results == {"completed": DEVICES - 1}, after.results
        await acs.healthy_session()
        provisioned = await acs.repo.count_devices(
            DeviceFilter(state=ProvisioningState.PROVISIONED)
        )
        assert provisioned == DEVICES
        assert not any((await store_violations(acs.repo)).values())
        assert await acs.repo.db.fetchval("PRAGMA integrity_check") == "ok"
    assert "inventory unavailable, answered 8005" in caplog.text
    assert "SQLITE_FULL" in caplog.text
