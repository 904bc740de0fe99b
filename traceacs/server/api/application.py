"""The API's aiohttp application: one table of routes with the access each needs."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from traceacs.server.api import (
    attempts,
    audit,
    devices,
    failures,
    inventory,
    openapi,
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
    ("GET", "/api/tasks/{id}", tasks.get_task, "read"),
    ("DELETE", "/api/tasks/{id}", tasks.delete_task, "write"),
)


def make_api_application(
    context: ApiContext, *, task_service: TaskService | None = None
) -> web.Application:
    """``task_service``: the ACS's (shared rate limiter); by default one over the store."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[CONTEXT_KEY] = context
    service = task_service or tasks.task_service_for(context)
    if service is not None:
        app[tasks.TASKS_KEY] = service
    access: dict[web.AbstractRoute, Access] = {}
    for method, path, handler, needed in ROUTES:
        access[app.router.add_route(method, path, handler)] = needed
    app[ROUTE_ACCESS_KEY] = access
    add_console_routes(app)  # the web console at / (public pages; data via the API)
    return app
