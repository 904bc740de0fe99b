"""Signed UDP connection requests (TR-111 Annex G), for CPEs behind NAT.

The message is an HTTP/1.1 GET carried in one UDP datagram::

    GET http://host:port?ts=TS&id=ID&un=USERNAME&cn=CNONCE&sig=SIG HTTP/1.1
    Host: host:port

``host:port`` is the CPE's public binding (learned by the STUN listener, reported as
``UDPConnectionRequestAddress``); ``ts`` is seconds since the epoch; ``id`` is unique
per request and the same in every copy; ``un`` is the ``ConnectionRequestUsername``;
``cn`` a random cnonce; ``sig`` = hex HMAC-SHA1 keyed with the
``ConnectionRequestPassword`` over ``ts + id + un + cn`` (plain concatenation of the
unencoded values). UDP is lossy, so the same datagram is sent a few times; a CPE
ignores the copies by their ``id`` and stale requests by their ``ts``.

Send it through the STUN listener's socket (`traceacs.server.stun.StunListener` is a
`DatagramSender`): NATs commonly admit only datagrams from the address the CPE's
mapping points to. The parse/verify half serves the CPE side (tests, a simulator).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Protocol
from urllib.parse import parse_qs, quote, urlsplit

DEFAULT_COPIES: Final = 3
DEFAULT_INTERVAL: Final = 0.5
DEFAULT_MAX_AGE: Final = 60.0


class DatagramSender(Protocol):
    def sendto(self, data: bytes, address: tuple[str, int]) -> None: ...


class UdpConnectionRequestError(ValueError):
    """A datagram that is not a well-formed UDP connection request."""


def signature(password: str, ts: str, message_id: str, username: str, cnonce: str) -> str:
    text = f"{ts}{message_id}{username}{cnonce}".encode()
    return hmac.new(password.encode("utf-8"), text, hashlib.sha1).hexdigest()


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def build_udp_connection_request(
    host: str,
    port: int,
    *,
    username: str,
    password: str,
    ts: int,
    message_id: str,
    cnonce: str,
) -> bytes:
    """The datagram of one UDP connection request."""
    sig = signature(password, str(ts), message_id, username, cnonce)
    target = _host_port(host, port)
    query = (
        f"ts={ts}&id={quote(message_id, safe='')}&un={quote(username, safe='')}"
        f"&cn={quote(cnonce, safe='')}&sig={sig}"
    )
    return f"GET http://{target}?{query} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()


@dataclass(frozen=True, slots=True)
class UdpConnectionRequest:
    """A parsed UDP connection request (the CPE's view)."""

    ts: int
    message_id: str
    username: str
    cnonce: str
    signature: str = field(repr=False)

    def signed_with(self, password: str) -> bool:
        expected = signature(password, str(self.ts), self.message_id, self.username, self.cnonce)
        return hmac.compare_digest(expected, self.signature.lower())

    def valid(self, password: str, *, now: float, max_age: float = DEFAULT_MAX_AGE) -> bool:
        """Signed with ``password`` and ``ts`` within ``max_age`` of ``now``."""
        return self.signed_with(password) and abs(now - self.ts) <= max_age


def parse_udp_connection_request(data: bytes) -> UdpConnectionRequest:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise UdpConnectionRequestError("not ASCII") from exc
    request_line = text.split("\r\n", 1)[0]
    parts = request_line.split(" ")
    if len(parts) != 3 or parts[0] != "GET" or not parts[2].startswith("HTTP/1."):
        raise UdpConnectionRequestError("not an HTTP GET request line")
    query = parse_qs(urlsplit(parts[1]).query, keep_blank_values=True)

    def one(name: str) -> str:
        values = query.get(name)
        if not values or len(values) != 1:
            raise UdpConnectionRequestError(f"missing or repeated {name}")
        return values[0]

    ts_text = one("ts")
    if not ts_text.isdigit():
        raise UdpConnectionRequestError("ts is not a number")
    return UdpConnectionRequest(int(ts_text), one("id"), one("un"), one("cn"), one("sig"))


@dataclass(frozen=True, slots=True)
class UdpConnectionRequestSent:
    message_id: str
    ts: int
    copies: int


async def send_udp_connection_request(
    sender: DatagramSender,
    host: str,
    port: int,
    *,
    username: str,
    password: str,
    now: float,
    copies: int = DEFAULT_COPIES,
    interval: float = DEFAULT_INTERVAL,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    message_id: str | None = None,
) -> UdpConnectionRequestSent:
    """Send ``copies`` identical datagrams ``interval`` seconds apart.

    UDP gives no answer: success shows as the CPE's session (event
    ``6 CONNECTION REQUEST``), which the caller waits for.
    """
    ts = int(now)
    mid = message_id if message_id is not None else str(secrets.randbelow(2**32))
    datagram = build_udp_connection_request(
        host,
        port,
        username=username,
        password=password,
        ts=ts,
        message_id=mid,
        cnonce=secrets.token_hex(8),
    )
    for copy in range(copies):
        if copy:
            await sleep(interval)
        sender.sendto(datagram, (host, port))
    return UdpConnectionRequestSent(mid, ts, copies)


def parse_udp_address(value: str) -> tuple[str, int]:
    """``UDPConnectionRequestAddress`` (``host:port``, IPv6 in brackets) -> (host, port)."""
    host, sep, port_text = value.strip().rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        raise ValueError(f"not a host:port address: {value!r}")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {value!r}")
    return host.strip("[]"), port
