"""The API's aiohttp application: one table of routes with the access each needs."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from traceacs.server.api import attempts, audit, devices, inventory, openapi, profiles, summary
from traceacs.server.api.context import CONTEXT_KEY, ApiContext
from traceacs.server.api.middleware import (
    ROUTE_ACCESS_KEY,
    Access,
    Handler,
    auth_middleware,
    error_middleware,
)

MAX_BODY_BYTES: Final = 64 * 1024 * 1024  # an inventory CSV of a few hundred thousand rows

ROUTES: Final[tuple[tuple[str, str, Handler, Access], ...]] = (
    ("GET", "/api/openapi.json", openapi.serve_document, "public"),
    ("GET", "/api/devices", devices.list_devices, "read"),
    ("GET", "/api/devices/{serial}", devices.get_device, "read"),
    ("DELETE", "/api/devices/{serial}", devices.delete_device, "write"),
    ("POST", "/api/devices/{serial}/reprovision", devices.reprovision, "write"),
    ("GET", "/api/devices/{serial}/attempts", devices.device_attempts, "read"),
    ("POST", "/api/inventory", inventory.import_inventory, "write"),
    ("GET", "/api/profiles", profiles.list_profiles, "read"),
    ("POST", "/api/profiles/import", profiles.import_profiles, "write"),
    ("GET", "/api/profiles/{name}", profiles.get_profile, "read"),
    ("PUT", "/api/profiles/{name}", profiles.put_profile, "write"),
    ("DELETE", "/api/profiles/{name}", profiles.delete_profile, "write"),
    ("GET", "/api/attempts", attempts.list_attempts, "read"),
    ("GET", "/api/attempts/{id}", attempts.get_attempt, "read"),
    ("GET", "/api/summary", summary.fleet_summary, "read"),
    ("GET", "/api/audit", audit.list_audit, "write"),
)


def make_api_application(context: ApiContext) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, auth_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[CONTEXT_KEY] = context
    access: dict[web.AbstractRoute, Access] = {}
    for method, path, handler, needed in ROUTES:
        access[app.router.add_route(method, path, handler)] = needed
    app[ROUTE_ACCESS_KEY] = access
    return app
