"""The port through which tasks are kept (`traceacs.storage.tasks.SqlTaskStore`).

The session runner, the API and the CLI all go through it, so a task queued by one ACS
process runs in a session served by another. ``save`` writes a task's state back; it
returns False when the task was deleted meanwhile (the runner then drops it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from traceacs.tasks.model import Task


class TaskStore(Protocol):
    async def add_task(
        self, oui: str, serial_number: str, name: str, arguments: Mapping[str, Any], now: float
    ) -> Task: ...

    async def get_task(self, task_id: int) -> Task | None: ...

    async def device_tasks(self, oui: str, serial_number: str, *, limit: int = 100) -> list[Task]:
        """The device's tasks, newest first."""
        ...

    async def due_tasks(self, oui: str, serial_number: str, now: float) -> list[Task]:
        """Queued tasks whose backoff is over, oldest first (the order they run in)."""
        ...

    async def save_task(self, task: Task) -> bool: ...

    async def delete_task(self, task_id: int) -> bool: ...
