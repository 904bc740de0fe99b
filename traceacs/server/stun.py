"""The ACS's STUN listener (TR-111 Annex G): learns where CPEs behind NAT can be woken.

A CPE behind NAT cannot be reached by an HTTP connection request. Instead it keeps a
UDP mapping open by sending STUN Binding requests to the ACS, from the port on which
it listens for UDP connection requests. The Binding request that carries the
CONNECTION-REQUEST-BINDING attribute names the CPE (USERNAME = its ``STUNUsername``);
its source address is the public binding to which the ACS later sends a signed UDP
connection request (`traceacs.server.udp_connection_request`), *from this same
socket*, since NATs commonly only let in datagrams from the address the mapping was
made towards.

Every Binding request is answered (MAPPED-ADDRESS; XOR-MAPPED-ADDRESS too when the
client speaks RFC 5389), so the CPE learns its public address and can report it as
``UDPConnectionRequestAddress``. When a password source is configured, a binding is
only learned from a request with a valid MESSAGE-INTEGRITY (key: the ``STUNPassword``);
others get a 401 error answer. Without one, bindings are learned unauthenticated: a
forger could then only redirect the (signed, harmless) UDP connection requests.

`BindingTable` is in memory, for one ACS process; several processes behind a UDP load
balancer would need it shared (the repository), the seam being its three methods.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from traceacs.server import stun_codec as sc

log = logging.getLogger("traceacs.stun")

DEFAULT_STUN_PORT: Final = 3478


@dataclass(frozen=True, slots=True)
class CpeBinding:
    """A CPE's public UDP binding, as seen by the ACS's STUN listener."""

    username: str
    host: str
    port: int
    learned_at: float
    changed: bool = False
    """The binding differs from the one known before (or the CPE sent BINDING-CHANGE)."""
    authenticated: bool = False

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 in brackets), the form of ``UDPConnectionRequestAddress``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class BindingTable:
    """The latest binding per STUN username."""

    def __init__(self) -> None:
        self._by_username: dict[str, CpeBinding] = {}

    def learn(
        self,
        username: str,
        host: str,
        port: int,
        *,
        now: float,
        binding_change: bool = False,
        authenticated: bool = False,
    ) -> CpeBinding:
        previous = self._by_username.get(username)
        moved = previous is not None and (previous.host, previous.port) != (host, port)
        binding = CpeBinding(username, host, port, now, binding_change or moved, authenticated)
        self._by_username[username] = binding
        return binding

    def get(self, username: str) -> CpeBinding | None:
        return self._by_username.get(username)

    def forget(self, username: str) -> None:
        self._by_username.pop(username, None)

    def __len__(self) -> int:
        return len(self._by_username)


PasswordLookup = Callable[[str], str | None]
"""``STUNUsername`` -> ``STUNPassword`` (None: unknown user)."""


@dataclass(frozen=True, slots=True)
class StunAnswer:
    """What to do with one datagram: a reply to send, and a binding learned."""

    reply: bytes | None
    binding: CpeBinding | None = None


def answer_datagram(
    data: bytes,
    source: tuple[str, int],
    *,
    table: BindingTable,
    now: float,
    passwords: PasswordLookup | None = None,
    software: str = "TraceACS",
) -> StunAnswer:
    """The sans-IO core of the listener: parse, authenticate, learn, answer."""
    try:
        request = sc.parse_message(data)
    except sc.StunError:
        return StunAnswer(None)
    if request.message_type != sc.BINDING_REQUEST:
        return StunAnswer(None)
    host, port = source[0], source[1]
    username = request.username
    wants_binding = request.get(sc.CONNECTION_REQUEST_BINDING) is not None
    authenticated = False
    if passwords is not None and (wants_binding or request.has(sc.MESSAGE_INTEGRITY)):
        password = passwords(username) if username else None
        authenticated = password is not None and sc.message_integrity_ok(
            data, request, password.encode("utf-8")
        )
        if not authenticated:
            return StunAnswer(_error(request, 401, "Unauthorized", software))
    binding: CpeBinding | None = None
    if wants_binding and username:
        binding = table.learn(
            username,
            host,
            port,
            now=now,
            binding_change=request.has(sc.BINDING_CHANGE),
            authenticated=authenticated,
        )
    attributes = [(sc.MAPPED_ADDRESS, sc.encode_address(host, port))]
    if not request.classic:
        attributes.append(
            (sc.XOR_MAPPED_ADDRESS, sc.encode_address(host, port, xor_with=request.transaction_id))
        )
    attributes.append((sc.SOFTWARE, software.encode()))
    reply = sc.StunMessage(sc.BINDING_SUCCESS, request.transaction_id, tuple(attributes))
    return StunAnswer(sc.serialize_message(reply), binding)


def _error(request: sc.StunMessage, code: int, reason: str, software: str) -> bytes:
    attributes = ((sc.ERROR_CODE, sc.error_code(code, reason)), (sc.SOFTWARE, software.encode()))
    return sc.serialize_message(
        sc.StunMessage(sc.BINDING_ERROR, request.transaction_id, attributes)
    )


class StunListener(asyncio.DatagramProtocol):
    """The UDP socket: answers Binding requests, fills a `BindingTable`, sends requests.

    ``on_binding`` is called for every binding learned (e.g. to persist it, or to
    record ``changed`` ones); it must not block.
    """

    def __init__(
        self,
        table: BindingTable | None = None,
        *,
        passwords: PasswordLookup | None = None,
        on_binding: Callable[[CpeBinding], None] | None = None,
        clock: Callable[[], float] = time.time,
        software: str = "TraceACS",
    ) -> None:
        self.table = table if table is not None else BindingTable()
        self._passwords = passwords
        self._on_binding = on_binding
        self._clock = clock
        self._software = software
        self._transport: asyncio.DatagramTransport | None = None

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_STUN_PORT,
    ) -> tuple[str, int]:
        """Bind the socket; the local (host, port) (useful with port 0)."""
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        assert self._transport is not None
        sockname = self._transport.get_extra_info("sockname")
        return str(sockname[0]), int(sockname[1])

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's UDP transport is not a subclass.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        """Send a datagram from the STUN port (how UDP connection requests go out)."""
        if self._transport is None:
            raise RuntimeError("the STUN listener is not running")
        self._transport.sendto(data, address)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        source = (str(addr[0]), int(addr[1]))
        answer = answer_datagram(
            data,
            source,
            table=self.table,
            now=self._clock(),
            passwords=self._passwords,
            software=self._software,
        )
        if answer.reply is not None and self._transport is not None:
            self._transport.sendto(answer.reply, source)
        if answer.binding is not None:
            if answer.binding.changed:
                log.info("STUN binding of a CPE changed to %s", answer.binding.address)
            if self._on_binding is not None:
                self._on_binding(answer.binding)

    def error_received(self, exc: Exception) -> None:
        log.debug("STUN socket error: %s", type(exc).__name__)
