"""Builds the task side of a running ACS (called by `traceacs.assembly.open_acs`).

One place decides how the runner, the store, the file URLs, the API's service and the
in-process signal fit together, so the assembly only adds a line.
"""

from __future__ import annotations

from dataclasses import dataclass

from traceacs.files.store import FileStore
from traceacs.files.tokens import FileAccessTokens
from traceacs.presets.applier import PresetApplier
from traceacs.provisioning.repository import DeviceRepository
from traceacs.provisioning.session_handler import SessionHandlerFactory
from traceacs.provisioning.telemetry_port import ProvisioningTelemetry
from traceacs.server.connection_request import ConnectionRequestRateLimiter
from traceacs.storage.bulk_tasks import SqlBulkStore
from traceacs.storage.database import Database
from traceacs.storage.presets import SqlPresetStore
from traceacs.storage.secret_box import SecretBox
from traceacs.storage.tags import SqlTagStore
from traceacs.storage.tasks import SqlTaskStore
from traceacs.tasks.bulk_service import BulkTaskService
from traceacs.tasks.composite import CompositeHandlerFactory
from traceacs.tasks.dispatch_gate import PacedDispatchGate
from traceacs.tasks.runner import TaskHandlerFactory
from traceacs.tasks.service import TaskService, TaskSignal
from traceacs.tasks.transfer_urls import FileStoreUrls, PublicUrl
from traceacs.tasks.wake_trace import ConnectionRequestTraces


@dataclass(frozen=True, slots=True)
class TaskWiring:
    factory: CompositeHandlerFactory
    """Provisioning then tasks: the factory the CWMP endpoint is given."""
    service: TaskService
    """For the API (`make_api_application(..., task_service=)`) and bulk operations."""
    bulk: BulkTaskService | None
    """Bulk jobs (None without the device repository); its rate gate is in ``factory``."""
    presets: PresetApplier
    """Applies presets in sessions; ``invalidate`` it after a preset write."""
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
    public_url: str | PublicUrl | None,
    repository: DeviceRepository | None = None,
    secrets: SecretBox | None = None,
    quiet_sessions: bool = False,
) -> TaskWiring:
    """``public_url`` may be a `PublicUrl` already shared with provisioning (firmware);
    ``quiet_sessions``: serve quiet periodic sessions the quiet way (`QuietFirstSession`,
    resumable by another process where sessions are shared)."""
    store = SqlTaskStore(db, secrets)
    bulk_store = SqlBulkStore(db, secrets)
    signal = TaskSignal()
    base = public_url if isinstance(public_url, PublicUrl) else PublicUrl(public_url)
    tasks = TaskHandlerFactory(
        store,
        telemetry=telemetry,
        urls=FileStoreUrls(files, file_tokens, base),
        listener=signal,
        gate=PacedDispatchGate(bulk_store),
    )
    wakes = ConnectionRequestTraces()
    presets = PresetApplier(SqlPresetStore(db, secrets), SqlTagStore(db), store)
    service = TaskService(store, limiter=limiter, signal=signal, telemetry=telemetry, wakes=wakes)
    return TaskWiring(
        factory=CompositeHandlerFactory(
            provisioning, tasks, wakes, presets, quiet_sessions=quiet_sessions
        ),
        service=service,
        bulk=None if repository is None else BulkTaskService(bulk_store, repository, service),
        presets=presets,
        public_url=base,
    )
