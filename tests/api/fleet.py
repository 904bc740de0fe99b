"""Planting devices, values and attempts in the store for the API tests."""

from __future__ import annotations

from tests.api.conftest import CR_SECRET, OUI, VALUE_SECRET
from traceacs.provisioning.device import DeviceIdentity, InformFacts, InventoryEntry
from traceacs.storage import SqlDeviceRepository


def entry(
    serial: str,
    *,
    plan: str = "fiber-500",
    oui: str = OUI,
    mac: str | None = None,
    customer_id: str | None = None,
    connection_request_password: str | None = None,
) -> InventoryEntry:
    return InventoryEntry(
        serial_number=serial,
        oui=oui,
        product_class="HG8245",
        customer_id=customer_id or f"cust-{serial}",
        service_plan=plan,
        location_id="loc-1",
        mac=mac,
        connection_request_password=connection_request_password,
    )


async def plant_device(
    repo: SqlDeviceRepository,
    serial: str,
    *,
    now: float,
    model: str = "HG8245H",
    firmware: str = "3.2.1",
    plan: str = "fiber-500",
    mac: str | None = None,
) -> None:
    """A device that informed, with a CR password and a secret among its last values."""
    await repo.import_devices(
        [entry(serial, plan=plan, connection_request_password=CR_SECRET, mac=mac)], now=now
    )
    await repo.record_inform(
        OUI, serial, now, InformFacts(model=model, firmware_version=firmware, is_boot=True)
    )
    await repo.save_last_values(
        OUI,
        serial,
        {
            "Device.WiFi.SSID.1.SSID": "home",
            "Device.WiFi.AccessPoint.1.Security.KeyPassphrase": VALUE_SECRET,
        },
        now,
    )


async def _identity(repo: SqlDeviceRepository, serial: str) -> DeviceIdentity:
    device = await repo.get_device(OUI, serial)
    assert device is not None
    return device.identity


async def plant_attempt(
    repo: SqlDeviceRepository,
    serial: str,
    *,
    started: float,
    duration: float | None,
    result: str = "success",
    step: str | None = None,
) -> int:
    """An attempt; ``duration=None`` leaves it running."""
    attempt = await repo.start_attempt(
        await _identity(repo, serial), now=started, trace_id=f"{int(started):032x}"
    )
    if duration is not None:
        await repo.finish_attempt(
            attempt,
            now=started + duration,
            result=result,
            failing_step=step,
            fault_code=9007 if step else None,
            fault_string="Invalid parameter value" if step else None,
            details={"mismatched_parameters": ["Device.WiFi.SSID.1.SSID"]} if step else None,
        )
    return attempt
