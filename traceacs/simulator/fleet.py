"""Fleet generation: N simulated CPEs, their inventory rows and service profiles.

Everything is derived from ``(count, data_model, fail shares, seed)``, so
``traceacs simulate --inventory-out`` today and ``traceacs simulate`` tomorrow with the
same arguments describe the same devices. CPEs with the ``unknown`` failure are left out
of the inventory; ``no_profile`` CPEs get a service plan that has no profile.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from traceacs.profiles.document import profile_to_document
from traceacs.provisioning.device import InventoryEntry
from traceacs.provisioning.profile import (
    IptvConfig,
    ServiceProfile,
    VlanConfig,
    VoipLine,
    WifiConfig,
)
from traceacs.simulator.cpe import CpeIdentity, FleetContext, SimulatedCpe
from traceacs.simulator.faults import Failure, FaultPlan, assign_faults
from traceacs.simulator.param_tree import DataModel

FleetModel = Literal["tr181", "tr098", "mixed"]
INVENTORY_HEADER = (
    "serial_number",
    "oui",
    "product_class",
    "customer_id",
    "service_plan",
    "location_id",
    "mac",
)
PLAN_WITHOUT_PROFILE = "legacy-unprofiled"
OUI = "02A0C5"
_PRODUCT_CLASS: dict[DataModel, str] = {"tr181": "TraceGW-181", "tr098": "TraceGW-098"}
_FIRMWARE = ("3.2.1", "3.2.4", "3.3.0")
_CWMP_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4")


def service_profiles() -> tuple[ServiceProfile, ...]:
    """The plans a simulated fleet subscribes to (one profile per plan).

    ``triple-play`` uses WPA3, which TR-098 cannot express without a vendor override,
    so only TR-181 CPEs subscribe to it (see `plans_for`).
    """
    return (
        ServiceProfile(
            name="internet-basic",
            version="1",
            services=("internet",),
            wifi=WifiConfig("TraceNet", "sim-wifi-basic-01", "WPA2-Personal", ("2.4GHz", "5GHz")),
            vlans=VlanConfig(internet=100),
        ),
        ServiceProfile(
            name="internet-voip",
            version="1",
            services=("internet", "voip"),
            wifi=WifiConfig("TraceNet-V", "sim-wifi-voip-02", "WPA2-Personal"),
            vlans=VlanConfig(internet=100, voip=200),
            voip_lines=(
                VoipLine("sip.example.net", "proxy.example.net", "line1", "sim-sip-pw-1", "1001"),
                VoipLine("sip.example.net", "proxy.example.net", "line2", "sim-sip-pw-2", "1002"),
            ),
        ),
        ServiceProfile(
            name="triple-play",
            version="1",
            services=("internet", "voip", "iptv"),
            wifi=WifiConfig(
                "TraceNet-3P", "sim-wifi-triple-3", "WPA3-Personal", ("2.4GHz", "5GHz", "6GHz")
            ),
            vlans=VlanConfig(internet=100, voip=200, iptv=300),
            voip_lines=(
                VoipLine("sip.example.net", "proxy.example.net", "line1", "sim-sip-pw-3", "2001"),
            ),
            iptv=IptvConfig(multicast_vlan=300),
        ),
    )


def plans_for(model: DataModel, profiles: Sequence[ServiceProfile]) -> list[ServiceProfile]:
    """The profiles a CPE of ``model`` can be provisioned with by the standard mapping."""
    if model == "tr181":
        return list(profiles)
    return [p for p in profiles if p.wifi is None or p.wifi.security == "WPA2-Personal"]


@dataclass(frozen=True, slots=True)
class InventoryRecord:
    serial_number: str
    oui: str
    product_class: str
    customer_id: str
    service_plan: str
    location_id: str
    mac: str

    def row(self) -> tuple[str, ...]:
        return tuple(getattr(self, name) for name in INVENTORY_HEADER)


@dataclass(frozen=True, slots=True)
class Fleet:
    cpes: tuple[SimulatedCpe, ...]
    inventory: tuple[InventoryRecord, ...]
    """Rows for the inventory: every CPE except the ``unknown`` ones."""
    profiles: tuple[ServiceProfile, ...]

    def inventory_entries(
        self, *, connection_request_password: str | None = None
    ) -> list[InventoryEntry]:
        """The inventory as the ACS imports it.

        With ``connection_request_password``, each device's connection-request username
        is its serial number (what a per-device credential looks like in an inventory);
        without, the entries carry none and the ACS keeps whatever it has.
        """
        return [
            InventoryEntry(
                serial_number=r.serial_number,
                oui=r.oui,
                product_class=r.product_class,
                customer_id=r.customer_id,
                service_plan=r.service_plan,
                location_id=r.location_id,
                mac=r.mac,
                connection_request_username=(
                    r.serial_number if connection_request_password else None
                ),
                connection_request_password=connection_request_password,
            )
            for r in self.inventory
        ]


def build_fleet(
    count: int,
    *,
    data_model: FleetModel = "tr181",
    shares: Mapping[str, float] | None = None,
    seed: int = 0,
    context: FleetContext | None = None,
    plans: Sequence[FaultPlan] | None = None,
) -> Fleet:
    """``count`` CPEs with identities, fault plans and inventory rows from ``seed``."""
    rng = random.Random(seed)  # noqa: S311 - reproducible fleets, not secrets
    faults = list(plans) if plans is not None else assign_faults(count, shares or {}, seed)
    context = context or FleetContext()
    profiles = service_profiles()
    cpes: list[SimulatedCpe] = []
    inventory: list[InventoryRecord] = []
    for i in range(count):
        model: DataModel
        if data_model == "mixed":
            model = "tr181" if rng.random() < 0.5 else "tr098"
        else:
            model = data_model
        serial = f"SIM{seed % 10000:04d}{i:07d}"
        octets = ((seed >> 8) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255)
        mac = "02:5A:" + ":".join(f"{o:02X}" for o in octets)
        ident = CpeIdentity(
            serial_number=serial,
            oui=OUI,
            product_class=_PRODUCT_CLASS[model],
            mac=mac,
            software_version=rng.choice(_FIRMWARE),
            hardware_version=f"HW{rng.randint(1, 3)}",
            data_model=model,
            cwmp_version=rng.choice(_CWMP_VERSIONS),
            index=i,
        )
        plan = faults[i]
        cpes.append(SimulatedCpe(ident, faults=plan, context=context))
        if plan.failure is Failure.UNKNOWN:
            continue
        choices = plans_for(model, profiles)
        service_plan = (
            PLAN_WITHOUT_PROFILE
            if plan.failure is Failure.NO_PROFILE
            else choices[rng.randrange(len(choices))].name
        )
        inventory.append(
            InventoryRecord(
                serial_number=serial,
                oui=OUI,
                product_class=ident.product_class,
                customer_id=f"CUST{seed % 10000:04d}{i:07d}",
                service_plan=service_plan,
                location_id=f"LOC{i % 97:03d}",
                mac=mac,
            )
        )
    return Fleet(tuple(cpes), tuple(inventory), profiles)


def write_inventory(fleet: Fleet, csv_path: Path) -> Path:
    """Write the inventory CSV and ``profiles.yaml`` beside it; the profiles path."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(INVENTORY_HEADER)
        writer.writerows(record.row() for record in fleet.inventory)
    profiles_path = csv_path.with_name("profiles.yaml")
    document = {"profiles": [profile_to_document(p) for p in fleet.profiles]}
    profiles_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return profiles_path
