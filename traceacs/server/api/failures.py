"""``/api/failures``: failed devices grouped by why they failed, and each group's devices.

A group is the result, failing step, model and fault code of a failed device's last
finished attempt. ``/api/failures/devices`` lists one group's devices; a group field
that is null is named in ``missing=`` (e.g. ``missing=fault_code``) so that "no fault
code" is never confused with "any fault code".
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from traceacs.server.api import params
from traceacs.server.api.context import FleetHistorySource, context_of
from traceacs.server.api.errors import ApiError, bad_request
from traceacs.server.api.views import device_view
from traceacs.storage.fleet_history import GroupKey

GROUP_FIELDS: Final = ("result", "step", "model", "fault_code")
MAX_GROUPS: Final = 500


def _source(request: web.Request) -> FleetHistorySource:
    source = context_of(request).history
    if source is None:
        raise ApiError(503, "fleet history is not available on this server")
    return source


async def failure_groups(request: web.Request) -> web.Response:
    limit = params.integer(request, "limit", 100, 1, MAX_GROUPS)
    groups = await _source(request).failure_groups(limit)
    return web.json_response(
        {
            "items": [
                {
                    "result": g.result,
                    "step": g.step,
                    "model": g.model,
                    "fault_code": g.fault_code,
                    "count": g.count,
                }
                for g in groups
            ],
            "total_devices": sum(g.count for g in groups),
        }
    )


def _group_key(request: web.Request) -> GroupKey:
    missing = set(filter(None, (params.text(request, "missing") or "").split(",")))
    unknown = missing - set(GROUP_FIELDS)
    if unknown:
        raise bad_request(f"missing may only name {', '.join(GROUP_FIELDS)}")
    values: dict[str, str | None] = {}
    for name in GROUP_FIELDS:
        value = params.text(request, name)
        if (value is None) == (name not in missing):
            raise bad_request(f"give {name}, or name it in missing= when it is null")
        values[name] = value
    code = values["fault_code"]
    if code is not None and not (code.lstrip("-").isdigit() and len(code) < 12):
        raise bad_request("fault_code must be an integer")
    return GroupKey(
        result=values["result"],
        step=values["step"],
        model=values["model"],
        fault_code=None if code is None else int(code),
    )


async def group_devices(request: web.Request) -> web.Response:
    key = _group_key(request)
    limit, offset = params.page(request)
    devices = await _source(request).group_devices(key, limit=limit, offset=offset)
    return web.json_response(
        {"items": [device_view(d) for d in devices], "limit": limit, "offset": offset}
    )
