# SQL text is assembled only from constants; values are always bound parameters.
"""Device tasks in SQL: the `TaskStore` of the task runner, the API and the CLI.

Shares the inventory's `Database` (``SqlTaskStore(repository.db)``); a task row points
at its device (deleted with it) and is returned with the device's OUI and serial.
Arguments and results are JSON text, as elsewhere, so both engines run the same SQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from traceacs.storage.database import Database, Row
from traceacs.storage.rows import dumps
from traceacs.storage.secret_box import SecretBox, open_with, seal_with
from traceacs.tasks.model import Task, TaskError, TaskStatus

_COLUMNS: Final = (
    "t.id, d.oui, d.serial_number, t.name, t.arguments, t.status, t.attempts,"
    " t.fault_code, t.fault_string, t.result, t.created_at, t.updated_at,"
    " t.next_attempt_at, t.trace_id, t.bulk_id"
)
_FROM: Final = "FROM tasks t JOIN devices d ON d.id = t.device_id"


def task_select() -> str:
    """``SELECT <task columns> FROM tasks t JOIN devices d``: add a WHERE."""
    return f"SELECT {_COLUMNS} {_FROM}"


TASK_ARGUMENTS: Final = "tasks.arguments"


def task_from_row(row: Row, secrets: SecretBox | None) -> Task:
    return Task(
        id=int(row["id"]),
        oui=row["oui"],
        serial_number=row["serial_number"],
        name=row["name"],
        arguments=json.loads(open_with(secrets, row["arguments"], TASK_ARGUMENTS)),
        status=TaskStatus(row["status"]),
        attempts=int(row["attempts"]),
        fault_code=None if row["fault_code"] is None else int(row["fault_code"]),
        fault_string=row["fault_string"],
        result=json.loads(row["result"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        next_attempt_at=float(row["next_attempt_at"]),
        trace_id=row["trace_id"],
        bulk_id=None if row["bulk_id"] is None else int(row["bulk_id"]),
    )


class SqlTaskStore:
    """`TaskStore` over a migrated `Database`.

    Arguments may carry values to set (a Wi-Fi key): they are sealed with ``secrets``
    (the repository's `SecretBox`, ``repository.secrets``) like every secret column.
    """

    def __init__(self, db: Database, secrets: SecretBox | None = None) -> None:
        self.db = db
        self.secrets = secrets

    async def add_task(
        self, oui: str, serial_number: str, name: str, arguments: Mapping[str, Any], now: float
    ) -> Task:
        async with self.db.transaction() as tx:
            device_id = await tx.fetchval(
                "SELECT id FROM devices WHERE oui = $1 AND serial_number = $2", oui, serial_number
            )
            if device_id is None:
                raise TaskError(f"no device {oui}-{serial_number} in the inventory")
            task_id = await tx.fetchval(
                "INSERT INTO tasks (device_id, name, arguments, status, attempts, created_at,"
                " updated_at, next_attempt_at) VALUES ($1, $2, $3, 'queued', 0, $4, $4, $4)"
                " RETURNING id",
                device_id,
                name,
                seal_with(self.secrets, dumps(arguments), TASK_ARGUMENTS),
                float(now),
            )
            row = await tx.fetchrow(f"SELECT {_COLUMNS} {_FROM} WHERE t.id = $1", task_id)
        assert row is not None
        return task_from_row(row, self.secrets)

    async def get_task(self, task_id: int) -> Task | None:
        row = await self.db.fetchrow(f"SELECT {_COLUMNS} {_FROM} WHERE t.id = $1", task_id)
        return None if row is None else task_from_row(row, self.secrets)

    async def device_tasks(self, oui: str, serial_number: str, *, limit: int = 100) -> list[Task]:
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} {_FROM} WHERE d.oui = $1 AND d.serial_number = $2"
            " ORDER BY t.id DESC LIMIT $3",
            oui,
            serial_number,
            limit,
        )
        return [task_from_row(r, self.secrets) for r in rows]

    async def due_tasks(self, oui: str, serial_number: str, now: float) -> list[Task]:
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} {_FROM} WHERE d.oui = $1 AND d.serial_number = $2"
            " AND t.status = 'queued' AND t.next_attempt_at <= $3 ORDER BY t.id",
            oui,
            serial_number,
            float(now),
        )
        return [task_from_row(r, self.secrets) for r in rows]

    async def save_task(self, task: Task) -> bool:
        changed = await self.db.execute(
            "UPDATE tasks SET status = $2, attempts = $3, fault_code = $4, fault_string = $5,"
            " result = $6, updated_at = $7, next_attempt_at = $8, trace_id = $9"
            " WHERE id = $1",
            task.id,
            task.status.value,
            task.attempts,
            task.fault_code,
            task.fault_string,
            dumps(task.result),
            float(task.updated_at),
            float(task.next_attempt_at),
            task.trace_id,
        )
        return changed > 0

    async def delete_task(self, task_id: int) -> bool:
        return await self.db.execute("DELETE FROM tasks WHERE id = $1", task_id) > 0
