"""``GET /api/token``: the token this request carries (id, name, role; never the token).

A client (the console) asks once after sign-in which role it holds, so it can offer
writes only to write tokens and explain to a read token why they are disabled,
instead of letting the operator click and meet a 403.
"""

from __future__ import annotations

from aiohttp import web

from traceacs.server.api.middleware import TOKEN_KEY
from traceacs.server.api.views import token_view


async def current_token(request: web.Request) -> web.Response:
    return web.json_response(token_view(request[TOKEN_KEY]))
