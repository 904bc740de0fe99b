"""Loading a simulated fleet into an ACS store: its service profiles, then its inventory.

Every test, benchmark and harness that boots a fleet against an ACS first has to teach
the ACS about that fleet; this is that one step. It is typed against the two repository
methods it calls (`FleetStore`), so the simulator depends on no storage or server code
and any repository (SQLite, PostgreSQL, a test double) can be loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from traceacs.profiles.document import profile_to_document
from traceacs.provisioning.device import InventoryEntry
from traceacs.provisioning.repository import ImportResult
from traceacs.simulator.fleet import Fleet


class FleetStore(Protocol):
    """The part of a device repository that loading a fleet needs."""

    async def put_profile_document(
        self, name: str, document: Mapping[str, Any], version: str
    ) -> None: ...

    async def import_devices(
        self, entries: Iterable[InventoryEntry], now: float
    ) -> ImportResult: ...


async def store_fleet(
    store: FleetStore,
    fleet: Fleet,
    now: float,
    *,
    connection_request_password: str | None = None,
) -> ImportResult:
    """Store ``fleet.profiles`` (version ``"1"`` when unversioned) and import its inventory.

    To store other profiles (e.g. with firmware targets or secrets), pass
    ``dataclasses.replace(fleet, profiles=...)``. ``connection_request_password``: see
    `Fleet.inventory_entries`.
    """
    for profile in fleet.profiles:
        await store.put_profile_document(
            profile.name, profile_to_document(profile), profile.version or "1"
        )
    entries = fleet.inventory_entries(connection_request_password=connection_request_password)
    return await store.import_devices(entries, now)
