"""Rows to domain values and back: the one place that knows column names and encodings.

JSON columns (``last_values``, ``details``, ``document``) are stored as TEXT so that
the same SQL runs on both engines; times are DOUBLE PRECISION epoch seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final

from traceacs.provisioning.device import (
    Device,
    DeviceIdentity,
    InformedDevice,
    ProvisioningAttempt,
    ProvisioningState,
)
from traceacs.storage.database import Row
from traceacs.storage.secret_box import PREFIX

DEVICE_COLUMNS: Final = (
    "oui, serial_number, product_class, mac, customer_id, service_plan, location_id,"
    " state, failed_step, failure_reason, last_inform_at, last_boot_at, manufacturer,"
    " model, firmware_version, data_model_root, connection_request_url,"
    " connection_request_username, connection_request_password, parameter_key,"
    " profile_version, last_values, created_at, updated_at"
)

ATTEMPT_COLUMNS: Final = (
    "a.id, d.oui, d.serial_number, a.started_at, a.ended_at, a.result, a.failing_step,"
    " a.fault_code, a.fault_string, a.details, a.trace_id, a.waiting_step, a.deadline_at"
)


def dumps(value: Mapping[str, Any]) -> str:
    """Compact, key-sorted JSON (stable text, so equal values store equal)."""
    return json.dumps(dict(value), separators=(",", ":"), sort_keys=True)


def _time(value: Any) -> Any:
    """Times come back as float (SQLite hands out integral REALs as int in RETURNING)."""
    return None if value is None else float(value)


class StoredValues(Mapping[str, str]):
    """A device's ``last_values`` column, decoded (and its sealed values opened) at
    first use: the device is read at every Inform, and a quiet session never looks at
    the values its last provisioning read back."""

    __slots__ = ("_open", "_text", "_values")

    def __init__(self, text: str, open_value: Callable[[str], str] | None) -> None:
        self._text = text
        self._open = open_value
        self._values: dict[str, str] | None = None

    def decode(self) -> StoredValues:
        """Decode now (a read that reports a value it cannot open at once); ``self``."""
        self._decoded()
        return self

    def _decoded(self) -> dict[str, str]:
        values = self._values
        if values is None:
            text = self._text
            decoded = json.loads(text)
            opener = self._open
            if opener is not None and PREFIX in text:  # else nothing is sealed
                values = {str(k): opener(str(v)) for k, v in decoded.items()}
            else:
                values = {str(k): str(v) for k, v in decoded.items()}
            self._values = values
        return values

    def __getitem__(self, key: str) -> str:
        return self._decoded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __repr__(self) -> str:
        return f"StoredValues({len(self)} values)"  # the values may be secrets


_NO_VALUES: Final[Mapping[str, str]] = MappingProxyType({})
_STATES: Final[Mapping[str, ProvisioningState]] = {s.value: s for s in ProvisioningState}
"""Stored state -> member: a dict lookup, not the enum's call, for a row read per Inform."""


def _state(value: str) -> ProvisioningState:
    found = _STATES.get(value)
    return found if found is not None else ProvisioningState(value)  # raises as it did


def informed_device_from_row(row: Row, updated_at: float) -> InformedDevice:
    """The facts `record_periodic_inform` reads back (``updated_at``: the Inform's time,
    as the queued update leaves it)."""
    return InformedDevice(
        state=_state(row["state"]),
        parameter_key=row["parameter_key"],
        customer_id=row["customer_id"],
        service_plan=row["service_plan"],
        location_id=row["location_id"],
        updated_at=updated_at,
        queued_tasks=bool(row["queued_tasks"]),
    )


def device_from_row(
    row: Row,
    open_value: Callable[[str], str] | None = None,
    sealed_password: Callable[[], str] | None = None,
    *,
    lazy_values: bool = False,
) -> Device:
    """``open_value`` opens sealed ``last_values`` (called only when the column's text
    holds a sealed value at all); ``sealed_password`` opens the connection-request
    password left sealed in the row (`Device.sealed_connection_request_password`).
    With ``lazy_values`` the ``last_values`` are decoded at first use (`StoredValues`).
    """
    text = row["last_values"]
    values = _NO_VALUES
    if text:
        stored = StoredValues(text, open_value)
        values = stored if lazy_values else stored.decode()
    return Device(
        identity=DeviceIdentity(
            oui=row["oui"],
            serial_number=row["serial_number"],
            mac=row["mac"],
            product_class=row["product_class"],
        ),
        customer_id=row["customer_id"],
        service_plan=row["service_plan"],
        location_id=row["location_id"],
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
        state=_state(row["state"]),
        failed_step=row["failed_step"],
        failure_reason=row["failure_reason"],
        last_inform_at=_time(row["last_inform_at"]),
        last_boot_at=_time(row["last_boot_at"]),
        manufacturer=row["manufacturer"],
        model=row["model"],
        firmware_version=row["firmware_version"],
        data_model_root=row["data_model_root"],
        connection_request_url=row["connection_request_url"],
        connection_request_username=row["connection_request_username"],
        connection_request_password=row["connection_request_password"],
        parameter_key=row["parameter_key"],
        profile_version=row["profile_version"],
        last_values=values,
        queued_tasks=None if (queued := row.get("queued_tasks")) is None else bool(queued),
        sealed_connection_request_password=sealed_password,
    )


def attempt_from_row(row: Row) -> ProvisioningAttempt:
    return ProvisioningAttempt(
        id=int(row["id"]),
        oui=row["oui"],
        serial_number=row["serial_number"],
        started_at=_time(row["started_at"]),
        ended_at=_time(row["ended_at"]),
        result=row["result"],
        failing_step=row["failing_step"],
        fault_code=row["fault_code"],
        fault_string=row["fault_string"],
        details=json.loads(row["details"] or "{}"),
        trace_id=row["trace_id"],
        waiting_step=row["waiting_step"],
        deadline_at=_time(row["deadline_at"]),
    )
