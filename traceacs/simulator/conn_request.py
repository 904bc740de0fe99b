"""The fleet's connection-request listener: ``GET /cr/<serial>`` with Digest auth.

One aiohttp listener on 127.0.0.1 serves the whole fleet; the path names the CPE. The
credentials are each CPE's ``ManagementServer.ConnectionRequestUsername/Password``
(what the ACS reads or sets), so an ACS that changes them is checked against the new
values. A valid request wakes the CPE, which opens a "6 CONNECTION REQUEST" session.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping

from aiohttp import web

from traceacs.simulator import digest
from traceacs.simulator.cpe import SimulatedCpe

REALM = "TraceACS simulated CPE"
_MAX_NONCES = 10_000


class ConnectionRequestListener:
    def __init__(
        self, cpes: Mapping[str, SimulatedCpe], on_request: Callable[[SimulatedCpe], None]
    ) -> None:
        self._cpes = cpes
        self._on_request = on_request
        self._nonces: OrderedDict[str, None] = OrderedDict()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start listening; the base URL (``http://127.0.0.1:PORT/cr``)."""
        app = web.Application()
        app.router.add_get("/cr/{serial}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        return f"http://{host}:{self.port}/cr"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _challenge(self) -> web.Response:
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = None
        while len(self._nonces) > _MAX_NONCES:
            self._nonces.popitem(last=False)
        return web.Response(
            status=401, headers={"WWW-Authenticate": digest.challenge(REALM, nonce)}
        )

    async def _handle(self, request: web.Request) -> web.Response:
        cpe = self._cpes.get(request.match_info["serial"])
        if cpe is None:
            return web.Response(status=404)
        header = request.headers.get("Authorization", "")
        nonce = digest.parse_header(header).get("nonce", "") if header else ""
        if nonce not in self._nonces:
            return self._challenge()
        root = cpe.root
        username = str(cpe.value(root + "ManagementServer.ConnectionRequestUsername"))
        password = str(cpe.value(root + "ManagementServer.ConnectionRequestPassword"))
        if not digest.verify(header, "GET", username, password, nonce):
            return self._challenge()
        del self._nonces[nonce]
        self._on_request(cpe)
        return web.Response(status=200)
