"""Attempts left open for the CPE (firmware transfers): kept past the stale limit until
their deadline, then failed with the timeout result and reason given when they began
to wait. Runs on SQLite and PostgreSQL (the ``repo`` fixture)."""

from __future__ import annotations

import pytest

from traceacs.provisioning.device import DeviceIdentity, InventoryEntry, ProvisioningState
from traceacs.provisioning.repository import AttemptNotFound
from traceacs.storage import SqlDeviceRepository

OUI = "00D09E"


async def _waiting(repo: SqlDeviceRepository, serial: str, deadline: float) -> int:
    await repo.import_devices(
        [InventoryEntry(serial, OUI, "HG8245", f"cust-{serial}", "gold", "loc")], now=1.0
    )
    attempt_id = await repo.start_attempt(DeviceIdentity(OUI, serial), 10.0, None)
    await repo.wait_for_cpe(
        attempt_id,
        step="firmware",
        deadline=deadline,
        timeout_result="firmware_failed",
        timeout_reason="firmware download timed out after 1800 s",
        details={"firmware": {"target_version": "2.0"}},
    )
    return attempt_id


async def test_a_waiting_attempt_records_its_step_deadline_and_details(
    repo: SqlDeviceRepository,
) -> None:
    attempt_id = await _waiting(repo, "SN1", deadline=1810.0)
    attempt = await repo.get_attempt(attempt_id)
    assert attempt is not None
    assert attempt.in_progress
    assert (attempt.waiting_step, attempt.deadline_at) == ("firmware", 1810.0)
    assert attempt.details["firmware"] == {"target_version": "2.0"}


async def test_expiry_keeps_a_waiting_attempt_until_its_deadline(
    repo: SqlDeviceRepository,
) -> None:
    waiting = await _waiting(repo, "SN1", deadline=1810.0)
    await repo.import_devices(
        [InventoryEntry("SN2", OUI, "HG8245", "cust-SN2", "gold", "loc")], now=1.0
    )
    stale = await repo.start_attempt(DeviceIdentity(OUI, "SN2"), 10.0, None)

    assert await repo.expire_stale_attempts(600.0, now=1000.0) == 1  # only the plain one
    plain = await repo.get_attempt(stale)
    assert plain is not None
    assert plain.result == "expired"
    kept = await repo.get_attempt(waiting)
    assert kept is not None
    assert kept.in_progress

    assert await repo.expire_stale_attempts(600.0, now=1811.0) == 1
    failed = await repo.get_attempt(waiting)
    assert failed is not None
    assert (failed.result, failed.failing_step) == ("firmware_failed", "firmware")
    assert failed.fault_string == "firmware download timed out after 1800 s"
    assert failed.ended_at == 1811.0
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.state is ProvisioningState.FAILED
    assert device.failed_step == "firmware"
    assert device.failure_reason == "firmware download timed out after 1800 s"
    assert await repo.expire_stale_attempts(600.0, now=5000.0) == 0


async def test_only_an_unfinished_attempt_can_wait(repo: SqlDeviceRepository) -> None:
    attempt_id = await _waiting(repo, "SN1", deadline=1810.0)
    await repo.finish_attempt(attempt_id, 20.0, "success")
    with pytest.raises(AttemptNotFound):
        await repo.wait_for_cpe(
            attempt_id,
            step="firmware",
            deadline=99.0,
            timeout_result="firmware_failed",
            timeout_reason="x",
            details={},
        )
