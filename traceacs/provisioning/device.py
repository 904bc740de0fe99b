"""A CPE as the ACS knows it: identity, inventory facts, provisioning state, attempts.

These are plain frozen values; the storage package turns them into rows and back. A
device is identified by OUI + serial number (what the CPE announces in its Inform);
MAC and product class travel with the identity but do not take part in equality, so an
identity built from an Inform (no MAC) equals the one read from the inventory.

Secrets (the connection-request password, and the parameter values last read from the
device, which may include Wi-Fi keys) are kept out of ``repr`` so that a device printed
in a log or an exception leaks nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

DATA_MODEL_ROOTS: Final = ("Device.", "InternetGatewayDevice.")

# The results the workflow records; any new failure class is just another string.
RESULT_SUCCESS: Final = "success"
RESULT_EXPIRED: Final = "expired"


class ProvisioningState(enum.StrEnum):
    """Where a device stands; ``failed`` comes with the failing step and reason."""

    NEW = "new"
    PROVISIONING = "provisioning"
    PROVISIONED = "provisioned"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """OUI + serial number identify a CPE; MAC and product class are carried along."""

    oui: str
    serial_number: str
    mac: str | None = field(default=None, compare=False)
    product_class: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class InformFacts:
    """What an Inform tells the ACS about the device, recorded on every inform.

    ``None`` means "not reported in this Inform": the stored value is kept.
    """

    manufacturer: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    data_model_root: str | None = None
    connection_request_url: str | None = None
    is_boot: bool = False


@dataclass(frozen=True, slots=True)
class InformedDevice:
    """The few facts of a device a quiet periodic check decides on, read back when its
    Inform is recorded (`DeviceRepository.record_periodic_inform`): the whole `Device`
    is not built for a session that turns out to have nothing to do."""

    state: ProvisioningState
    parameter_key: str | None
    customer_id: str
    service_plan: str
    location_id: str
    updated_at: float
    queued_tasks: bool
    """Whether tasks were queued for the device when it was read."""


@dataclass(frozen=True, slots=True)
class InventoryEntry:
    """One row of an inventory import: who the device belongs to and what they bought.

    Connection-request credentials and MAC are optional; when absent on re-import the
    stored ones are kept.
    """

    serial_number: str
    oui: str
    product_class: str
    customer_id: str
    service_plan: str
    location_id: str
    mac: str | None = None
    connection_request_username: str | None = None
    connection_request_password: str | None = field(default=None, repr=False)

    def problems(self) -> list[str]:
        """Why this entry cannot be imported (empty when it can)."""
        found = [
            f"{name} is empty"
            for name in (
                "serial_number",
                "oui",
                "customer_id",
                "service_plan",
                "location_id",
            )
            if not str(getattr(self, name)).strip()
        ]
        if self.oui.strip() and not _is_oui(self.oui):
            found.append("oui must be 6 hexadecimal digits")
        # PostgreSQL cannot store a NUL; refused on every engine so both behave alike
        found.extend(
            f"{name} must not contain NUL characters"
            for name in _TEXT_FIELDS
            if "\x00" in (getattr(self, name) or "")
        )
        return found

    @property
    def identity(self) -> DeviceIdentity:
        return DeviceIdentity(self.oui, self.serial_number, self.mac, self.product_class)


_TEXT_FIELDS = (
    "serial_number",
    "oui",
    "product_class",
    "customer_id",
    "service_plan",
    "location_id",
    "mac",
    "connection_request_username",
    "connection_request_password",
)


def _is_oui(value: str) -> bool:
    return len(value) == 6 and all(c in "0123456789abcdefABCDEF" for c in value)


@dataclass(frozen=True, slots=True)
class Device:
    """Everything the ACS stores about one CPE (times are epoch seconds)."""

    identity: DeviceIdentity
    customer_id: str
    service_plan: str
    location_id: str
    created_at: float
    updated_at: float
    state: ProvisioningState = ProvisioningState.NEW
    failed_step: str | None = None
    failure_reason: str | None = None
    last_inform_at: float | None = None
    last_boot_at: float | None = None
    manufacturer: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    data_model_root: str | None = None
    connection_request_url: str | None = None
    connection_request_username: str | None = None
    connection_request_password: str | None = field(default=None, repr=False)
    parameter_key: str | None = None
    profile_version: str | None = None
    last_values: Mapping[str, str] = field(default_factory=dict, repr=False)
    queued_tasks: bool | None = field(default=None, repr=False, compare=False)
    """Whether tasks were queued for the device when it was read at an Inform
    (`DeviceRepository.record_inform`); None when not looked at. Lets a session skip
    reading the device's task queue when there is none (`traceacs.tasks.composite`)."""
    sealed_connection_request_password: Callable[[], str] | None = field(
        default=None, repr=False, compare=False
    )
    """Opens the stored connection-request password, when the device was read with it
    still sealed (`DeviceRepository.record_inform`: ``connection_request_password`` is
    then None). Opening is an AES-GCM decrypt; a quiet periodic session never needs the
    password, so it is opened only by `open_connection_request_password` (a push)."""

    def open_connection_request_password(self) -> str | None:
        """The connection-request password, opened if it was read sealed.

        Raises `RepositoryError` (`SecretKeyError`) when it cannot be opened.
        """
        opener = self.sealed_connection_request_password
        if self.connection_request_password is not None or opener is None:
            return self.connection_request_password
        return opener()

    @property
    def oui(self) -> str:
        return self.identity.oui

    @property
    def serial_number(self) -> str:
        return self.identity.serial_number

    @property
    def product_class(self) -> str | None:
        return self.identity.product_class

    @property
    def mac(self) -> str | None:
        return self.identity.mac


@dataclass(frozen=True, slots=True)
class ProvisioningAttempt:
    """One run of the workflow against one device; ``result is None`` while running.

    ``details`` is JSON-able (per-parameter faults, mismatching parameter *names*) and
    must never hold secret values.
    """

    id: int
    oui: str
    serial_number: str
    started_at: float
    ended_at: float | None = None
    result: str | None = None
    failing_step: str | None = None
    fault_code: int | None = None
    fault_string: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    waiting_step: str | None = None
    """The step that left the attempt open for the CPE to finish (``firmware``)."""
    deadline_at: float | None = None
    """When a waiting attempt fails if the CPE has not come back (its timeout)."""

    @property
    def in_progress(self) -> bool:
        return self.result is None
