"""CPE-side connection-request listeners for the tests, each with one field behaviour.

`DigestCpe` is an aiohttp listener checking Digest with the ACS's own verifier (a
different implementation from the client under test). `RawCpe` speaks HTTP/1.1 by
hand on an asyncio stream server, so a test can make it drop the socket after the
401 or never answer, which an aiohttp server cannot be told to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field

from aiohttp import web

from traceacs.server.cpe_auth import AuthMode, CpeAuthenticator, StaticCredentialStore

USERNAME = "cpe-user"
PASSWORD = "s3cret-cr-pass"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class DigestCpe:
    """``GET /cr`` with auth; counts accepted requests."""

    mode: AuthMode = "digest"
    status_when_ok: int = 200
    accepted: int = 0
    requests: int = 0
    _runner: web.AppRunner | None = None
    url: str = ""
    auth: CpeAuthenticator = field(init=False)

    def __post_init__(self) -> None:
        store = StaticCredentialStore(per_device={USERNAME: PASSWORD})
        self.auth = CpeAuthenticator(store, mode=self.mode, realm="cpe")

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        outcome = await self.auth.authenticate(
            request.headers.get("Authorization"),
            method=request.method,
            request_uri=request.path_qs,
            now=time.time(),
        )
        if not outcome.accepted:
            response = web.Response(status=401)
            for challenge in outcome.challenges:
                response.headers.add("WWW-Authenticate", challenge)
            return response
        self.accepted += 1
        return web.Response(status=self.status_when_ok)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/cr", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/cr?x=1"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class RawCpe:
    """A hand-written HTTP/1.1 listener.

    ``behaviour``:
    - ``"drop_after_401"``: answer the bare GET with a 401 and close the socket when
      the first ``drops`` authenticated GETs arrive, unanswered. With
      ``close_after_401`` the 401 says ``Connection: close`` and the socket is closed,
      so each authenticated GET comes on a fresh connection.
    - ``"hang_after_credentials"``: 401 to the bare GET, no answer to the
      authenticated one (as a CPE that starts its session first).
    - ``"hang"``: never answer anything.
    - ``"503"``: answer 503 with ``retry_after``.
    """

    behaviour: str
    retry_after: str = "120"
    drops: int = 1
    close_after_401: bool = False
    connections: int = 0
    authorized_seen: int = 0
    accepted: int = 0
    got_credentials: asyncio.Event = field(default_factory=asyncio.Event)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    url: str = ""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        store = StaticCredentialStore(per_device={USERNAME: PASSWORD})
        self.auth = CpeAuthenticator(store, mode="digest", realm="raw")

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/cr/SN1"
        return self.url

    async def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]] | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        return target, headers

    @staticmethod
    def _write(
        writer: asyncio.StreamWriter, status: str, headers: dict[str, str], *, close: bool = False
    ) -> None:
        lines = [f"HTTP/1.1 {status}", "Content-Length: 0"]
        lines.append("Connection: close" if close else "Connection: keep-alive")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                target, headers = request
                authorization = headers.get("authorization")
                if self.behaviour == "503":
                    self._write(
                        writer, "503 Service Unavailable", {"Retry-After": self.retry_after}
                    )
                    continue
                if self.behaviour == "hang":
                    await self._release.wait()
                    return
                if authorization is None:
                    challenge = self.auth.digest.challenge(time.time())
                    self._write(
                        writer,
                        "401 Unauthorized",
                        {"WWW-Authenticate": challenge},
                        close=self.close_after_401,
                    )
                    await writer.drain()
                    if self.close_after_401:
                        return
                    continue
                self.authorized_seen += 1
                self.got_credentials.set()
                if self.behaviour == "drop_after_401" and self.authorized_seen <= self.drops:
                    return  # close without answering
                if self.behaviour == "hang_after_credentials":
                    await self._release.wait()
                    return
                outcome = await self.auth.authenticate(
                    authorization, method="GET", request_uri=target, now=time.time()
                )
                if outcome.accepted:
                    self.accepted += 1
                    self._write(writer, "200 OK", {})
                else:
                    self._write(
                        writer, "401 Unauthorized", {"WWW-Authenticate": outcome.challenges[0]}
                    )
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
