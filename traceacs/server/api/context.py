"""What the API handlers work with, injected once by the app (no globals).

``active_sessions`` and ``capacity`` are providers so the fleet summary reads live
numbers from whatever owns them (the CWMP endpoint's registry, the settings); when the
app does not provide them, the summary reports ``null``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from traceacs.auth.audit import AuditLog
from traceacs.auth.tokens import TokenStore
from traceacs.profiles.embedded import ProfileDocumentStore
from traceacs.provisioning.device import Device
from traceacs.provisioning.repository import DeviceRepository
from traceacs.storage.fleet_history import DurationBucket, FailureGroup, GroupKey, TimeBucket
from traceacs.storage.fleet_stats import FleetStats
from traceacs.storage.trace_records import StoredTrace


class FleetStatsSource(Protocol):
    """The port of the fleet summary (`traceacs.storage.fleet_stats.SqlFleetStats`)."""

    async def fleet_stats(self, since: float, until: float) -> FleetStats: ...


class FleetHistorySource(Protocol):
    """The console's aggregates (`traceacs.storage.fleet_history.SqlFleetHistory`)."""

    async def timeseries(self, since: float, until: float, bucket_s: int) -> list[TimeBucket]: ...

    async def duration_histogram(self, since: float, until: float) -> list[DurationBucket]: ...

    async def failure_groups(self, limit: int = ...) -> list[FailureGroup]: ...

    async def group_devices(self, key: GroupKey, *, limit: int, offset: int) -> list[Device]: ...


class TraceReader(Protocol):
    """The embedded trace store's read side (`traceacs.storage.traces.SqlTraceStore`)."""

    async def latest(self, serial_number: str, oui: str | None = None) -> StoredTrace | None: ...

    async def get(self, trace_id: str) -> StoredTrace | None: ...

    async def ouis_of(self, serial_number: str, *, limit: int = 2) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class ApiContext:
    repository: DeviceRepository
    tokens: TokenStore
    audit: AuditLog
    stats: FleetStatsSource
    profiles: ProfileDocumentStore
    clock: Callable[[], float] = time.time
    active_sessions: Callable[[], int] | None = None
    capacity: Callable[[], int] | None = None
    traces: TraceReader | None = None  # None: no embedded trace store (503)
    history: FleetHistorySource | None = None  # None: no console aggregates (503)


CONTEXT_KEY = web.AppKey("api_context", ApiContext)


def context_of(request: web.Request) -> ApiContext:
    return request.app[CONTEXT_KEY]
