"""A real BSS HTTP server on 127.0.0.1 whose behaviour each test scripts.

Modes: ``healthy`` (a valid profile), ``slow`` (waits on ``release`` before answering,
so a client timeout is exercised without a long sleep), ``status:NNN``, ``html``,
``invalid_json``, ``json_list``, ``invalid_profile``, ``huge``, ``redirect``.
``script`` is consumed one mode per request; ``mode`` applies afterwards.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

from aiohttp import web

PROFILE: dict[str, Any] = {
    "name": "fiber-100",
    "version": "9",
    "services": ["internet", "voip"],
    "wifi": {"ssid": "Home", "passphrase": "bss-wifi-key-123", "bands": ["5GHz"]},
    "vlans": {"internet": 100, "voip": 200},
    "voip_lines": [
        {"registrar": "sip.example", "proxy": "", "user": "1001", "password": "bss-sip-pw"}
    ],
}


@dataclass(frozen=True, slots=True)
class SeenRequest:
    customer_id: str
    raw_path: str
    plan: str | None
    authorization: str | None


class FakeBss:
    def __init__(self) -> None:
        self.mode = "healthy"
        self.script: list[str] = []
        self.requests: list[SeenRequest] = []
        self.release = asyncio.Event()
        self.request_arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bss/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/bss/customers/{customer_id}/service-profile", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self.release.set()  # let any slow handler finish before shutdown
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            SeenRequest(
                customer_id=request.match_info["customer_id"],
                raw_path=request.raw_path,
                plan=request.query.get("plan"),
                authorization=request.headers.get("Authorization"),
            )
        )
        self.request_arrived.set()
        mode = self.script.pop(0) if self.script else self.mode
        if mode == "healthy":
            return web.json_response(PROFILE)
        if mode == "slow":
            await self.release.wait()
            return web.json_response(PROFILE)
        if mode.startswith("status:"):
            status = int(mode.split(":")[1])
            headers = {"Retry-After": "2"} if status == 503 else {}
            return web.json_response({"error": "nope"}, status=status, headers=headers)
        if mode == "html":
            return web.Response(
                text="<html><body>Gateway login</body></html>", content_type="text/html"
            )
        if mode == "invalid_json":
            return web.Response(text='{"name": "fiber-100", ', content_type="application/json")
        if mode == "json_list":
            return web.json_response([PROFILE])
        if mode == "invalid_profile":
            return web.json_response({**PROFILE, "vlans": {"internet": 5000}})
        if mode == "huge":
            return web.json_response({**PROFILE, "target_firmware": "x" * 5000})
        if mode == "redirect":
            raise web.HTTPFound("http://127.0.0.1:1/elsewhere")
        raise AssertionError(f"unknown mode {mode}")


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
