"""Write-behind of Inform facts: batched, never lost at close, read back by this process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from traceacs.provisioning.device import InformFacts, InventoryEntry, ProvisioningState
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.storage.tasks import SqlTaskStore

HOUR = 3600.0  # the timer never fires within a test: flushes are the ones asserted


def entry(serial: str) -> InventoryEntry:
    return InventoryEntry(
        serial_number=serial,
        oui="00d09e",
        product_class="RG",
        customer_id=f"C-{serial}",
        service_plan="basic",
        location_id="L1",
    )


FACTS = InformFacts(
    manufacturer="Acme",
    model="RG-1",
    firmware_version="2.0",
    data_model_root="Device.",
    connection_request_url="http://10.0.0.1:7547/cr",
)


@pytest.fixture
async def stores(store_url: str) -> AsyncIterator[tuple[SqlDeviceRepository, SqlDeviceRepository]]:
    """(write-behind repository, plain repository on the same store)."""
    plain = await open_repository(store_url)
    behind = await open_repository(store_url, inform_write_behind=HOUR)
    await plain.import_devices([entry(f"SN{n}") for n in range(5)], 1.0)
    try:
        yield behind, plain
    finally:
        await behind.close()
        await plain.close()


async def last_inform(repo: SqlDeviceRepository, serial: str) -> float | None:
    device = await repo.get_device("00D09E", serial)
    assert device is not None
    return device.last_inform_at


async def test_answer_is_the_device_as_updated_and_the_write_waits(
    stores: tuple[SqlDeviceRepository, SqlDeviceRepository],
) -> None:
    behind, plain = stores
    device = await behind.record_inform("00d09e", "SN1", 50.0, FACTS)
    assert device is not None
    assert (device.last_inform_at, device.updated_at) == (50.0, 50.0)
    assert (device.firmware_version, device.connection_request_url) == (
        "2.0",
        "http://10.0.0.1:7547/cr",
    )
    assert device.state is ProvisioningState.NEW
    assert await last_inform(plain, "SN1") is None  # queued, not written yet
    assert await last_inform(behind, "SN1") == 50.0  # this process reads its own writes
    assert await last_inform(plain, "SN1") == 50.0  # ... by writing them first


async def test_informs_of_many_devices_are_one_transaction(
    stores: tuple[SqlDeviceRepository, SqlDeviceRepository],
) -> None:
    behind, plain = stores
    for n in range(5):
        assert await behind.record_inform("00D09E", f"SN{n}", 60.0 + n, FACTS) is not None
    writer = behind._informs
    assert writer is not None
    assert writer.pending == 5
    await writer.flush()
    assert writer.batches == 1
    assert [await last_inform(plain, f"SN{n}") for n in range(5)] == [60.0 + n for n in range(5)]


async def test_close_writes_what_is_queued(store_url: str) -> None:
    plain = await open_repository(store_url)
    await plain.import_devices([entry("SN1")], 1.0)
    behind = await open_repository(store_url, inform_write_behind=HOUR)
    await behind.record_inform("00D09E", "SN1", 70.0, FACTS)
    await behind.close()
    try:
        assert await last_inform(plain, "SN1") == 70.0
    finally:
        await plain.close()


async def test_a_boot_then_a_periodic_inform_keep_the_boot_time(
    stores: tuple[SqlDeviceRepository, SqlDeviceRepository],
) -> None:
    behind, plain = stores
    boot = InformFacts(firmware_version="2.0", is_boot=True)
    await behind.record_inform("00D09E", "SN2", 80.0, boot)
    device = await behind.record_inform("00D09E", "SN2", 81.0, InformFacts())
    assert device is not None
    assert (device.last_boot_at, device.last_inform_at) == (80.0, 81.0)
    assert device.firmware_version == "2.0"
    await behind.close()
    stored = await plain.get_device("00D09E", "SN2")
    assert stored is not None
    assert (stored.last_boot_at, stored.last_inform_at) == (80.0, 81.0)


async def test_an_unknown_device_is_none_and_queues_nothing(
    stores: tuple[SqlDeviceRepository, SqlDeviceRepository],
) -> None:
    behind, _ = stores
    assert await behind.record_inform("00D09E", "NOPE", 90.0, FACTS) is None
    assert behind._informs is not None
    assert behind._informs.pending == 0


async def test_the_device_read_at_an_inform_says_whether_tasks_are_queued(
    stores: tuple[SqlDeviceRepository, SqlDeviceRepository],
) -> None:
    behind, plain = stores

    async def queued(serial: str, now: float) -> bool | None:
        device = await behind.record_inform("00D09E", serial, now, FACTS)
        assert device is not None
        return device.queued_tasks

    assert await queued("SN3", 90.0) is False
    tasks = SqlTaskStore(plain.db)
    task = await tasks.add_task("00D09E", "SN3", "reboot", {}, 90.5)
    assert await queued("SN3", 91.0) is True
    assert await queued("SN4", 91.0) is False  # another device's task
    await tasks.save_task(task.started(92.0, None).succeeded({}, 93.0))
    assert await queued("SN3", 94.0) is False


async def test_a_periodic_inform_reads_back_what_the_full_read_says(
    stores: tuple[SqlDeviceRepository, SqlDeviceRepository],
) -> None:
    behind, plain = stores
    tasks = SqlTaskStore(plain.db)
    await tasks.add_task("00D09E", "SN4", "reboot", {}, 95.0)
    for serial in ("SN3", "SN4"):
        informed = await behind.record_periodic_inform("00d09e", serial, 100.0, FACTS)
        assert informed is not None
        full = await behind.record_inform("00D09E", serial, 100.0, FACTS)
        assert full is not None
        assert (
            informed.state,
            informed.parameter_key,
            informed.customer_id,
            informed.service_plan,
            informed.location_id,
            informed.updated_at,
            informed.queued_tasks,
        ) == (
            full.state,
            full.parameter_key,
            full.customer_id,
            full.service_plan,
            full.location_id,
            full.updated_at,
            full.queued_tasks,
        )
        assert informed.queued_tasks is (serial == "SN4")


async def test_a_periodic_inform_is_written_behind_like_any_inform(
    stores: tuple[SqlDeviceRepository, SqlDeviceRepository],
) -> None:
    behind, plain = stores
    assert await behind.record_periodic_inform("00D09E", "SN1", 110.0, FACTS) is not None
    assert await last_inform(plain, "SN1") is None  # queued, not written yet
    await behind.close()
    stored = await plain.get_device("00D09E", "SN1")
    assert stored is not None
    assert (stored.last_inform_at, stored.updated_at, stored.firmware_version) == (
        110.0,
        110.0,
        "2.0",
    )


async def test_a_periodic_inform_of_an_unknown_device_or_without_write_behind_reads_nothing(
    stores: tuple[SqlDeviceRepository, SqlDeviceRepository],
) -> None:
    behind, plain = stores
    assert await behind.record_periodic_inform("00D09E", "NOPE", 120.0, FACTS) is None
    assert await plain.record_periodic_inform("00D09E", "SN1", 120.0, FACTS) is None
    assert await last_inform(plain, "SN1") is None  # the caller records it in full instead
