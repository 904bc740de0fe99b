"""``POST /api/inventory``: import devices from a CSV or JSON upload, all or nothing.

Parsing and validation are shared with ``traceacs devices import``
(`traceacs.commands.inventory_file`), so a file the CLI refuses is refused here with
the same problems: every bad row, where it is (``line 4`` / ``[3]``) and which field,
never the values themselves.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from traceacs.commands.inventory_file import InventoryFileError, parse_inventory
from traceacs.provisioning.repository import ImportRejected
from traceacs.server.api import params
from traceacs.server.api.context import context_of
from traceacs.server.api.errors import ApiError, bad_request
from traceacs.server.api.middleware import set_audit_target

CSV_TYPES: Final = frozenset({"text/csv", "application/csv"})


async def import_inventory(request: web.Request) -> web.Response:
    kind = params.media_type(request)
    if kind in CSV_TYPES:
        fmt = "csv"
    elif kind == "application/json":
        fmt = "json"
    else:
        raise ApiError(415, "send the inventory as text/csv or application/json")
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("the body is not UTF-8") from None
    try:
        entries = parse_inventory(text, "csv" if fmt == "csv" else "json", source="upload")
    except InventoryFileError as exc:
        count = f"{len(exc.problems)}{'+' if exc.truncated else ''}"
        raise bad_request(
            f"nothing imported: {count} problem(s)",
            rows=[{"where": p.where, "field": p.field, "message": p.message} for p in exc.problems],
        ) from None
    set_audit_target(request, f"{len(entries)} devices")
    context = context_of(request)
    try:
        result = await context.repository.import_devices(entries, context.clock())
    except ImportRejected as exc:  # validated above; a guard for rules added later
        raise bad_request(f"nothing imported: {exc}") from None
    return web.json_response(
        {"created": result.created, "updated": result.updated, "total": result.total}
    )
