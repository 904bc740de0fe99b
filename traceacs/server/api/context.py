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
from traceacs.provisioning.repository import DeviceRepository
from traceacs.storage.fleet_stats import FleetStats


class FleetStatsSource(Protocol):
    """The port of the fleet summary (`traceacs.storage.fleet_stats.SqlFleetStats`)."""

    async def fleet_stats(self, since: float, until: float) -> FleetStats: ...


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


CONTEXT_KEY = web.AppKey("api_context", ApiContext)


def context_of(request: web.Request) -> ApiContext:
    return request.app[CONTEXT_KEY]
