"""`bench.session_core`'s sessions driven through the CWMP endpoint, in one process.

`bench.session_core.Driver` plays the endpoint's part: it calls the session handler
directly, so what the endpoint itself does per POST (the session lookup and registry,
the state machine, the lock, the reply, the session line) is not in its figures.
`EndpointDriver` hands every CPE POST, as bytes, to a `CwmpEndpoint` built as ``traceacs
serve --allow-unauthenticated-cpes`` builds it (the bench server's options) around the
same handler factory, and reads its answers: the same sessions with the endpoint's own
work in, and still no HTTP server (no sockets, no parser: `bench.http_path` and
`bench.ab` see those). ``bench.instructions --through endpoint`` counts it.

The CPE's side is kept small so that it adds little to both revisions' counts: its
POSTs are prepared bytes, the cookie is cut from ``Set-Cookie``, and an ACS RPC is
recognised by its element name (no parse), the CPE's learnt answer sent back.
"""

from __future__ import annotations

import re
from typing import Any

from bench.session_core import Device, Driver
from traceacs.cwmp import messages as m
from traceacs.provisioning.session_handler import SessionHandlerFactory

_RPC = re.compile(rb"Body>\s*<[\w-]+:(\w+)")
_COOKIE = re.compile(r"^([^;]+)")


class Connection:
    """A CPE's keep-alive connection, as the endpoint sees one."""

    __slots__ = ()

    def is_closing(self) -> bool:
        return False


def build_endpoint(factory: SessionHandlerFactory) -> Any:
    """The endpoint ``traceacs serve --allow-unauthenticated-cpes`` builds (typed Any: a
    revision's own `CwmpEndpoint`)."""
    from traceacs.app import build_cwmp_endpoint
    from traceacs.config import Settings

    return build_cwmp_endpoint(Settings(allow_unauthenticated_cpes=True), factory)


class EndpointDriver(Driver):
    """`Driver`'s sessions, each POST answered by the endpoint."""

    def __init__(self, driver: Driver) -> None:
        super().__init__(driver.factory, driver.devices)
        self.endpoint = build_endpoint(driver.factory)
        self.connections = {device.key: Connection() for device in driver.devices}
        self.answers: dict[str, dict[bytes, bytes]] = {}
        """device -> ACS RPC element name -> the CPE's answer (from `Driver.learn`)."""

    async def session(self, device: Device, sequence: str) -> int:
        from traceacs.server.exchange import CwmpRequest

        handle = self.endpoint.handle
        connection = self.connections[device.key]
        reply = await handle(
            CwmpRequest("POST", "/acs", device.informs[sequence], (), None, connection)
        )
        if reply.status != 200 or reply.set_cookie is None:
            raise RuntimeError(f"inform answered {reply.status}")
        cookie_match = _COOKIE.match(reply.set_cookie)
        assert cookie_match is not None
        cookies = (cookie_match.group(1),)
        rpcs = 0
        body = b""
        while True:
            reply = await handle(CwmpRequest("POST", "/acs", body, cookies, None, connection))
            if reply.status == 204:
                return rpcs
            if reply.status != 200:
                raise RuntimeError(f"POST answered {reply.status}")
            rpcs += 1
            body = self.answer(device, reply.body)

    def answer(self, device: Device, rpc: bytes) -> bytes:
        """The CPE's answer to the ACS RPC ``rpc`` (learnt once per device and method)."""
        found = _RPC.search(rpc)
        if found is None:
            raise RuntimeError("an ACS answer that is no RPC")
        answers = self.answers.setdefault(device.key, {})
        known = answers.get(found.group(1))
        if known is None:
            from traceacs.cwmp.codec import parse_envelope

            message: m.Message = parse_envelope(rpc).body
            known = device.replies.get(type(message)) or self.learn(device, message)
            answers[found.group(1)] = known
        return known
