"""Serial-prefix, MAC and firmware filters of `DeviceFilter` (used by the REST API)."""

from __future__ import annotations

from traceacs.provisioning.device import InformFacts, InventoryEntry
from traceacs.provisioning.repository import DeviceFilter
from traceacs.storage import SqlDeviceRepository

OUI = "00D09E"


def entry(serial: str, mac: str | None = None) -> InventoryEntry:
    return InventoryEntry(
        serial_number=serial,
        oui=OUI,
        product_class="HG8245",
        customer_id=f"cust-{serial}",
        service_plan="fiber-500",
        location_id="loc-1",
        mac=mac,
    )


async def _serials(repo: SqlDeviceRepository, filters: DeviceFilter) -> list[str]:
    devices = await repo.list_devices(filters)
    assert await repo.count_devices(filters) == len(devices)
    return [d.serial_number for d in devices]


async def test_serial_prefix_matches_prefix_and_exact_only(repo: SqlDeviceRepository) -> None:
    serials = ["AB100", "AB1001", "AB2", "ab100", "AC1", "A%B", "A_B"]
    await repo.import_devices([entry(s) for s in serials], now=1.0)
    assert await _serials(repo, DeviceFilter(serial_prefix="AB1")) == ["AB100", "AB1001"]
    assert await _serials(repo, DeviceFilter(serial_prefix="AB100")) == ["AB100", "AB1001"]
    assert await _serials(repo, DeviceFilter(serial_prefix="AB1001")) == ["AB1001"]
    # LIKE wildcards in the prefix are plain characters
    assert await _serials(repo, DeviceFilter(serial_prefix="A%")) == ["A%B"]
    assert await _serials(repo, DeviceFilter(serial_prefix="A_")) == ["A_B"]
    assert await _serials(repo, DeviceFilter(serial_prefix="ZZ")) == []


async def test_mac_filter_ignores_case(repo: SqlDeviceRepository) -> None:
    await repo.import_devices(
        [entry("SN1", mac="aa:bb:cc:00:00:01"), entry("SN2", mac="AA:BB:CC:00:00:02")], now=1.0
    )
    assert await _serials(repo, DeviceFilter(mac="AA:BB:CC:00:00:01")) == ["SN1"]
    assert await _serials(repo, DeviceFilter(mac="aa:bb:cc:00:00:02")) == ["SN2"]
    assert await _serials(repo, DeviceFilter(mac="AA:BB:CC:00:00:03")) == []


async def test_firmware_filter(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1"), entry("SN2"), entry("SN3")], now=1.0)
    await repo.record_inform(OUI, "SN1", 2.0, InformFacts(firmware_version="3.2.1"))
    await repo.record_inform(OUI, "SN2", 2.0, InformFacts(firmware_version="3.3.0"))
    assert await _serials(repo, DeviceFilter(firmware_version="3.3.0")) == ["SN2"]
    both = DeviceFilter(firmware_version="3.2.1", serial_prefix="SN")
    assert await _serials(repo, both) == ["SN1"]
