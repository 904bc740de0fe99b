"""The API's aiohttp application: one table of routes with the access each needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aiohttp import web

from traceacs.server.api import (
    attempts,
    audit,
    bulk_tasks,
    devices,
    failures,
    inventory,
    openapi,
    presets,
    profiles,
    session,
    summary,
    tasks,
    timeseries,
    traces,
)
from traceacs.server.api.context import CONTEXT_KEY, ApiContext
from traceacs.server.api.middleware import (
    ROUTE_ACCESS_KEY,
    Access,
    Handler,
    auth_middleware,
    error_middleware,
)
from traceacs.server.console import add_console_routes
from traceacs.tasks.bulk_service import BulkTaskService
from traceacs.tasks.service import TaskService

MAX_BODY_BYTES: Final = 64 * 1024 * 1024  # an inventory CSV of a few hundred thousand rows

ROUTES: Final[tuple[tuple[str, str, Handler, Access], ...]] = (
    ("GET", "/api/openapi.json", openapi.serve_document, "public"),
    ("GET", "/api/devices", devices.list_devices, "read"),
    ("GET", "/api/devices/{serial}", devices.get_device, "read"),
    ("DELETE", "/api/devices/{serial}", devices.delete_device, "write"),
    ("POST", "/api/devices/{serial}/reprovision", devices.reprovision, "write"),
    ("GET", "/api/devices/{serial}/attempts", devices.device_attempts, "read"),
    ("GET", "/api/devices/{serial}/trace", traces.device_trace, "read"),
    ("GET", "/api/traces/{trace_id}", traces.get_trace, "read"),
    ("POST", "/api/inventory", inventory.import_inventory, "write"),
    ("GET", "/api/profiles", profiles.list_profiles, "read"),
    ("POST", "/api/profiles/import", profiles.import_profiles, "write"),
    ("GET", "/api/profiles/{name}", profiles.get_profile, "read"),
    ("PUT", "/api/profiles/{name}", profiles.put_profile, "write"),
    ("DELETE", "/api/profiles/{name}", profiles.delete_profile, "write"),
    ("GET", "/api/attempts", attempts.list_attempts, "read"),
    ("GET", "/api/attempts/{id}", attempts.get_attempt, "read"),
    ("GET", "/api/summary", summary.fleet_summary, "read"),
    ("GET", "/api/summary/timeseries", timeseries.timeseries, "read"),
    ("GET", "/api/summary/durations", timeseries.durations, "read"),
    ("GET", "/api/failures", failures.failure_groups, "read"),
    ("GET", "/api/failures/devices", failures.group_devices, "read"),
    ("GET", "/api/audit", audit.list_audit, "write"),
    ("GET", "/api/token", session.current_token, "read"),
    ("POST", "/api/devices/{serial}/tasks", tasks.add_task, "write"),
    ("GET", "/api/devices/{serial}/tasks", tasks.device_tasks, "read"),
    ("PUT", "/api/devices/{serial}/tags/{tag}", presets.add_tag, "write"),
    ("DELETE", "/api/devices/{serial}/tags/{tag}", presets.remove_tag, "write"),
    ("GET", "/api/presets", presets.list_presets, "read"),
    ("GET", "/api/presets/{name}", presets.get_preset, "read"),
    ("PUT", "/api/presets/{name}", presets.put_preset, "write"),
    ("DELETE", "/api/presets/{name}", presets.delete_preset, "write"),
    ("POST", "/api/tasks/bulk", bulk_tasks.start_bulk, "write"),
    ("GET", "/api/tasks/bulk/{id}", bulk_tasks.get_bulk, "read"),
    ("GET", "/api/tasks/{id}", tasks.get_task, "read"),
    ("DELETE", "/api/tasks/{id}", tasks.delete_task, "write"),
)


def make_api_application(
    context: ApiContext,
    *,
    task_service: TaskService | None = None,
    bulk_service: BulkTaskService | None = None,
    presets_changed: Callable[[], None] | None = None,
) -> web.Application:
    """``task_service``: the ACS's (shared rate limiter); by default one over the store.

    ``bulk_service``: the ACS's; by default one over the store, whose running jobs stop
    when the application is cleaned up. ``presets_changed``: told after a preset write
    (the ACS's preset applier reloads at once).
    """
    app = web.Application(
        middlewares=[error_middleware, auth_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[CONTEXT_KEY] = context
    if presets_changed is not None:
        app[presets.PRESETS_CHANGED_KEY] = presets_changed
    service = task_service or tasks.task_service_for(context)
    if service is not None:
        app[tasks.TASKS_KEY] = service
    bulk = bulk_service or bulk_tasks.bulk_service_for(context)
    if bulk is not None:
        app[bulk_tasks.BULK_KEY] = bulk
        if bulk_service is None:

            async def stop_bulk_jobs(_: web.Application) -> None:
                await bulk.close()

            app.on_cleanup.append(stop_bulk_jobs)
    access: dict[web.AbstractRoute, Access] = {}
    for method, path, handler, needed in ROUTES:
        access[app.router.add_route(method, path, handler)] = needed
    app[ROUTE_ACCESS_KEY] = access
    add_console_routes(app)  # the web console at / (public pages; data via the API)
    return app
