"""Builds the task side of a running ACS (called by `traceacs.assembly.open_acs`).

One place decides how the runner, the store, the file URLs, the API's service and the
in-process signal fit together, so the assembly only adds a line.
"""

from __future__ import annotations

from dataclasses import dataclass

from traceacs.files.store import FileStore
from traceacs.files.tokens import FileAccessTokens
from traceacs.provisioning.session_handler import SessionHandlerFactory
from traceacs.provisioning.telemetry_port import ProvisioningTelemetry
from traceacs.server.connection_request import ConnectionRequestRateLimiter
from traceacs.storage.database import Database
from traceacs.storage.secret_box import SecretBox
from traceacs.storage.tasks import SqlTaskStore
from traceacs.tasks.composite import CompositeHandlerFactory
from traceacs.tasks.runner import TaskHandlerFactory
from traceacs.tasks.service import TaskService, TaskSignal
from traceacs.tasks.transfer_urls import FileStoreUrls, PublicUrl


@dataclass(frozen=True, slots=True)
class TaskWiring:
    factory: CompositeHandlerFactory
    """Provisioning then tasks: the factory the CWMP endpoint is given."""
    service: TaskService
    """For the API (`make_api_application(..., task_service=)`) and bulk operations."""
    public_url: PublicUrl
    """Set it to the CWMP URL once listening when ``--public-url`` was not given."""


def build_task_wiring(
    db: Database,
    provisioning: SessionHandlerFactory,
    *,
    telemetry: ProvisioningTelemetry | None,
    files: FileStore,
    file_tokens: FileAccessTokens,
    limiter: ConnectionRequestRateLimiter,
    public_url: str | None,
    secrets: SecretBox | None = None,
) -> TaskWiring:
    store = SqlTaskStore(db, secrets)
    signal = TaskSignal()
    base = PublicUrl(public_url)
    tasks = TaskHandlerFactory(
        store,
        telemetry=telemetry,
        urls=FileStoreUrls(files, file_tokens, base),
        listener=signal,
    )
    return TaskWiring(
        factory=CompositeHandlerFactory(provisioning, tasks),
        service=TaskService(store, limiter=limiter, signal=signal),
        public_url=base,
    )
