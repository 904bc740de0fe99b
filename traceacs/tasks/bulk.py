"""A bulk job: one task body for every device a search matched, released at a rate.

The job row records what was asked (task, filters, rate, whether to wake devices) and
how many devices matched; its tasks point back to it (``Task.bulk_id``), so progress
(queued / running / done / failed) is counted from the tasks themselves and stays true
whichever ACS process runs them. See `traceacs.tasks.pacing` for the rate rules and
`traceacs.tasks.bulk_service` for creating and driving a job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from traceacs.tasks.model import Task


@dataclass(frozen=True, slots=True)
class BulkProgress:
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0

    @property
    def finished(self) -> int:
        return self.done + self.failed


@dataclass(frozen=True, slots=True)
class BulkJob:
    id: int
    name: str
    arguments: Mapping[str, Any] = field(repr=False)
    filters: Mapping[str, str]
    rate: float
    connection_request: bool
    matched: int
    created_at: float
    starts_at: float
    progress: BulkProgress = BulkProgress()

    @property
    def ends_at(self) -> float:
        """When the last device's task is released."""
        return self.starts_at + max(0, self.matched - 1) / self.rate

    def to_json(self) -> dict[str, Any]:
        p = self.progress
        return {
            "id": self.id,
            "name": self.name,
            "arguments": dict(self.arguments),
            "filters": dict(self.filters),
            "rate": self.rate,
            "connection_request": self.connection_request,
            "matched": self.matched,
            "queued": p.queued,
            "running": p.running,
            "done": p.done,
            "failed": p.failed,
            "deleted": max(0, self.matched - p.queued - p.running - p.done - p.failed),
            "finished": p.queued == 0 and p.running == 0,
            "created_at": self.created_at,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
        }


@dataclass(frozen=True, slots=True)
class BulkRequest:
    """What an operator asks for (validated by `BulkTaskService.start`)."""

    name: str
    arguments: Mapping[str, Any]
    filters: Mapping[str, str]
    rate: float
    connection_request: bool


class BulkStore(Protocol):
    """Where jobs and their tasks are kept (`traceacs.storage.bulk_tasks.SqlBulkStore`)."""

    async def create_job(
        self,
        request: BulkRequest,
        devices: Sequence[tuple[str, str]],
        release_at: Sequence[float],
        now: float,
    ) -> BulkJob:
        """The job and one queued task per ``(oui, serial)``, due at its release time."""
        ...

    async def get_job(self, job_id: int) -> BulkJob | None: ...

    async def job_rate(self, job_id: int) -> float | None: ...

    async def due_tasks_of(self, job_id: int, now: float, *, limit: int) -> list[Task]:
        """The job's queued tasks already due (not yet picked up), by release order."""
        ...
