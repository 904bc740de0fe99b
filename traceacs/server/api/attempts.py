"""``/api/attempts``: provisioning attempts across the fleet, newest first."""

from __future__ import annotations

from aiohttp import web

from traceacs.provisioning.repository import AttemptFilter
from traceacs.server.api import params
from traceacs.server.api.context import context_of
from traceacs.server.api.errors import bad_request, not_found
from traceacs.server.api.views import attempt_view


async def list_attempts(request: web.Request) -> web.Response:
    started_from = params.timestamp(request, "from")
    started_before = params.timestamp(request, "to")
    if started_from is not None and started_before is not None and started_from > started_before:
        raise bad_request("from must not be after to")
    state = params.choice(request, "state", ("in_progress", "finished"))
    filters = AttemptFilter(
        oui=params.text(request, "oui"),
        serial_number=params.text(request, "serial"),
        result=params.text(request, "result"),
        failing_step=params.text(request, "step"),
        model=params.text(request, "model"),
        started_from=started_from,
        started_before=started_before,
        in_progress=None if state is None else state == "in_progress",
    )
    limit, offset = params.page(request)
    attempts = await context_of(request).repository.list_attempts(
        filters, limit=limit, offset=offset
    )
    return web.json_response(
        {"items": [attempt_view(a) for a in attempts], "limit": limit, "offset": offset}
    )


async def get_attempt(request: web.Request) -> web.Response:
    """One attempt, with the trace id to look it up in the tracing backend."""
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise bad_request("an attempt id is a positive integer")
    attempt = await context_of(request).repository.get_attempt(int(raw))
    if attempt is None:
        raise not_found(f"no attempt {raw}")
    return web.json_response(attempt_view(attempt))
