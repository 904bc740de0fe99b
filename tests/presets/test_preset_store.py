"""Presets, applications and tags in SQL, on SQLite and PostgreSQL (migration 7)."""

from __future__ import annotations

from traceacs.presets.model import parse_preset
from traceacs.provisioning.device import InventoryEntry
from traceacs.provisioning.repository import DeviceFilter
from traceacs.storage import SqlDeviceRepository
from traceacs.storage.presets import SqlPresetStore
from traceacs.storage.tags import SqlTagStore

OUI = "00D09E"
INTERVAL = "Device.ManagementServer.PeriodicInformInterval"


async def _devices(repo: SqlDeviceRepository, *serials: str) -> None:
    await repo.import_devices(
        [InventoryEntry(s, OUI, "RG", "cust", "plan", "loc") for s in serials], now=1.0
    )


async def test_presets_revise_only_when_changed(repo: SqlDeviceRepository) -> None:
    store = SqlPresetStore(repo.db)
    body = {"weight": 5, "condition": {"model": "RG"}, "parameterValues": [[INTERVAL, 600]]}
    stored, created = await store.put_preset(parse_preset("interval", body), 10.0)
    assert created
    assert (stored.revision, stored.created_at, stored.updated_at) == (1, 10.0, 10.0)
    assert stored.parameter_values == ((INTERVAL, 600, "unsignedInt"),)
    same, created = await store.put_preset(parse_preset("interval", body), 20.0)
    assert (same.revision, same.updated_at, created) == (1, 10.0, False)  # no change, no push
    changed, _ = await store.put_preset(parse_preset("interval", {**body, "weight": 6}), 30.0)
    assert (changed.revision, changed.weight, changed.updated_at) == (2, 6, 30.0)
    await store.put_preset(parse_preset("boot", {"weight": 9, "tasks": [{"name": "reboot"}]}), 1)
    assert [p.name for p in await store.list_presets()] == ["boot", "interval"]
    assert await store.get_preset("interval") == changed

    await _devices(repo, "S1")
    assert await store.applied_revisions(OUI, "S1") == {}
    await store.mark_applied(OUI, "S1", "interval", 1, 40.0)
    await store.mark_applied(OUI, "S1", "interval", 2, 41.0)
    await store.mark_applied(OUI, "GONE", "interval", 2, 41.0)  # no such device: nothing
    assert await store.applied_revisions(OUI, "S1") == {"interval": 2}
    assert await store.delete_preset("interval")
    assert not await store.delete_preset("interval")
    assert await store.applied_revisions(OUI, "S1") == {}  # forgotten with the preset


async def test_tags_filter_the_device_search(repo: SqlDeviceRepository) -> None:
    await _devices(repo, "S1", "S2", "S3")
    tags = SqlTagStore(repo.db)
    assert await tags.add_tag(OUI, "S1", "vip")
    assert not await tags.add_tag(OUI, "S1", "vip")  # idempotent
    assert await tags.add_tag(OUI, "S1", "east")
    assert await tags.add_tag(OUI, "S3", "vip")
    assert await tags.tags_of(OUI, "S1") == ["east", "vip"]
    found = await repo.list_devices(DeviceFilter(tag="vip"))
    assert [d.serial_number for d in found] == ["S1", "S3"]
    assert await repo.count_devices(DeviceFilter(tag="vip", serial_prefix="S3")) == 1
    many = await tags.tags_of_many([(OUI, "S1"), (OUI, "S2"), (OUI, "S3")])
    assert many == {(OUI, "S1"): ["east", "vip"], (OUI, "S2"): [], (OUI, "S3"): ["vip"]}
    assert await tags.remove_tag(OUI, "S3", "vip")
    assert not await tags.remove_tag(OUI, "S3", "vip")
    assert await repo.count_devices(DeviceFilter(tag="vip")) == 1
    await repo.delete_device(OUI, "S1")
    assert await repo.count_devices(DeviceFilter(tag="vip")) == 0  # tags go with the device
