"""The port through which the workflow and the CLI reach the device inventory.

`DeviceRepository` is what provisioning code depends on; the storage package provides
it for SQLite and PostgreSQL (`traceacs.storage.open_repository`). Every time is an
epoch-seconds float passed in by the caller. The errors below are the whole exception
tree a caller needs: in particular `StorageUnavailable` (answer the CPE 503 / fault
8005 and let it retry) and `AttemptInProgress` (another session is already provisioning
this device). Error messages never carry database credentials or secret values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from traceacs.provisioning.device import (
    Device,
    DeviceIdentity,
    InformedDevice,
    InformFacts,
    InventoryEntry,
    ProvisioningAttempt,
    ProvisioningState,
)

DeviceSortKey = Literal[
    "serial_number",
    "oui",
    "customer_id",
    "state",
    "model",
    "last_inform_at",
    "created_at",
    "updated_at",
]


class RepositoryError(Exception):
    """Base of every error the repository raises on purpose."""


class StorageUnavailable(RepositoryError):
    """The database cannot be reached or used right now; retrying later may work."""


class DeviceNotFound(RepositoryError):
    """The operation names a device that is not in the inventory."""


class AmbiguousSerial(RepositoryError):
    """A bare serial number matches devices of several OUIs; give the OUI too."""


class AttemptInProgress(RepositoryError):
    """The device already has an unfinished provisioning attempt."""


class AttemptNotFound(RepositoryError):
    """No unfinished attempt has that id (unknown, or already finished / expired)."""


class ImportRejected(RepositoryError):
    """An inventory import was refused as a whole; nothing was written.

    ``row`` is the 0-based index of the first bad entry (``None`` when the problem is
    not tied to one row).
    """

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


class SchemaTooNew(RepositoryError):
    """The database was migrated by a newer TraceACS than this one."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int

    @property
    def total(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    """Conditions that must all hold; ``None`` means "any"."""

    state: ProvisioningState | None = None
    customer_id: str | None = None
    service_plan: str | None = None
    location_id: str | None = None
    model: str | None = None
    product_class: str | None = None
    oui: str | None = None
    failed_step: str | None = None
    serial_prefix: str | None = None
    """Serial numbers starting with this text (an exact serial matches too)."""
    mac: str | None = None
    """MAC address, compared case-insensitively (stored as imported)."""
    firmware_version: str | None = None
    tag: str | None = None
    """Devices carrying this operator tag."""


@dataclass(frozen=True, slots=True)
class AttemptFilter:
    """Conditions on attempts (and on their device); ``None`` means "any".

    ``started_from`` is inclusive, ``started_before`` exclusive; ``in_progress`` selects
    unfinished (True) or finished (False) attempts.
    """

    oui: str | None = None
    serial_number: str | None = None
    result: str | None = None
    failing_step: str | None = None
    model: str | None = None
    started_from: float | None = None
    started_before: float | None = None
    in_progress: bool | None = None
    exclude_results: tuple[str, ...] = ()
    """Leave out finished attempts with these results (open ones are kept)."""


class DeviceRepository(Protocol):
    """Inventory, attempt history and stored profile documents."""

    # -- devices ---------------------------------------------------------------------

    async def get_device(self, oui: str, serial_number: str) -> Device | None:
        """The device with that identity (one indexed statement)."""
        ...

    async def get_device_by_serial(self, serial_number: str) -> Device | None:
        """The device with that serial whatever its OUI; `AmbiguousSerial` if several."""
        ...

    async def record_inform(
        self, oui: str, serial_number: str, now: float, facts: InformFacts
    ) -> Device | None:
        """Record an inform (last seen, boot, firmware, CR URL...) and return the device.

        One statement (UPDATE ... RETURNING); ``None`` means the device is not in the
        inventory (the workflow's ``unknown_device``). The device's ``queued_tasks``
        may say whether tasks were queued for it at this moment (None: not looked at).
        """
        ...

    async def record_periodic_inform(
        self, oui: str, serial_number: str, now: float, facts: InformFacts
    ) -> InformedDevice | None:
        """Record an inform as `record_inform` does, reading back only what a quiet
        periodic check decides on (`InformedDevice`, far cheaper than a `Device`).

        ``None``: the device is not in the inventory, or this store records Informs at
        once (no write-behind) and cannot answer more cheaply than `record_inform`;
        either way the caller goes on with `record_inform`, which records the Inform
        (again: the update is idempotent) and says which.
        """
        ...

    async def import_devices(self, entries: Iterable[InventoryEntry], now: float) -> ImportResult:
        """Upsert by OUI + serial, all or nothing (`ImportRejected` writes nothing).

        Re-importing keeps state, history and anything the entry leaves ``None``.
        """
        ...

    async def list_devices(
        self,
        filters: DeviceFilter = ...,
        *,
        sort_by: DeviceSortKey = "serial_number",
        descending: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Device]:
        """A page of devices, filtered and sorted by the database."""
        ...

    async def count_devices(self, filters: DeviceFilter = ...) -> int:
        """How many devices match (for paging UIs and ``devices list`` totals)."""
        ...

    async def delete_device(self, oui: str, serial_number: str) -> bool:
        """Remove a device and its attempt history; False if it was not there."""
        ...

    async def set_state(
        self,
        oui: str,
        serial_number: str,
        state: ProvisioningState,
        now: float,
        *,
        failed_step: str | None = None,
        failure_reason: str | None = None,
    ) -> Device | None:
        """Set the provisioning state (failing step/reason are cleared unless given)."""
        ...

    async def set_connection_request_credentials(
        self, oui: str, serial_number: str, username: str, password: str, now: float
    ) -> None:
        """Store the device's own connection-request credentials (the password sealed)."""
        ...

    async def save_last_values(
        self,
        oui: str,
        serial_number: str,
        values: Mapping[str, str],
        now: float,
        *,
        replace: bool = False,
    ) -> None:
        """Store values read from the device, merged into the stored ones by name.

        ``replace=True`` drops the previously stored values first. `DeviceNotFound` if
        the device is not in the inventory.
        """
        ...

    # -- provisioning attempts -------------------------------------------------------

    async def start_attempt(
        self,
        device: Device | DeviceIdentity,
        now: float,
        trace_id: str | None,
        *,
        supersede_before: float | None = None,
    ) -> int:
        """Open an attempt and mark the device ``provisioning``; returns the attempt id.

        `AttemptInProgress` if the device already has an unfinished attempt (enforced by
        the database, so it holds across ACS processes); `DeviceNotFound` if unknown.

        ``supersede_before``: an unfinished attempt of this device that started before
        this time is first closed as ``expired`` (same transaction). A CPE holds one
        session at a time, so its new Inform proves an older open attempt belongs to a
        session that died (a killed ACS process, a dropped database connection); without
        this the device would wait for the stale-attempt sweep.
        """
        ...

    async def finish_attempt(
        self,
        attempt_id: int,
        now: float,
        result: str,
        *,
        failing_step: str | None = None,
        fault_code: int | None = None,
        fault_string: str | None = None,
        details: Mapping[str, Any] | None = None,
        failure_reason: str | None = None,
        parameter_key: str | None = None,
        profile_version: str | None = None,
        state: ProvisioningState | None = None,
        last_values: Mapping[str, str] | None = None,
    ) -> ProvisioningAttempt:
        """Close the attempt and update its device in the same transaction.

        The device state becomes ``provisioned`` on ``result == "success"`` and
        ``failed`` otherwise unless ``state`` says otherwise; its failing step and
        reason are set (reason defaults to the fault string, then the result) or cleared
        on success; ``parameter_key`` / ``profile_version`` are stored when given.
        `AttemptNotFound` if the attempt is unknown or already finished.

        ``last_values``: values read from the device, stored first in the same
        transaction as `save_last_values` (merged) would store them: one commit
        instead of two at the end of a verify. They are stored even when the attempt
        is not found (as a separate `save_last_values` before would have), and skipped
        when the device is gone.
        """
        ...

    async def get_attempt(self, attempt_id: int) -> ProvisioningAttempt | None: ...

    async def list_attempts(
        self, filters: AttemptFilter = ..., *, limit: int = 100, offset: int = 0
    ) -> list[ProvisioningAttempt]:
        """Attempts matching ``filters``, newest first."""
        ...

    async def wait_for_cpe(
        self,
        attempt_id: int,
        *,
        step: str,
        deadline: float,
        timeout_result: str,
        timeout_reason: str,
        details: Mapping[str, Any],
    ) -> None:
        """Leave an unfinished attempt open while the CPE works (a firmware transfer).

        The attempt records ``step`` (its ``waiting_step``), ``deadline`` and
        ``details`` (replacing the previous details); stale-attempt expiry leaves it
        alone until ``deadline``, then finishes it with ``timeout_result`` and
        ``timeout_reason`` at ``step``. `AttemptNotFound` if it is not in progress.
        """
        ...

    async def expire_stale_attempts(self, older_than: float, now: float) -> int:
        """Fail attempts started more than ``older_than`` seconds before ``now``.

        They get result ``expired``; their devices go to ``failed``. Attempts waiting
        for the CPE (`wait_for_cpe`) are failed only once their deadline has passed,
        with the timeout result and reason given then. Returns how many.
        """
        ...

    # -- profile documents (the embedded profile source) -----------------------------

    async def put_profile_document(
        self, name: str, document: Mapping[str, Any], version: str
    ) -> None: ...

    async def get_profile_document(self, name: str) -> tuple[dict[str, Any], str] | None:
        """The stored document and its version, or ``None``."""
        ...

    async def list_profile_documents(self) -> list[tuple[str, str]]:
        """``(name, version)`` of every stored profile document, by name."""
        ...

    async def delete_profile_document(self, name: str) -> bool: ...

    async def close(self) -> None: ...


__all__: Sequence[str] = (
    "AmbiguousSerial",
    "AttemptFilter",
    "AttemptInProgress",
    "AttemptNotFound",
    "DeviceFilter",
    "DeviceNotFound",
    "DeviceRepository",
    "DeviceSortKey",
    "ImportRejected",
    "ImportResult",
    "RepositoryError",
    "SchemaTooNew",
    "StorageUnavailable",
)
