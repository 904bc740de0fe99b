# SQL text is assembled only from constants and numbered placeholders; values are
# always bound parameters, never formatted in.
# ruff: noqa: S608
"""`DeviceRepository` in SQL, written once for both engines.

Hot-path operations (device lookup, recording an inform) are one indexed statement
each. OUIs are stored and looked up in upper case (CWMP says upper case; not every CPE
obeys). Operations that touch two tables (start/finish an attempt, expiry) run in one
transaction, so a device's state never disagrees with its attempt history. The rule
"one unfinished attempt per device" lives in the database (a partial unique index), so
it holds across ACS processes, not just within this one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from traceacs.provisioning.device import (
    RESULT_EXPIRED,
    RESULT_SUCCESS,
    Device,
    DeviceIdentity,
    InformedDevice,
    InformFacts,
    InventoryEntry,
    ProvisioningAttempt,
    ProvisioningState,
)
from traceacs.provisioning.repository import (
    AmbiguousSerial,
    AttemptFilter,
    AttemptInProgress,
    AttemptNotFound,
    DeviceFilter,
    DeviceNotFound,
    DeviceSortKey,
    ImportRejected,
    ImportResult,
)
from traceacs.storage import database as stmt
from traceacs.storage.database import (
    Database,
    Executor,
    Row,
    TransactionScript,
    UniqueViolation,
)
from traceacs.storage.inform_writer import InformWriter
from traceacs.storage.migrations import apply_migrations
from traceacs.storage.rows import (
    ATTEMPT_COLUMNS,
    DEVICE_COLUMNS,
    attempt_from_row,
    device_from_row,
    dumps,
    informed_device_from_row,
)
from traceacs.storage.secret_box import PREFIX, SecretBox, is_sealed, open_with, seal_with
from traceacs.telemetry.redaction import is_secret_parameter

CR_PASSWORD: Final = "devices.connection_request_password"  # noqa: S105 - a column name
PROFILE_DOCUMENT: Final = "profile_documents.document"
TASK_ARGUMENTS: Final = "tasks.arguments"
LAST_VALUES: Final = "devices.last_values"
"""Values of secret-named parameters inside the JSON (sealed one by one, on write)."""
SEALED_COLUMNS: Final = (
    ("devices", "id", "connection_request_password"),
    ("profile_documents", "name", "document"),
    ("tasks", "id", "arguments"),
    ("bulk_jobs", "id", "arguments"),
    ("presets", "name", "action"),
)
"""(table, key column, sealed column): every column `SecretBox` protects."""
RESEAL_CHUNK: Final = 1000

IMPORT_LOCK: Final = 0x7472_6164  # one inventory import at a time across processes
IMPORT_CHUNK: Final = 5000
_SUPERSEDED_DETAILS: Final = dumps({"superseded": "a new session of the device began"})
_MAX_CHAR: Final = "\U0010ffff"  # sorts after every other character, byte-wise too

_GET_DEVICE = f"SELECT {DEVICE_COLUMNS} FROM devices WHERE oui = $1 AND serial_number = $2"
_GET_INFORMING_DEVICE = (
    f"SELECT {DEVICE_COLUMNS}, EXISTS (SELECT 1 FROM tasks t WHERE t.device_id = devices.id"
    " AND t.status = 'queued') AS queued_tasks FROM devices WHERE oui = $1 AND serial_number = $2"
)
"""The device at its Inform, with whether any task is queued for it (same index
lookup as the task queue's own query, `tasks_device_status`), so a session of a device
without tasks does not read its task queue."""
_GET_BY_SERIAL = f"SELECT {DEVICE_COLUMNS} FROM devices WHERE serial_number = $1 LIMIT 2"

_GET_PERIODIC_FACTS = (
    "SELECT state, parameter_key, customer_id, service_plan, location_id,"
    " EXISTS (SELECT 1 FROM tasks t WHERE t.device_id = devices.id AND t.status = 'queued')"
    " AS queued_tasks FROM devices WHERE oui = $1 AND serial_number = $2"
)
"""What a quiet periodic check decides on (`InformedDevice`): 6 columns instead of the
device's 25, each of which costs the driver more than SQLite's whole lookup."""


def _inform_args(oui: str, serial_number: str, now: float, facts: InformFacts) -> tuple[Any, ...]:
    """The arguments of the Inform update (`_RECORD_INFORM`, `_INFORM_LATER`)."""
    return (
        oui.upper(),
        serial_number,
        float(now),
        1 if facts.is_boot else 0,
        facts.manufacturer,
        facts.model,
        facts.firmware_version,
        facts.data_model_root,
        facts.connection_request_url,
    )


# an Inform's facts; written behind (batched) when the caller needs no row back
_INFORM_LATER = """
UPDATE devices SET
    last_inform_at = $3,
    last_boot_at = CASE WHEN $4 = 1 THEN $3 ELSE last_boot_at END,
    manufacturer = COALESCE($5, manufacturer),
    model = COALESCE($6, model),
    firmware_version = COALESCE($7, firmware_version),
    data_model_root = COALESCE($8, data_model_root),
    connection_request_url = COALESCE($9, connection_request_url),
    updated_at = $3
WHERE oui = $1 AND serial_number = $2"""

_RECORD_INFORM = f"{_INFORM_LATER}\nRETURNING {DEVICE_COLUMNS}"

_UPSERT_DEVICE = """
INSERT INTO devices (
    oui, serial_number, product_class, mac, customer_id, service_plan, location_id,
    connection_request_username, connection_request_password, created_at, updated_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
ON CONFLICT (oui, serial_number) DO UPDATE SET
    product_class = excluded.product_class,
    mac = COALESCE(excluded.mac, devices.mac),
    customer_id = excluded.customer_id,
    service_plan = excluded.service_plan,
    location_id = excluded.location_id,
    connection_request_username = COALESCE(
        excluded.connection_request_username, devices.connection_request_username),
    connection_request_password = COALESCE(
        excluded.connection_request_password, devices.connection_request_password),
    updated_at = excluded.updated_at"""

_SET_STATE = f"""
UPDATE devices SET state = $3, failed_step = $4, failure_reason = $5, updated_at = $6
WHERE oui = $1 AND serial_number = $2
RETURNING {DEVICE_COLUMNS}"""

_START_ATTEMPT = """
INSERT INTO attempts (device_id, started_at, trace_id)
SELECT id, $3, $4 FROM devices WHERE oui = $1 AND serial_number = $2
RETURNING id, device_id"""

# An attempt waiting for the CPE (a firmware transfer across reboots) is not left over by
# a dead session: it keeps its own deadline, judged by the workflow and the sweeper.
_SUPERSEDE = """
UPDATE attempts SET result = $4, ended_at = $3, details = $5
WHERE result IS NULL AND started_at < $2 AND waiting_step IS NULL
  AND device_id = (SELECT id FROM devices WHERE oui = $1 AND serial_number = $6)"""

_FINISH_ATTEMPT = """
UPDATE attempts SET
    ended_at = $2, result = $3, failing_step = $4, fault_code = $5, fault_string = $6,
    details = $7
WHERE id = $1 AND result IS NULL
RETURNING device_id"""

_DEVICE_AFTER_ATTEMPT = """
UPDATE devices SET
    state = $2, failed_step = $3, failure_reason = $4,
    parameter_key = COALESCE($5, parameter_key),
    profile_version = COALESCE($6, profile_version),
    updated_at = $7
WHERE id = $1"""

_ATTEMPTS_FROM = f"SELECT {ATTEMPT_COLUMNS} FROM attempts a JOIN devices d ON d.id = a.device_id"

_EXPIRE = """
UPDATE attempts SET result = $3, ended_at = $2, details = $4
WHERE result IS NULL AND deadline_at IS NULL AND started_at < $1
RETURNING device_id"""

_WAIT_FOR_CPE = """
UPDATE attempts SET waiting_step = $2, deadline_at = $3, details = $4
WHERE id = $1 AND result IS NULL
RETURNING id"""

_OVERDUE = """
SELECT id, waiting_step, details FROM attempts
WHERE result IS NULL AND deadline_at IS NOT NULL AND deadline_at < $1"""

_EXPIRE_OVERDUE = """
UPDATE attempts SET result = $2, ended_at = $3, failing_step = $4, fault_string = $5
WHERE id = $1 AND result IS NULL
RETURNING device_id"""

_DEVICE_OVERDUE = """
UPDATE devices SET state = 'failed', failed_step = $2, failure_reason = $3, updated_at = $4
WHERE id = $1 AND state = 'provisioning'"""

ON_TIMEOUT: Final = "on_timeout"
"""Where `wait_for_cpe` keeps a waiting attempt's timeout result and reason (details)."""

_DEVICE_EXPIRED = """
UPDATE devices SET state = 'failed', failed_step = NULL, failure_reason = $2, updated_at = $3
WHERE id = $1 AND state = 'provisioning'"""

_PUT_PROFILE = """
INSERT INTO profile_documents (name, version, document) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET version = excluded.version, document = excluded.document"""

# Sort keys that may be NULL get "NULLs last" spelled out: the engines disagree on it.
_SORT_COLUMNS: Final[Mapping[str, tuple[str, bool]]] = {
    "serial_number": ("serial_number", False),
    "oui": ("oui", False),
    "customer_id": ("customer_id", False),
    "state": ("state", False),
    "model": ("model", True),
    "last_inform_at": ("last_inform_at", True),
    "created_at": ("created_at", False),
    "updated_at": ("updated_at", False),
}


class _Where:
    """Builds ``WHERE`` clauses with numbered placeholders, values kept apart."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.args: list[Any] = []

    def add(self, template: str, value: Any) -> None:
        """``template`` holds one ``{}`` for the placeholder; ``None`` adds nothing."""
        if value is None:
            return
        self.args.append(value)
        self.conditions.append(template.format(f"${len(self.args)}"))

    def raw(self, condition: str) -> None:
        self.conditions.append(condition)

    def next_placeholder(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    @property
    def sql(self) -> str:
        return f" WHERE {' AND '.join(self.conditions)}" if self.conditions else ""


def _device_where(filters: DeviceFilter) -> _Where:
    where = _Where()
    where.add("state = {}", filters.state.value if filters.state else None)
    where.add("customer_id = {}", filters.customer_id)
    where.add("service_plan = {}", filters.service_plan)
    where.add("location_id = {}", filters.location_id)
    where.add("model = {}", filters.model)
    where.add("product_class = {}", filters.product_class)
    where.add("oui = {}", filters.oui.upper() if filters.oui else None)
    where.add("failed_step = {}", filters.failed_step)
    where.add("firmware_version = {}", filters.firmware_version)
    where.add("upper(mac) = {}", filters.mac.upper() if filters.mac is not None else None)
    where.add("id IN (SELECT device_id FROM device_tags WHERE tag = {})", filters.tag)
    if filters.serial_prefix:
        # A range, not LIKE: both engines compare these columns byte-wise, so the
        # serial index serves it, and no LIKE wildcard in a serial needs escaping.
        where.add("serial_number >= {}", filters.serial_prefix)
        where.add("serial_number < {}", filters.serial_prefix + _MAX_CHAR)
    return where


_INFORM_FACT_COLUMNS: Final = (
    "manufacturer",
    "model",
    "firmware_version",
    "data_model_root",
    "connection_request_url",
)
"""`InformFacts` fields named as their columns: ``COALESCE(reported, stored)``."""


def _start_attempt(
    identity: DeviceIdentity, now: float, trace_id: str | None, supersede_before: float | None
) -> TransactionScript[int]:
    """Open an attempt (superseding a dead one first) and mark the device provisioning."""
    oui = identity.oui.upper()
    if supersede_before is not None:
        yield stmt.execute(
            _SUPERSEDE,
            oui,
            float(supersede_before),
            float(now),
            RESULT_EXPIRED,
            _SUPERSEDED_DETAILS,
            identity.serial_number,
        )
    row = yield stmt.fetchrow(_START_ATTEMPT, oui, identity.serial_number, float(now), trace_id)
    if row is None:
        raise DeviceNotFound(f"no device {identity.oui}/{identity.serial_number}")
    yield stmt.execute(
        "UPDATE devices SET state = 'provisioning', updated_at = $2 WHERE id = $1",
        row["device_id"],
        float(now),
    )
    return int(row["id"])


def _finish_attempt(
    attempt_id: int,
    attempt_args: tuple[Any, ...],
    device_args: tuple[Any, ...],
    before: TransactionScript[bool] | None = None,
) -> TransactionScript[Row | None]:
    """Run ``before`` (values read, stored first), close an attempt, update its device
    from it; the attempt's row as it now is, None (committing ``before``'s work) when
    the attempt is not open."""
    if before is not None:
        yield from before
    row = yield stmt.fetchrow(_FINISH_ATTEMPT, attempt_id, *attempt_args)
    if row is None:
        return None
    yield stmt.execute(_DEVICE_AFTER_ATTEMPT, row["device_id"], *device_args)
    finished: Row | None = yield stmt.fetchrow(f"{_ATTEMPTS_FROM} WHERE a.id = $1", attempt_id)
    assert finished is not None  # updated in this very transaction
    return finished


def _check_page(limit: int, offset: int) -> None:
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")


def _json_text(value: Mapping[str, Any] | None, what: str) -> str:
    try:
        return dumps(value or {})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable: {exc}") from None


class SqlDeviceRepository:
    """The `DeviceRepository` over any `Database` adapter."""

    def __init__(
        self,
        db: Database,
        secrets: SecretBox | None = None,
        *,
        inform_write_behind: float | None = None,
    ) -> None:
        self.db = db
        self.secrets = secrets
        """Seals secret columns (`traceacs.storage.secret_box`); None: a keyless store
        (tests, benchmarks) that writes them as given and refuses to read sealed ones."""
        self._informs = (
            InformWriter(db, _INFORM_LATER, inform_write_behind)
            if inform_write_behind is not None
            else None
        )
        self.profile_generation = 0
        """Counts profile writes through this repository, so a caching
        `EmbeddedProfileSource` on it sees them at once."""

    def _device(self, row: Row, *, seal_password: bool = False) -> Device:
        """The device of ``row`` (a fresh dict, changed in place) with its secrets opened.

        Built once: no `dataclasses.replace` per opened secret (a device is read at
        every Inform, so this is on the hot path of every session). With
        ``seal_password`` (the Inform's read) a sealed connection-request password is
        left sealed, to be opened only if a push needs it
        (`Device.open_connection_request_password`), and ``last_values`` are decoded
        only when looked at (`traceacs.storage.rows.StoredValues`).
        """
        stored = row["connection_request_password"]
        opener = None
        if stored is not None and is_sealed(stored):
            if seal_password:
                row["connection_request_password"] = None
                opener = functools.partial(open_with, self.secrets, stored, CR_PASSWORD)
            else:
                row["connection_request_password"] = open_with(self.secrets, stored, CR_PASSWORD)
        return device_from_row(row, self._open_last_value, opener, lazy_values=seal_password)

    def _open_last_value(self, stored: str) -> str:
        return open_with(self.secrets, stored, LAST_VALUES) if is_sealed(stored) else stored

    async def reseal(self) -> int:
        """Seal every secret column value not sealed with the current key; how many.

        Rows written before sealing existed (plaintext) and rows sealed with a previous
        key (after a rotation) are rewritten; a row changed meanwhile is left to its
        writer (the UPDATE matches the old value). Run when the ACS starts.
        """
        box = self.secrets
        if box is None:
            return 0
        current = f"{PREFIX}{box.current_id}:%"
        done = 0
        for table, key, column in SEALED_COLUMNS:
            rows = await self.db.fetch(
                f"SELECT {key} AS k, {column} AS v FROM {table}"
                f" WHERE {column} IS NOT NULL AND {column} NOT LIKE $1",
                current,
            )
            name = f"{table}.{column}"
            updates = [(box.seal(box.open(r["v"], name), name), r["k"], r["v"]) for r in rows]
            for start in range(0, len(updates), RESEAL_CHUNK):
                async with self.db.transaction() as tx:
                    await tx.executemany(
                        f"UPDATE {table} SET {column} = $1 WHERE {key} = $2 AND {column} = $3",
                        updates[start : start + RESEAL_CHUNK],
                    )
            done += len(updates)
        return done

    async def migrate(self) -> list[int]:
        """Apply pending schema migrations; returns the versions applied."""
        return await apply_migrations(self.db)

    # -- devices ---------------------------------------------------------------------

    async def _settle(self) -> None:
        """Write queued Inform facts first, so this process reads what it recorded."""
        if self._informs is not None and self._informs.pending:
            await self._informs.flush()

    async def get_device(self, oui: str, serial_number: str) -> Device | None:
        await self._settle()
        row = await self.db.fetchrow(_GET_DEVICE, oui.upper(), serial_number)
        return None if row is None else self._device(row)

    async def get_device_by_serial(self, serial_number: str) -> Device | None:
        await self._settle()
        rows = await self.db.fetch(_GET_BY_SERIAL, serial_number)
        if len(rows) > 1:
            raise AmbiguousSerial(
                f"serial number {serial_number!r} is used by several OUIs; give the OUI too"
            )
        return self._device(rows[0]) if rows else None

    async def record_periodic_inform(
        self, oui: str, serial_number: str, now: float, facts: InformFacts
    ) -> InformedDevice | None:
        if self._informs is None:
            return None  # recorded at once by `record_inform`: nothing cheaper here
        row = await self._read_written_behind(
            _GET_PERIODIC_FACTS, _inform_args(oui, serial_number, now, facts)
        )
        return None if row is None else informed_device_from_row(row, float(now))

    async def _read_written_behind(self, query: str, args: tuple[Any, ...]) -> Row | None:
        """The device's row read at its Inform (``query`` by OUI and serial number), the
        Inform's update (``args``) queued behind when the device exists."""
        assert self._informs is not None
        key = (args[0], args[1])
        if self._informs.has(key):
            await self._informs.flush()  # the same device twice within the interval
        row = await self.db.fetchrow(query, args[0], args[1])
        if row is not None:
            self._informs.add(key, args)
        return row

    async def record_inform(
        self, oui: str, serial_number: str, now: float, facts: InformFacts
    ) -> Device | None:
        args = _inform_args(oui, serial_number, now, facts)
        if self._informs is None:
            row = await self.db.fetchrow(_RECORD_INFORM, *args)
            return None if row is None else self._device(row, seal_password=True)
        # Write-behind: read the row (an indexed point read), queue the update, and
        # answer with the device as the update will leave it.
        row = await self._read_written_behind(_GET_INFORMING_DEVICE, args)
        if row is None:
            return None
        # The device as the queued update will leave it (`_INFORM_LATER`).
        row["last_inform_at"] = row["updated_at"] = float(now)
        if facts.is_boot:
            row["last_boot_at"] = float(now)
        for column in _INFORM_FACT_COLUMNS:
            reported = getattr(facts, column)
            if reported is not None:
                row[column] = reported
        return self._device(row, seal_password=True)

    async def import_devices(self, entries: Iterable[InventoryEntry], now: float) -> ImportResult:
        batch = list(entries)
        seen: dict[tuple[str, str], int] = {}
        for index, entry in enumerate(batch):
            problems = entry.problems()
            if problems:
                raise ImportRejected(
                    f"row {index} ({entry.serial_number!r}): {'; '.join(problems)}", index
                )
            key = (entry.oui.upper(), entry.serial_number)
            if key in seen:
                raise ImportRejected(
                    f"row {index} repeats device {entry.oui}/{entry.serial_number}"
                    f" of row {seen[key]}",
                    index,
                )
            seen[key] = index
        if not batch:
            return ImportResult(0, 0)
        rows = [
            (
                e.oui.upper(),
                e.serial_number,
                e.product_class,
                e.mac,
                e.customer_id,
                e.service_plan,
                e.location_id,
                e.connection_request_username,
                None
                if e.connection_request_password is None
                else seal_with(self.secrets, e.connection_request_password, CR_PASSWORD),
                float(now),
            )
            for e in batch
        ]
        async with self.db.transaction(lock=IMPORT_LOCK) as tx:
            before = int(await tx.fetchval("SELECT count(*) FROM devices"))
            for start in range(0, len(rows), IMPORT_CHUNK):
                await tx.executemany(_UPSERT_DEVICE, rows[start : start + IMPORT_CHUNK])
            after = int(await tx.fetchval("SELECT count(*) FROM devices"))
        created = after - before
        return ImportResult(created=created, updated=len(rows) - created)

    async def list_devices(
        self,
        filters: DeviceFilter = DeviceFilter(),  # noqa: B008 - frozen, never mutated
        *,
        sort_by: DeviceSortKey = "serial_number",
        descending: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Device]:
        _check_page(limit, offset)
        await self._settle()
        column, nullable = _SORT_COLUMNS[sort_by]
        direction = "DESC" if descending else "ASC"
        order = f"{column} {direction}, id {direction}"
        if nullable:
            order = f"({column} IS NULL), {order}"
        where = _device_where(filters)
        sql = (
            f"SELECT {DEVICE_COLUMNS} FROM devices{where.sql} ORDER BY {order}"
            f" LIMIT {where.next_placeholder(limit)} OFFSET {where.next_placeholder(offset)}"
        )
        return [self._device(r) for r in await self.db.fetch(sql, *where.args)]

    async def count_devices(
        self,
        filters: DeviceFilter = DeviceFilter(),  # noqa: B008 - frozen, never mutated
    ) -> int:
        await self._settle()
        where = _device_where(filters)
        return int(await self.db.fetchval(f"SELECT count(*) FROM devices{where.sql}", *where.args))

    async def delete_device(self, oui: str, serial_number: str) -> bool:
        deleted = await self.db.execute(
            "DELETE FROM devices WHERE oui = $1 AND serial_number = $2",
            oui.upper(),
            serial_number,
        )
        return deleted > 0

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
        row = await self.db.fetchrow(
            _SET_STATE,
            oui.upper(),
            serial_number,
            ProvisioningState(state).value,
            failed_step,
            failure_reason,
            float(now),
        )
        return None if row is None else self._device(row)

    async def set_connection_request_credentials(
        self, oui: str, serial_number: str, username: str, password: str, now: float
    ) -> None:
        await self.db.execute(
            "UPDATE devices SET connection_request_username = $3,"
            " connection_request_password = $4, updated_at = $5"
            " WHERE oui = $1 AND serial_number = $2",
            oui.upper(),
            serial_number,
            username,
            seal_with(self.secrets, password, CR_PASSWORD),
            float(now),
        )

    async def save_last_values(
        self,
        oui: str,
        serial_number: str,
        values: Mapping[str, str],
        now: float,
        *,
        replace: bool = False,
    ) -> None:
        found = await self.db.run_transaction(
            self._save_last_values(oui, serial_number, values, now, replace=replace)
        )
        if not found:
            raise DeviceNotFound(f"no device {oui}/{serial_number}")

    def _save_last_values(
        self,
        oui: str,
        serial_number: str,
        values: Mapping[str, str],
        now: float,
        *,
        replace: bool = False,
        of_attempt: int | None = None,
    ) -> TransactionScript[bool]:
        """Merge ``values`` into the device's (the device of attempt ``of_attempt``,
        open or not, when given); False, writing nothing, when there is no such device."""
        if of_attempt is None:
            row = yield stmt.fetchrow(
                "SELECT id, last_values FROM devices WHERE oui = $1 AND serial_number = $2"
                + (" FOR UPDATE" if self.db.dialect == "postgresql" else ""),
                oui.upper(),
                serial_number,
            )
        else:
            row = yield stmt.fetchrow(
                "SELECT d.id, d.last_values FROM attempts a JOIN devices d ON d.id = a.device_id"
                " WHERE a.id = $1"
                + (" FOR UPDATE OF d" if self.db.dialect == "postgresql" else ""),
                of_attempt,
            )
        if row is None:
            return False
        merged: dict[str, str] = {} if replace else json.loads(row["last_values"] or "{}")
        merged.update(
            {
                str(k): (
                    seal_with(self.secrets, str(v), LAST_VALUES)
                    if is_secret_parameter(str(k)) and self.secrets is not None
                    else str(v)
                )
                for k, v in values.items()
            }
        )
        yield stmt.execute(
            "UPDATE devices SET last_values = $2, updated_at = $3 WHERE id = $1",
            row["id"],
            dumps(merged),
            float(now),
        )
        return True

    # -- provisioning attempts -------------------------------------------------------

    async def start_attempt(
        self,
        device: Device | DeviceIdentity,
        now: float,
        trace_id: str | None,
        *,
        supersede_before: float | None = None,
    ) -> int:
        identity = device.identity if isinstance(device, Device) else device
        try:
            return await self.db.run_transaction(
                _start_attempt(identity, now, trace_id, supersede_before)
            )
        except UniqueViolation:
            raise AttemptInProgress(
                f"device {identity.oui}/{identity.serial_number} already has a provisioning"
                " attempt in progress"
            ) from None

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
        if not result:
            raise ValueError("an attempt's result must be a non-empty string")
        details_text = _json_text(details, "attempt details")
        if state is None:
            state = (
                ProvisioningState.PROVISIONED
                if result == RESULT_SUCCESS
                else ProvisioningState.FAILED
            )
        failed = state is ProvisioningState.FAILED
        finished = await self.db.run_transaction(
            _finish_attempt(
                attempt_id,
                (float(now), result, failing_step, fault_code, fault_string, details_text),
                (
                    state.value,
                    failing_step if failed else None,
                    (failure_reason or fault_string or result) if failed else None,
                    parameter_key,
                    profile_version,
                    float(now),
                ),
                None
                if last_values is None
                else self._save_last_values("", "", last_values, now, of_attempt=attempt_id),
            )
        )
        if finished is None:
            raise AttemptNotFound(f"no provisioning attempt {attempt_id} in progress")
        return attempt_from_row(finished)

    async def get_attempt(self, attempt_id: int) -> ProvisioningAttempt | None:
        row = await self.db.fetchrow(f"{_ATTEMPTS_FROM} WHERE a.id = $1", attempt_id)
        return None if row is None else attempt_from_row(row)

    async def list_attempts(
        self,
        filters: AttemptFilter = AttemptFilter(),  # noqa: B008 - frozen, never mutated
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ProvisioningAttempt]:
        _check_page(limit, offset)
        await self._settle()
        where = _Where()
        where.add("d.oui = {}", filters.oui.upper() if filters.oui else None)
        where.add("d.serial_number = {}", filters.serial_number)
        where.add("a.result = {}", filters.result)
        where.add("a.failing_step = {}", filters.failing_step)
        where.add("d.model = {}", filters.model)
        where.add(
            "a.started_at >= {}",
            None if filters.started_from is None else float(filters.started_from),
        )
        where.add(
            "a.started_at < {}",
            None if filters.started_before is None else float(filters.started_before),
        )
        if filters.in_progress is not None:
            where.raw("a.result IS NULL" if filters.in_progress else "a.result IS NOT NULL")
        if filters.exclude_results:
            marks = ", ".join(where.next_placeholder(r) for r in filters.exclude_results)
            where.raw(f"(a.result IS NULL OR a.result NOT IN ({marks}))")
        sql = (
            f"{_ATTEMPTS_FROM}{where.sql} ORDER BY a.started_at DESC, a.id DESC"
            f" LIMIT {where.next_placeholder(limit)} OFFSET {where.next_placeholder(offset)}"
        )
        return [attempt_from_row(r) for r in await self.db.fetch(sql, *where.args)]

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
        if not step or not timeout_result:
            raise ValueError("a waiting attempt needs a step and a timeout result")
        stored = {**details, ON_TIMEOUT: {"result": timeout_result, "reason": timeout_reason}}
        row = await self.db.fetchrow(
            _WAIT_FOR_CPE,
            attempt_id,
            step,
            float(deadline),
            _json_text(stored, "attempt details"),
        )
        if row is None:
            raise AttemptNotFound(f"no provisioning attempt {attempt_id} in progress")

    async def _expire_overdue(self, tx: Executor, now: float) -> int:
        """Fail waiting attempts whose deadline passed, each with its own timeout result."""
        expired = 0
        for row in await tx.fetch(_OVERDUE, float(now)):
            on_timeout = json.loads(row["details"] or "{}").get(ON_TIMEOUT, {})
            result = str(on_timeout.get("result") or RESULT_EXPIRED)
            reason = str(on_timeout.get("reason") or "the CPE did not come back in time")
            step = row["waiting_step"]
            done = await tx.fetchrow(_EXPIRE_OVERDUE, row["id"], result, float(now), step, reason)
            if done is not None:
                await tx.execute(_DEVICE_OVERDUE, done["device_id"], step, reason, float(now))
                expired += 1
        return expired

    async def expire_stale_attempts(self, older_than: float, now: float) -> int:
        if older_than < 0:
            raise ValueError("older_than must not be negative")
        details = dumps({"expired_after_s": float(older_than)})
        reason = f"provisioning attempt expired after {older_than:g} s without a result"
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                _EXPIRE, float(now) - float(older_than), float(now), RESULT_EXPIRED, details
            )
            if rows:
                await tx.executemany(
                    _DEVICE_EXPIRED, [(r["device_id"], reason, float(now)) for r in rows]
                )
            overdue = await self._expire_overdue(tx, now)
        return len(rows) + overdue

    # -- profile documents -----------------------------------------------------------

    async def put_profile_document(
        self, name: str, document: Mapping[str, Any], version: str
    ) -> None:
        if not name:
            raise ValueError("a profile document needs a name")
        text = _json_text(document, "a profile document")
        try:
            await self.db.execute(
                _PUT_PROFILE, name, version, seal_with(self.secrets, text, PROFILE_DOCUMENT)
            )
        finally:
            self.profile_generation += 1

    async def get_profile_document(self, name: str) -> tuple[dict[str, Any], str] | None:
        row = await self.db.fetchrow(
            "SELECT document, version FROM profile_documents WHERE name = $1", name
        )
        if row is None:
            return None
        text = open_with(self.secrets, row["document"], PROFILE_DOCUMENT)
        return json.loads(text), row["version"]

    async def list_profile_documents(self) -> list[tuple[str, str]]:
        rows = await self.db.fetch("SELECT name, version FROM profile_documents ORDER BY name")
        return [(r["name"], r["version"]) for r in rows]

    async def delete_profile_document(self, name: str) -> bool:
        try:
            return await self.db.execute("DELETE FROM profile_documents WHERE name = $1", name) > 0
        finally:
            self.profile_generation += 1

    async def close(self) -> None:
        if self._informs is not None:
            await self._informs.close()
        await self.db.close()
