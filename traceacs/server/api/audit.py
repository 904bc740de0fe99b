"""``GET /api/audit``: who wrote what, newest first (write tokens only: it names tokens)."""

from __future__ import annotations

from aiohttp import web

from traceacs.server.api import params
from traceacs.server.api.context import context_of
from traceacs.server.api.views import audit_view


async def list_audit(request: web.Request) -> web.Response:
    limit, offset = params.page(request)
    raw_token = request.query.get("token_id")
    token_id = None
    if raw_token:
        token_id = params.integer(request, "token_id", 0, 1, 2**62)
    entries = await context_of(request).audit.list_audit(
        token_id=token_id, limit=limit, offset=offset
    )
    return web.json_response(
        {"items": [audit_view(e) for e in entries], "limit": limit, "offset": offset}
    )
