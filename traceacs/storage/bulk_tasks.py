# SQL text is assembled only from constants; values are always bound parameters.
"""Bulk jobs in SQL: the job row and its tasks, written in one transaction.

The tasks are ordinary rows of ``tasks`` (run by the same session runner) with
``bulk_id`` set and ``next_attempt_at`` = their release time. Progress is a ``GROUP
BY status`` over the job's tasks (index ``tasks_bulk_status``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from traceacs.storage.database import Database, Row
from traceacs.storage.rows import dumps
from traceacs.storage.secret_box import SecretBox, open_with, seal_with
from traceacs.storage.tasks import TASK_ARGUMENTS, SqlTaskStore, task_from_row, task_select
from traceacs.tasks.bulk import BulkJob, BulkProgress, BulkRequest
from traceacs.tasks.model import Task, TaskError

_SELECT_JOB: Final = (
    "SELECT id, name, arguments, filters, rate, connection_request, matched, created_at,"
    " starts_at FROM bulk_jobs WHERE id = $1"
)


BULK_ARGUMENTS: Final = "bulk_jobs.arguments"
"""A job's task arguments are sealed like each task's (they may carry a password)."""


def _job(row: Row, progress: BulkProgress, secrets: SecretBox | None) -> BulkJob:
    return BulkJob(
        id=int(row["id"]),
        name=row["name"],
        arguments=json.loads(open_with(secrets, row["arguments"], BULK_ARGUMENTS)),
        filters=json.loads(row["filters"]),
        rate=float(row["rate"]),
        connection_request=bool(row["connection_request"]),
        matched=int(row["matched"]),
        created_at=float(row["created_at"]),
        starts_at=float(row["starts_at"]),
        progress=progress,
    )


class SqlBulkStore:
    """`BulkStore` over a migrated `Database`."""

    def __init__(self, db: Database, secrets: SecretBox | None = None) -> None:
        self.db = db
        self.secrets = secrets
        self.tasks = SqlTaskStore(db, secrets)

    async def create_job(
        self,
        request: BulkRequest,
        devices: Sequence[tuple[str, str]],
        release_at: Sequence[float],
        now: float,
    ) -> BulkJob:
        if len(devices) != len(release_at):
            raise TaskError("one release time per device")
        starts_at = release_at[0] if release_at else now
        async with self.db.transaction() as tx:
            job_id = await tx.fetchval(
                "INSERT INTO bulk_jobs (name, arguments, filters, rate, connection_request,"
                " matched, created_at, starts_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " RETURNING id",
                request.name,
                seal_with(self.secrets, dumps(request.arguments), BULK_ARGUMENTS),
                dumps(request.filters),
                float(request.rate),
                1 if request.connection_request else 0,
                len(devices),
                float(now),
                float(starts_at),
            )
            arguments = seal_with(self.secrets, dumps(request.arguments), TASK_ARGUMENTS)
            await tx.executemany(
                "INSERT INTO tasks (device_id, name, arguments, status, attempts, created_at,"
                " updated_at, next_attempt_at, bulk_id)"
                " SELECT id, $3, $4, 'queued', 0, $5, $5, $6, $7 FROM devices"
                " WHERE oui = $1 AND serial_number = $2",
                [
                    (oui, serial, request.name, arguments, float(now), float(at), job_id)
                    for (oui, serial), at in zip(devices, release_at, strict=True)
                ],
            )
            row = await tx.fetchrow(_SELECT_JOB, job_id)
        assert row is not None
        return _job(row, BulkProgress(queued=len(devices)), self.secrets)

    async def get_job(self, job_id: int) -> BulkJob | None:
        row = await self.db.fetchrow(_SELECT_JOB, job_id)
        if row is None:
            return None
        counts = {
            r["status"]: int(r["n"])
            for r in await self.db.fetch(
                "SELECT status, count(*) AS n FROM tasks WHERE bulk_id = $1 GROUP BY status",
                job_id,
            )
        }
        return _job(
            row,
            BulkProgress(
                queued=counts.get("queued", 0),
                running=counts.get("running", 0),
                done=counts.get("done", 0),
                failed=counts.get("failed", 0),
            ),
            self.secrets,
        )

    async def job_rate(self, job_id: int) -> float | None:
        rate = await self.db.fetchval("SELECT rate FROM bulk_jobs WHERE id = $1", job_id)
        return None if rate is None else float(rate)

    async def due_tasks_of(self, job_id: int, now: float, *, limit: int) -> list[Task]:
        rows = await self.db.fetch(
            f"{task_select()} WHERE t.bulk_id = $1 AND t.status = 'queued'"
            " AND t.next_attempt_at <= $2 ORDER BY t.next_attempt_at, t.id LIMIT $3",
            job_id,
            float(now),
            limit,
        )
        return [task_from_row(r, self.secrets) for r in rows]
