"""Provisioning attempts: one at a time per device, finished with the device, expired."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from traceacs.provisioning.device import (
    DeviceIdentity,
    InformFacts,
    InventoryEntry,
    ProvisioningAttempt,
    ProvisioningState,
)
from traceacs.provisioning.repository import (
    AttemptFilter,
    AttemptInProgress,
    AttemptNotFound,
    DeviceNotFound,
)
from traceacs.storage import SqlDeviceRepository, open_repository

OUI = "00D09E"


def entry(serial: str) -> InventoryEntry:
    return InventoryEntry(serial, OUI, "HG8245", f"cust-{serial}", "gold", "loc")


def ident(serial: str) -> DeviceIdentity:
    return DeviceIdentity(OUI, serial)


async def test_start_attempt_marks_device_provisioning(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1")], now=1.0)
    attempt_id = await repo.start_attempt(ident("SN1"), 10.0, "a" * 32)

    attempt = await repo.get_attempt(attempt_id)
    assert attempt is not None
    assert (attempt.oui, attempt.serial_number) == (OUI, "SN1")
    assert (attempt.started_at, attempt.ended_at, attempt.result) == (10.0, None, None)
    assert attempt.trace_id == "a" * 32
    assert attempt.in_progress
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.state is ProvisioningState.PROVISIONING
    assert await repo.get_attempt(attempt_id + 1000) is None


async def test_start_attempt_for_unknown_device(repo: SqlDeviceRepository) -> None:
    with pytest.raises(DeviceNotFound):
        await repo.start_attempt(ident("GHOST"), 1.0, None)


async def test_second_attempt_is_refused_until_the_first_finishes(
    repo: SqlDeviceRepository,
) -> None:
    await repo.import_devices([entry("SN1"), entry("SN2")], now=1.0)
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    first = await repo.start_attempt(device, 10.0, None)
    with pytest.raises(AttemptInProgress, match="SN1"):
        await repo.start_attempt(device, 11.0, None)
    # The refusal changed nothing, and other devices are not affected.
    assert len(await repo.list_attempts(AttemptFilter(serial_number="SN1"))) == 1
    await repo.start_attempt(ident("SN2"), 11.0, None)

    await repo.finish_attempt(first, 12.0, "success")
    second = await repo.start_attempt(device, 13.0, None)
    assert second != first


async def test_a_new_session_supersedes_an_attempt_left_open_by_a_dead_one(
    repo: SqlDeviceRepository,
) -> None:
    """An ACS killed mid-session leaves an open attempt; the CPE's next Inform replaces it."""
    await repo.import_devices([entry("SN1"), entry("SN2")], now=1.0)
    dead = await repo.start_attempt(ident("SN1"), 10.0, None)
    other = await repo.start_attempt(ident("SN2"), 10.0, None)
    # Only attempts older than the new session are superseded.
    with pytest.raises(AttemptInProgress):
        await repo.start_attempt(ident("SN1"), 10.0, None, supersede_before=10.0)
    fresh = await repo.start_attempt(ident("SN1"), 12.0, None, supersede_before=12.0)
    closed = await repo.get_attempt(dead)
    assert closed is not None
    assert (closed.result, closed.ended_at) == ("expired", 12.0)
    assert closed.details == {"superseded": "a new session of the device began"}
    running = await repo.list_attempts(AttemptFilter(in_progress=True))
    assert sorted(a.id for a in running) == sorted([fresh, other])  # SN2 untouched
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.state is ProvisioningState.PROVISIONING


async def test_concurrent_starts_yield_exactly_one_attempt(
    repo: SqlDeviceRepository, store_url: str
) -> None:
    """Tasks on this store and on a second one (another ACS process) race for one device."""
    await repo.import_devices([entry("SN1")], now=1.0)
    other = await open_repository(store_url)
    try:
        outcomes = await asyncio.gather(
            *(
                (repo if i % 2 else other).start_attempt(ident("SN1"), 10.0 + i, None)
                for i in range(16)
            ),
            return_exceptions=True,
        )
    finally:
        await other.close()
    winners = [o for o in outcomes if isinstance(o, int)]
    losers = [o for o in outcomes if isinstance(o, AttemptInProgress)]
    assert len(winners) == 1
    assert len(losers) == 15
    running = await repo.list_attempts(AttemptFilter(in_progress=True))
    assert [a.id for a in running] == winners


async def test_finish_success_updates_device_in_the_same_transaction(
    repo: SqlDeviceRepository,
) -> None:
    await repo.import_devices([entry("SN1")], now=1.0)
    await repo.set_state(OUI, "SN1", ProvisioningState.FAILED, 2.0, failed_step="verify")
    attempt_id = await repo.start_attempt(ident("SN1"), 10.0, "t1")
    attempt = await repo.finish_attempt(
        attempt_id,
        14.5,
        "success",
        parameter_key="pk-7",
        profile_version="v7",
        details={"parameter_count": 31},
    )
    assert (attempt.result, attempt.ended_at, attempt.failing_step) == ("success", 14.5, None)
    assert attempt.details == {"parameter_count": 31}
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.state is ProvisioningState.PROVISIONED
    assert (device.failed_step, device.failure_reason) == (None, None)
    assert (device.parameter_key, device.profile_version) == ("pk-7", "v7")
    assert device.updated_at == 14.5


async def test_finish_failure_records_step_fault_and_details(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1")], now=1.0)
    first = await repo.start_attempt(ident("SN1"), 10.0, None)
    await repo.finish_attempt(first, 11.0, "success", parameter_key="pk-1", profile_version="v1")
    second = await repo.start_attempt(ident("SN1"), 20.0, "t2")
    details = {
        "parameter_faults": [{"name": "Device.WiFi.SSID.1.SSID", "code": 9007}],
        "mismatches": ["Device.X"],
    }
    attempt = await repo.finish_attempt(
        second,
        21.0,
        "config_push_failed",
        failing_step="push_config",
        fault_code=9003,
        fault_string="Invalid arguments",
        details=details,
    )
    assert (attempt.failing_step, attempt.fault_code, attempt.fault_string) == (
        "push_config",
        9003,
        "Invalid arguments",
    )
    assert attempt.details == details
    assert attempt.trace_id == "t2"
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.state is ProvisioningState.FAILED
    assert (device.failed_step, device.failure_reason) == ("push_config", "Invalid arguments")
    # What was last pushed successfully is still known.
    assert (device.parameter_key, device.profile_version) == ("pk-1", "v1")


async def test_finish_reason_defaults_and_explicit_state(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1"), entry("SN2")], now=1.0)
    a1 = await repo.start_attempt(ident("SN1"), 10.0, None)
    await repo.finish_attempt(a1, 11.0, "no_profile", failing_step="fetch_profile")
    d1 = await repo.get_device(OUI, "SN1")
    assert d1 is not None
    assert (d1.failed_step, d1.failure_reason) == ("fetch_profile", "no_profile")

    a2 = await repo.start_attempt(ident("SN2"), 10.0, None)
    await repo.finish_attempt(a2, 11.0, "unchanged", state=ProvisioningState.PROVISIONED)
    d2 = await repo.get_device(OUI, "SN2")
    assert d2 is not None
    assert d2.state is ProvisioningState.PROVISIONED


async def test_finish_twice_or_unknown_is_refused(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1")], now=1.0)
    attempt_id = await repo.start_attempt(ident("SN1"), 10.0, None)
    await repo.finish_attempt(attempt_id, 11.0, "success")
    with pytest.raises(AttemptNotFound):
        await repo.finish_attempt(attempt_id, 12.0, "verification_failed", failing_step="verify")
    with pytest.raises(AttemptNotFound):
        await repo.finish_attempt(attempt_id + 999, 12.0, "success")
    attempt = await repo.get_attempt(attempt_id)
    assert attempt is not None
    assert (attempt.result, attempt.ended_at) == ("success", 11.0)
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.state is ProvisioningState.PROVISIONED


async def test_finish_rejects_details_that_are_not_json(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1")], now=1.0)
    attempt_id = await repo.start_attempt(ident("SN1"), 10.0, None)
    with pytest.raises(ValueError, match="JSON"):
        await repo.finish_attempt(attempt_id, 11.0, "success", details={"x": object()})
    attempt = await repo.get_attempt(attempt_id)
    assert attempt is not None
    assert attempt.in_progress


async def test_expire_stale_attempts(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("OLD"), entry("NEW"), entry("DONE")], now=1.0)
    old = await repo.start_attempt(ident("OLD"), 100.0, None)
    fresh = await repo.start_attempt(ident("NEW"), 350.0, None)
    done = await repo.start_attempt(ident("DONE"), 100.0, None)
    await repo.finish_attempt(done, 101.0, "success")

    assert await repo.expire_stale_attempts(older_than=300.0, now=500.0) == 1

    expired = await repo.get_attempt(old)
    assert expired is not None
    assert (expired.result, expired.ended_at) == ("expired", 500.0)
    still = await repo.get_attempt(fresh)
    assert still is not None
    assert still.in_progress
    finished = await repo.get_attempt(done)
    assert finished is not None
    assert finished.result == "success"

    device = await repo.get_device(OUI, "OLD")
    assert device is not None
    assert device.state is ProvisioningState.FAILED
    assert device.failure_reason is not None
    assert "expired" in device.failure_reason
    other = await repo.get_device(OUI, "DONE")
    assert other is not None
    assert other.state is ProvisioningState.PROVISIONED
    # The device can be provisioned again, and nothing is left to expire.
    await repo.start_attempt(ident("OLD"), 501.0, None)
    assert await repo.expire_stale_attempts(older_than=300.0, now=500.0) == 0


async def _history(repo: SqlDeviceRepository) -> dict[str, int]:
    await repo.import_devices([entry("SN1"), entry("SN2")], now=1.0)
    await repo.record_inform(OUI, "SN1", 2.0, InformFacts(model="M-1"))
    await repo.record_inform(OUI, "SN2", 2.0, InformFacts(model="M-2"))
    ids: dict[str, int] = {}
    plan = [
        ("s1-a", "SN1", 10.0, "config_push_failed", "push_config"),
        ("s1-b", "SN1", 20.0, "verification_failed", "verify"),
        ("s2-a", "SN2", 15.0, "success", None),
        ("s1-c", "SN1", 30.0, "success", None),
    ]
    for name, serial, start, result, step in plan:
        ids[name] = await repo.start_attempt(ident(serial), start, None)
        await repo.finish_attempt(ids[name], start + 1, result, failing_step=step)
    ids["s2-b"] = await repo.start_attempt(ident("SN2"), 40.0, None)  # still running
    return ids


async def test_list_attempts_filters_and_pages(repo: SqlDeviceRepository) -> None:
    ids = await _history(repo)

    def names(attempts: list[ProvisioningAttempt]) -> list[str]:
        by_id = {v: k for k, v in ids.items()}
        return [by_id[a.id] for a in attempts]

    assert names(await repo.list_attempts()) == ["s2-b", "s1-c", "s1-b", "s2-a", "s1-a"]
    assert names(await repo.list_attempts(limit=2, offset=1)) == ["s1-c", "s1-b"]
    cases = [
        (AttemptFilter(oui="00d09e", serial_number="SN1"), ["s1-c", "s1-b", "s1-a"]),
        (AttemptFilter(result="success"), ["s1-c", "s2-a"]),
        (AttemptFilter(failing_step="verify"), ["s1-b"]),
        (AttemptFilter(model="M-2"), ["s2-b", "s2-a"]),
        (AttemptFilter(started_from=15.0, started_before=30.0), ["s1-b", "s2-a"]),
        (AttemptFilter(in_progress=True), ["s2-b"]),
        (AttemptFilter(in_progress=False, model="M-2"), ["s2-a"]),
        (AttemptFilter(serial_number="GHOST"), []),
    ]
    for filters, expected in cases:
        assert names(await repo.list_attempts(filters)) == expected, filters


@pytest.mark.parametrize("yields", [0, 1, 2, 3, 5, 8])
async def test_a_cancelled_transaction_leaves_the_store_usable(
    repo: SqlDeviceRepository, yields: int
) -> None:
    """A session torn down mid-write (client gone) must not wedge the store."""
    await repo.import_devices([entry("SN1"), entry("SN2")], now=1.0)
    task = asyncio.create_task(repo.start_attempt(ident("SN1"), 10.0, None))
    for _ in range(yields):
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # Whether or not the cancelled start committed, every later operation works.
    second = await repo.start_attempt(ident("SN2"), 11.0, None)
    await repo.finish_attempt(second, 12.0, "success")
    running = await repo.list_attempts(AttemptFilter(in_progress=True))
    assert [a.serial_number for a in running] in ([], ["SN1"])
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    expected = ProvisioningState.PROVISIONING if running else ProvisioningState.NEW
    assert device.state is expected


async def test_finish_attempt_stores_the_values_read_in_the_same_call(
    repo: SqlDeviceRepository,
) -> None:
    await repo.import_devices([entry("SN1")], now=1.0)
    await repo.save_last_values(OUI, "SN1", {"Device.A": "old", "Device.B": "kept"}, 2.0)
    attempt_id = await repo.start_attempt(ident("SN1"), 10.0, None)
    finished = await repo.finish_attempt(
        attempt_id, 11.0, "success", parameter_key="pk", last_values={"Device.A": "new"}
    )
    assert finished.result == "success"
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert dict(device.last_values) == {"Device.A": "new", "Device.B": "kept"}  # merged
    assert (device.state, device.parameter_key) == (ProvisioningState.PROVISIONED, "pk")


async def test_values_read_are_stored_even_when_the_attempt_was_closed_meanwhile(
    repo: SqlDeviceRepository,
) -> None:
    """As a separate save before the finish stored them: the expiry of an attempt
    (a sweep, a new session) does not lose what the device reported."""
    await repo.import_devices([entry("SN1")], now=1.0)
    attempt_id = await repo.start_attempt(ident("SN1"), 10.0, None)
    await repo.finish_attempt(attempt_id, 11.0, "expired")
    with pytest.raises(AttemptNotFound):
        await repo.finish_attempt(
            attempt_id, 12.0, "verification_failed", last_values={"Device.A": "1"}
        )
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert dict(device.last_values) == {"Device.A": "1"}
    attempt = await repo.get_attempt(attempt_id)
    assert attempt is not None
    assert attempt.result == "expired"  # not overwritten
