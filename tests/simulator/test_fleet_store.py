"""`store_fleet`: a simulated fleet's profiles and inventory, loaded into a store."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from traceacs.profiles.document import profile_from_document
from traceacs.provisioning.device import InventoryEntry
from traceacs.provisioning.repository import ImportResult
from traceacs.simulator.faults import NO_FAULTS, Failure, FaultPlan
from traceacs.simulator.fleet import build_fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.storage import open_repository


class RecordingStore:
    """A `FleetStore` that keeps what it was given."""

    def __init__(self) -> None:
        self.profiles: dict[str, tuple[Mapping[str, Any], str]] = {}
        self.imported: list[tuple[list[InventoryEntry], float]] = []

    async def put_profile_document(
        self, name: str, document: Mapping[str, Any], version: str
    ) -> None:
        self.profiles[name] = (document, version)

    async def import_devices(self, entries: Iterable[InventoryEntry], now: float) -> ImportResult:
        batch = list(entries)
        self.imported.append((batch, now))
        return ImportResult(created=len(batch), updated=0)


async def test_profiles_then_the_inventory_without_the_unknown_cpes() -> None:
    plans = [NO_FAULTS, FaultPlan(failure=Failure.UNKNOWN), NO_FAULTS]
    fleet = build_fleet(len(plans), data_model="mixed", plans=plans, seed=4)
    store = RecordingStore()

    result = await store_fleet(store, fleet, 123.0)

    assert {name: profile_from_document(doc) for name, (doc, _) in store.profiles.items()} == {
        p.name: p for p in fleet.profiles
    }
    assert {version for _, version in store.profiles.values()} == {"1"}
    [(entries, now)] = store.imported
    assert now == 123.0
    assert result.total == 2
    assert [e.serial_number for e in entries] == [
        fleet.cpes[0].identity.serial_number,
        fleet.cpes[2].identity.serial_number,
    ]
    assert [e.mac for e in entries] == [r.mac for r in fleet.inventory]
    assert all(e.connection_request_username is None for e in entries)
    assert all(e.connection_request_password is None for e in entries)


async def test_other_profiles_and_per_device_credentials(tmp_path: Path) -> None:
    fleet = build_fleet(2, data_model="tr181", plans=[NO_FAULTS] * 2, seed=4)
    unversioned = tuple(dataclasses.replace(p, version="") for p in fleet.profiles)
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    try:
        result = await store_fleet(
            repo,
            dataclasses.replace(fleet, profiles=unversioned),
            10.0,
            connection_request_password="cr-pw",
        )
        assert (result.created, result.updated) == (2, 0)
        for profile in fleet.profiles:
            stored = await repo.get_profile_document(profile.name)
            assert stored is not None
            assert stored[1] == "1"  # unversioned profiles are stored as version 1
        for record in fleet.inventory:
            device = await repo.get_device(record.oui, record.serial_number)
            assert device is not None
            assert device.customer_id == record.customer_id
            assert device.service_plan == record.service_plan
            assert device.connection_request_username == record.serial_number
            assert device.connection_request_password == "cr-pw"
    finally:
        await repo.close()
