"""A small scripted ACS on 127.0.0.1 for the runner tests (not TraceACS's endpoint).

It answers Inform and TransferComplete, then hands out the RPCs of its script one per
POST, and records every request with the raw HTTP facts (cookie, chunking, peer port)
that the quirk tests check.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.faults import make_fault
from traceacs.cwmp.messages import (
    Envelope,
    Inform,
    InformResponse,
    Message,
    TransferComplete,
    TransferCompleteResponse,
)
from traceacs.simulator import digest


@dataclass
class Seen:
    envelope: Envelope | None
    raw: bytes
    cookie: str | None
    chunked: bool
    peer_port: int


@dataclass
class FakeAcs:
    script: list[Message] = field(default_factory=list)
    """RPCs handed out, in order, in the first session(s) that ask for work."""
    auth: str | None = None
    """None, "basic" or "digest"."""
    username: str = "cpe"
    password: str = "cpe-secret"
    inform_faults: int = 0
    """How many Informs to answer with fault 8005 first."""
    seen: list[Seen] = field(default_factory=list)
    informs: list[Inform] = field(default_factory=list)
    downloads: int = 0
    uploads: list[bytes] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _waiters: list[tuple[Callable[[Inform], bool], asyncio.Future[Inform]]] = field(
        default_factory=list
    )
    _nonce: str = field(default_factory=lambda: secrets.token_hex(8))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/acs", self._post)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_put("/upload/{name}", self._upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/acs"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def wait_for_inform(self, predicate: Callable[[Inform], bool]) -> asyncio.Future[Inform]:
        fut: asyncio.Future[Inform] = asyncio.get_running_loop().create_future()
        for inform in self.informs:
            if predicate(inform):
                fut.set_result(inform)
                return fut
        self._waiters.append((predicate, fut))
        return fut

    def base_url(self) -> str:
        return self.url.rsplit("/", 1)[0]

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.auth == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return header == f"Basic {token}"
        if self.auth == "digest":
            return digest.verify(header, "POST", self.username, self.password, self._nonce)
        return True

    async def _post(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            scheme = (
                'Basic realm="acs"'
                if self.auth == "basic"
                else digest.challenge("acs", self._nonce)
            )
            return web.Response(status=401, headers={"WWW-Authenticate": scheme})
        raw = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        env = parse_envelope(raw) if raw.strip() else None
        self.seen.append(
            Seen(
                env,
                raw,
                request.headers.get("Cookie"),
                request.headers.get("Transfer-Encoding", "").lower() == "chunked",
                peer[1] if peer else 0,
            )
        )
        if env is not None and isinstance(env.body, Inform):
            return self._inform(env, env.body)
        if env is not None and isinstance(env.body, TransferComplete):
            return self._reply(env, TransferCompleteResponse())
        if self.script:
            rpc = self.script.pop(0)
            return self._reply(env, rpc, cwmp_id="acs-rpc")
        return web.Response(status=204)

    def _inform(self, env: Envelope, inform: Inform) -> web.Response:
        self.informs.append(inform)
        if self.inform_faults > 0:
            self.inform_faults -= 1
            return self._reply(env, make_fault(8005))
        for predicate, fut in list(self._waiters):
            if not fut.done() and predicate(inform):
                fut.set_result(inform)
        resp = self._reply(env, InformResponse(max_envelopes=1))
        resp.set_cookie("session", secrets.token_hex(4), path="/")
        return resp

    def _reply(
        self, env: Envelope | None, body: Message, cwmp_id: str | None = None
    ) -> web.Response:
        namespace = env.namespace if env is not None else "urn:dslforum-org:cwmp-1-0"
        ident = cwmp_id or (env.cwmp_id if env is not None else None)
        data = serialize_envelope(Envelope(body=body, cwmp_id=ident, namespace=namespace))
        return web.Response(body=data, content_type="text/xml")

    async def _file(self, request: web.Request) -> web.Response:
        self.downloads += 1
        if request.match_info["name"] == "missing.bin":
            return web.Response(status=404)
        return web.Response(body=b"\0" * 4096)

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads.append(await request.read())
        return web.Response(status=201)
