"""Device tasks: operator requests (get/set values, reboot, download, ...) run in the
device's CWMP sessions, traced like provisioning (see `model`, `runner`, `composite`)."""

from traceacs.tasks.composite import CompositeHandlerFactory, CompositeSessionHandler
from traceacs.tasks.model import (
    TASK_NAMES,
    Task,
    TaskError,
    TaskRetryPolicy,
    TaskStatus,
    validate_task,
)
from traceacs.tasks.runner import TaskHandlerFactory, TaskSession, TransferUrls
from traceacs.tasks.store import TaskStore

__all__ = [
    "TASK_NAMES",
    "CompositeHandlerFactory",
    "CompositeSessionHandler",
    "Task",
    "TaskError",
    "TaskHandlerFactory",
    "TaskRetryPolicy",
    "TaskSession",
    "TaskStatus",
    "TaskStore",
    "TransferUrls",
    "validate_task",
]
