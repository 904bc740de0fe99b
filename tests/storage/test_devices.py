"""The inventory side of the repository, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from traceacs.provisioning.device import Device, InformFacts, InventoryEntry, ProvisioningState
from traceacs.provisioning.repository import (
    AmbiguousSerial,
    DeviceFilter,
    DeviceNotFound,
    ImportRejected,
    RepositoryError,
)
from traceacs.storage import SqlDeviceRepository
from traceacs.storage import repository as storage_repository

OUI = "00D09E"


def entry(serial: str, **overrides: str | None) -> InventoryEntry:
    fields: dict[str, str | None] = {
        "serial_number": serial,
        "oui": OUI,
        "product_class": "HG8245",
        "customer_id": f"cust-{serial}",
        "service_plan": "fiber-500",
        "location_id": "loc-1",
    }
    fields.update(overrides)
    return InventoryEntry(**fields)  # type: ignore[arg-type]


async def test_import_then_get_by_identity_and_by_serial(repo: SqlDeviceRepository) -> None:
    result = await repo.import_devices(
        [entry("SN1", mac="AA:BB:CC:00:00:01", connection_request_username="cr")], now=100.0
    )
    assert (result.created, result.updated) == (1, 0)

    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.serial_number == "SN1"
    assert device.mac == "AA:BB:CC:00:00:01"
    assert device.product_class == "HG8245"
    assert device.customer_id == "cust-SN1"
    assert device.state is ProvisioningState.NEW
    assert device.created_at == device.updated_at == 100.0
    assert device.connection_request_username == "cr"
    assert await repo.get_device_by_serial("SN1") == device
    assert await repo.get_device(OUI, "nope") is None
    assert await repo.get_device_by_serial("nope") is None


async def test_oui_is_case_insensitive(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1", oui="00d09e")], now=1.0)
    device = await repo.get_device("00d09e", "SN1")
    assert device is not None
    assert device.oui == "00D09E"
    assert await repo.get_device("00D09E", "SN1") == device


async def test_serial_shared_by_two_ouis_is_ambiguous(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1"), entry("SN1", oui="A0B1C2")], now=1.0)
    with pytest.raises(AmbiguousSerial):
        await repo.get_device_by_serial("SN1")
    other = await repo.get_device("A0B1C2", "SN1")
    assert other is not None
    assert other.oui == "A0B1C2"


async def test_reimport_updates_inventory_facts_and_keeps_the_rest(
    repo: SqlDeviceRepository,
) -> None:
    await repo.import_devices(
        [entry("SN1", mac="AA:AA:AA:AA:AA:AA", connection_request_password="cr-secret")],
        now=1.0,
    )
    await repo.record_inform(OUI, "SN1", 2.0, InformFacts(model="HG8245H", is_boot=True))
    await repo.set_state(OUI, "SN1", ProvisioningState.PROVISIONED, 3.0)

    result = await repo.import_devices(
        [entry("SN1", service_plan="fiber-1000"), entry("SN2")], now=4.0
    )
    assert (result.created, result.updated) == (1, 1)

    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.service_plan == "fiber-1000"
    assert device.mac == "AA:AA:AA:AA:AA:AA"  # absent in the new row: kept
    assert device.connection_request_password == "cr-secret"  # kept
    assert device.model == "HG8245H"  # learnt from the device: kept
    assert device.state is ProvisioningState.PROVISIONED  # not reset by an import
    assert device.created_at == 1.0
    assert device.updated_at == 4.0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"serial_number": " "}, "serial_number is empty"),
        ({"customer_id": ""}, "customer_id is empty"),
        ({"oui": "XYZ"}, "oui must be 6 hexadecimal digits"),
    ],
)
async def test_a_bad_row_imports_nothing(
    repo: SqlDeviceRepository, bad: dict[str, str], message: str
) -> None:
    await repo.import_devices([entry("KEEP", service_plan="old")], now=1.0)
    rows = [entry("SN1"), entry("KEEP", service_plan="new"), entry("SN3", **bad)]
    with pytest.raises(ImportRejected, match=message) as caught:
        await repo.import_devices(rows, now=2.0)
    assert caught.value.row == 2
    assert await repo.count_devices() == 1
    kept = await repo.get_device(OUI, "KEEP")
    assert kept is not None
    assert kept.service_plan == "old"


async def test_a_repeated_device_in_one_import_is_rejected(repo: SqlDeviceRepository) -> None:
    with pytest.raises(ImportRejected, match="repeats") as caught:
        await repo.import_devices([entry("SN1"), entry("SN2"), entry("SN1")], now=1.0)
    assert caught.value.row == 2
    assert await repo.count_devices() == 0


async def test_a_database_refusal_mid_import_rolls_everything_back(
    repo: SqlDeviceRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row refused by the database itself, chunks later: the earlier chunks go too."""
    monkeypatch.setattr(storage_repository, "IMPORT_CHUNK", 5)
    await repo.import_devices([entry("KEEP")], now=1.0)
    bad = entry("SN-BAD")
    object.__setattr__(bad, "customer_id", None)  # slips past validation, NOT NULL in SQL
    rows = [*(entry(f"SN{i:03}") for i in range(12)), bad]
    with pytest.raises(RepositoryError) as caught:
        await repo.import_devices(rows, now=2.0)
    assert not isinstance(caught.value, ImportRejected)
    assert serials(await repo.list_devices()) == ["KEEP"]


async def test_record_inform_updates_facts_in_one_call(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1")], now=1.0)
    facts = InformFacts(
        manufacturer="Huawei",
        model="HG8245H",
        firmware_version="V3R017",
        data_model_root="InternetGatewayDevice.",
        connection_request_url="http://10.0.0.2:7547/cr",
        is_boot=True,
    )
    device = await repo.record_inform(OUI, "SN1", 50.0, facts)
    assert device is not None
    assert (device.last_inform_at, device.last_boot_at) == (50.0, 50.0)
    assert device.manufacturer == "Huawei"
    assert device.model == "HG8245H"
    assert device.firmware_version == "V3R017"
    assert device.data_model_root == "InternetGatewayDevice."
    assert device.connection_request_url == "http://10.0.0.2:7547/cr"

    # A periodic inform without those facts moves last-seen only and keeps the rest.
    again = await repo.record_inform(OUI, "SN1", 60.0, InformFacts(firmware_version="V3R018"))
    assert again is not None
    assert (again.last_inform_at, again.last_boot_at) == (60.0, 50.0)
    assert again.firmware_version == "V3R018"
    assert again.model == "HG8245H"
    assert again.connection_request_url == "http://10.0.0.2:7547/cr"
    assert await repo.get_device(OUI, "SN1") == again


async def test_record_inform_of_unknown_device_returns_none(repo: SqlDeviceRepository) -> None:
    assert await repo.record_inform(OUI, "GHOST", 1.0, InformFacts(is_boot=True)) is None
    assert await repo.count_devices() == 0


async def test_set_state_sets_and_clears_failure(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1")], now=1.0)
    failed = await repo.set_state(
        OUI,
        "SN1",
        ProvisioningState.FAILED,
        2.0,
        failed_step="verify",
        failure_reason="3 mismatches",
    )
    assert failed is not None
    assert (failed.state, failed.failed_step, failed.failure_reason) == (
        ProvisioningState.FAILED,
        "verify",
        "3 mismatches",
    )
    ok = await repo.set_state(OUI, "SN1", ProvisioningState.PROVISIONED, 3.0)
    assert ok is not None
    assert (ok.state, ok.failed_step, ok.failure_reason) == (
        ProvisioningState.PROVISIONED,
        None,
        None,
    )
    assert ok.updated_at == 3.0
    assert await repo.set_state(OUI, "GHOST", ProvisioningState.FAILED, 3.0) is None


async def test_save_last_values_merges_or_replaces(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1")], now=1.0)
    await repo.save_last_values(OUI, "SN1", {"Device.A": "1", "Device.B": "2"}, 2.0)
    await repo.save_last_values(OUI, "SN1", {"Device.B": "3", "Device.C": "ü"}, 3.0)
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert dict(device.last_values) == {"Device.A": "1", "Device.B": "3", "Device.C": "ü"}

    await repo.save_last_values(OUI, "SN1", {"Device.Z": ""}, 4.0, replace=True)
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert dict(device.last_values) == {"Device.Z": ""}
    assert device.updated_at == 4.0
    with pytest.raises(DeviceNotFound):
        await repo.save_last_values(OUI, "GHOST", {"a": "b"}, 5.0)


async def test_secrets_stay_out_of_device_repr(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1", connection_request_password="cr-pass-123")], now=1.0)
    await repo.save_last_values(OUI, "SN1", {"Device.WiFi.KeyPassphrase": "wifi-key-456"}, 2.0)
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.connection_request_password == "cr-pass-123"
    assert "cr-pass-123" not in repr(device)
    assert "wifi-key-456" not in repr(device)


async def test_delete_device_removes_it_and_its_attempts(repo: SqlDeviceRepository) -> None:
    await repo.import_devices([entry("SN1"), entry("SN2")], now=1.0)
    device = await repo.get_device(OUI, "SN1")
    assert device is not None
    attempt_id = await repo.start_attempt(device, 2.0, None)
    assert await repo.delete_device(OUI, "SN1") is True
    assert await repo.delete_device(OUI, "SN1") is False
    assert await repo.get_device(OUI, "SN1") is None
    assert await repo.get_attempt(attempt_id) is None
    assert await repo.count_devices() == 1


async def _fleet(repo: SqlDeviceRepository) -> None:
    await repo.import_devices(
        [
            entry("C3", customer_id="alice", service_plan="gold", location_id="paris"),
            entry("A1", customer_id="bob", service_plan="gold", location_id="lyon"),
            entry("B2", customer_id="alice", service_plan="basic", location_id="paris"),
            entry("D4", customer_id="carol", service_plan="gold", location_id="paris"),
            entry("E5", customer_id="dave", service_plan="basic", location_id="nice"),
        ],
        now=1.0,
    )
    await repo.record_inform(OUI, "C3", 30.0, InformFacts(model="M-300"))
    await repo.record_inform(OUI, "A1", 10.0, InformFacts(model="M-100"))
    await repo.record_inform(OUI, "D4", 20.0, InformFacts(model="M-300"))
    await repo.set_state(OUI, "D4", ProvisioningState.FAILED, 21.0, failed_step="verify")
    await repo.set_state(OUI, "C3", ProvisioningState.PROVISIONED, 31.0)


def serials(devices: list[Device]) -> list[str]:
    return [d.serial_number for d in devices]


async def test_list_devices_sorts_and_pages_in_the_database(repo: SqlDeviceRepository) -> None:
    await _fleet(repo)
    assert serials(await repo.list_devices()) == ["A1", "B2", "C3", "D4", "E5"]
    assert serials(await repo.list_devices(descending=True)) == ["E5", "D4", "C3", "B2", "A1"]
    assert serials(await repo.list_devices(limit=2, offset=1)) == ["B2", "C3"]
    assert serials(await repo.list_devices(limit=2, offset=4)) == ["E5"]
    assert await repo.list_devices(offset=9) == []
    # Devices never seen sort last whichever the direction, on both engines.
    assert serials(await repo.list_devices(sort_by="last_inform_at")) == [
        "A1",
        "D4",
        "C3",
        "B2",
        "E5",
    ]
    assert serials(await repo.list_devices(sort_by="last_inform_at", descending=True)) == [
        "C3",
        "D4",
        "A1",
        "E5",
        "B2",
    ]
    # Ties on the sort key are broken by insertion order, so pages never overlap.
    by_model = serials(await repo.list_devices(sort_by="model"))
    assert by_model == ["A1", "C3", "D4", "B2", "E5"]
    pages = [
        serials(await repo.list_devices(sort_by="customer_id", limit=2, offset=o))
        for o in (0, 2, 4)
    ]
    assert [s for page in pages for s in page] == ["C3", "B2", "A1", "D4", "E5"]
    with pytest.raises(ValueError, match="negative"):
        await repo.list_devices(limit=-1)


async def test_list_and_count_devices_filter(repo: SqlDeviceRepository) -> None:
    await _fleet(repo)
    cases = [
        (DeviceFilter(customer_id="alice"), ["B2", "C3"]),
        (DeviceFilter(service_plan="gold", location_id="paris"), ["C3", "D4"]),
        (DeviceFilter(model="M-300"), ["C3", "D4"]),
        (DeviceFilter(state=ProvisioningState.NEW), ["A1", "B2", "E5"]),
        (DeviceFilter(state=ProvisioningState.FAILED, failed_step="verify"), ["D4"]),
        (DeviceFilter(oui="00d09e", product_class="HG8245"), ["A1", "B2", "C3", "D4", "E5"]),
        (DeviceFilter(oui="FFFFFF"), []),
    ]
    for filters, expected in cases:
        assert serials(await repo.list_devices(filters)) == expected, filters
        assert await repo.count_devices(filters) == len(expected), filters
