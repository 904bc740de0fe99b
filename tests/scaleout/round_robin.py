"""A round-robin HTTP balancer in the test's process: each POST to the next backend.

No stickiness and a fresh upstream request per POST, like nginx's default upstream
without ``ip_hash``/``hash``: consecutive POSTs of one CWMP session land on different
ACS processes. It records, per request, which backend answered and the session cookie
the CPE sent, so tests can prove that sessions crossed processes. GETs (a CPE fetching
a Download's file) go to the processes' file ports in turn, path and query kept, as
nginx's ``location /files/``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import hdrs, web
from yarl import URL

from traceacs.server.cwmp_sessions import COOKIE_NAME

_FORWARDED = (hdrs.CONTENT_TYPE, hdrs.AUTHORIZATION, hdrs.COOKIE, "SOAPAction")
_RETURNED = (hdrs.CONTENT_TYPE, hdrs.SET_COOKIE, hdrs.WWW_AUTHENTICATE, hdrs.RETRY_AFTER)


@dataclass
class Balancer:
    backends: list[str]
    url: str = ""
    origin: str = ""
    """``http://host:port``: where CPEs fetch files (the public URL of the ACS)."""
    served: list[tuple[int, str | None]] = field(default_factory=list)
    """(backend index, session cookie or None) per POST, in arrival order."""
    fetched: list[tuple[int, int]] = field(default_factory=list)
    """(backend index, HTTP status) per GET, in arrival order."""

    def backends_of(self, cookie: str) -> set[int]:
        return {index for index, seen in self.served if seen == cookie}

    def cookies(self) -> set[str]:
        return {cookie for _, cookie in self.served if cookie}


def _cookie(request: web.Request) -> str | None:
    morsel = request.cookies.get(COOKIE_NAME)
    return morsel or None


@contextlib.asynccontextmanager
async def round_robin(
    backends: list[str], *, pooled: int = 0, file_backends: list[str] | None = None
) -> AsyncIterator[Balancer]:
    """``pooled`` > 0: that many keep-alive connections per backend, shared by all CPEs
    (as nginx's ``keepalive``); 0: a new upstream connection per POST. GETs go to
    ``file_backends`` (``http://host:port`` of each process's file port)."""
    balancer = Balancer(backends)
    turn = itertools.cycle(range(len(backends)))
    file_turn = itertools.cycle(range(len(file_backends or [])))
    connector = (
        aiohttp.TCPConnector(limit_per_host=pooled)
        if pooled
        else aiohttp.TCPConnector(force_close=True)
    )
    async with aiohttp.ClientSession(connector=connector) as client:

        async def forward(request: web.Request) -> web.Response:
            index = next(turn)
            body = await request.read()
            headers = {k: request.headers[k] for k in _FORWARDED if k in request.headers}
            balancer.served.append((index, _cookie(request)))
            async with client.post(backends[index], data=body, headers=headers) as answer:
                payload = await answer.read()
                response = web.Response(status=answer.status, body=payload)
                for name in _RETURNED:
                    for value in answer.headers.getall(name, []):
                        response.headers.add(name, value)
                return response

        async def fetch(request: web.Request) -> web.Response:
            if not file_backends:
                return web.Response(status=404)
            index = next(file_turn)
            target = URL(file_backends[index]).join(URL(request.path_qs, encoded=True))
            async with client.get(target) as answer:
                payload = await answer.read()
                balancer.fetched.append((index, answer.status))
                return web.Response(
                    status=answer.status, body=payload, content_type=answer.content_type
                )

        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", forward)
        app.router.add_get("/{tail:.*}", fetch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        balancer.origin = f"http://{host}:{port}"
        balancer.url = f"{balancer.origin}/acs"
        try:
            yield balancer
        finally:
            await runner.cleanup()
