"""TR-111 Annex G end to end on 127.0.0.1: STUN binding learned, signed UDP request.

The fake CPE is a plain asyncio UDP socket; it checks the connection request's
signature with its own HMAC computation rather than the module's helper.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import struct
import time
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import parse_qs, urlsplit

import pytest

from traceacs.server import stun_codec as sc
from traceacs.server.stun import BindingTable, CpeBinding, StunListener, answer_datagram
from traceacs.server.udp_connection_request import (
    UdpConnectionRequestError,
    build_udp_connection_request,
    parse_udp_address,
    parse_udp_connection_request,
    send_udp_connection_request,
)

STUN_USER = "00D09E-SN42"
STUN_PASSWORD = "stun-pass"
CR_USER = "cr-user"
CR_PASSWORD = "cr-pass"


class FakeCpeSocket(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    async def next(self) -> tuple[bytes, tuple[str, int]]:
        return await asyncio.wait_for(self.received.get(), timeout=5)


def binding_request(
    *,
    classic: bool = False,
    username: str = STUN_USER,
    key: bytes | None = STUN_PASSWORD.encode(),
    change: bool = False,
) -> tuple[bytes, bytes]:
    tid = os.urandom(16 if classic else 12)
    attributes = [
        (sc.USERNAME, username.encode()),
        (sc.CONNECTION_REQUEST_BINDING, sc.TR111_BINDING_VALUE),
    ]
    if change:
        attributes.append((sc.BINDING_CHANGE, b""))
    message = sc.StunMessage(sc.BINDING_REQUEST, tid, tuple(attributes))
    return sc.serialize_message(message, integrity_key=key), tid


@pytest.fixture
async def stun() -> AsyncIterator[tuple[StunListener, tuple[str, int], list[CpeBinding]]]:
    learned: list[CpeBinding] = []
    listener = StunListener(passwords={STUN_USER: STUN_PASSWORD}.get, on_binding=learned.append)
    address = await listener.start("127.0.0.1", 0)
    yield listener, address, learned
    listener.close()


@pytest.fixture
async def cpe() -> AsyncIterator[FakeCpeSocket]:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(FakeCpeSocket, local_addr=("127.0.0.1", 0))
    yield protocol
    assert protocol.transport is not None
    protocol.transport.close()


async def test_udp_connection_request_through_stun_binding(
    stun: tuple[StunListener, tuple[str, int], list[CpeBinding]], cpe: FakeCpeSocket
) -> None:
    listener, stun_address, learned = stun
    assert cpe.transport is not None
    request, tid = binding_request()
    cpe.transport.sendto(request, stun_address)

    reply, source = await cpe.next()
    assert source == stun_address
    answer = sc.parse_message(reply)
    assert answer.message_type == sc.BINDING_SUCCESS
    assert answer.transaction_id == tid
    xor = answer.get(sc.XOR_MAPPED_ADDRESS)
    mapped = answer.get(sc.MAPPED_ADDRESS)
    assert xor is not None
    assert mapped is not None
    assert sc.decode_address(xor, xor_with=tid) == ("127.0.0.1", cpe.port)
    assert sc.decode_address(mapped) == ("127.0.0.1", cpe.port)

    binding = listener.table.get(STUN_USER)
    assert binding is not None
    assert (binding.host, binding.port) == ("127.0.0.1", cpe.port)
    assert binding.authenticated
    assert learned == [binding]

    sent = await send_udp_connection_request(
        listener,
        binding.host,
        binding.port,
        username=CR_USER,
        password=CR_PASSWORD,
        now=time.time(),
        copies=3,
        interval=0.0,
    )
    copies = [await cpe.next() for _ in range(3)]
    assert {data for data, _ in copies} == {copies[0][0]}  # identical copies
    assert all(src == stun_address for _, src in copies)  # sent from the STUN port

    text = copies[0][0].decode("ascii")
    request_line, _, rest = text.partition("\r\n")
    method, uri, version = request_line.split(" ")
    assert (method, version) == ("GET", "HTTP/1.1")
    assert uri.startswith(f"http://127.0.0.1:{cpe.port}?")
    assert f"Host: 127.0.0.1:{cpe.port}" in rest
    query = {k: v[0] for k, v in parse_qs(urlsplit(uri).query).items()}
    assert query["un"] == CR_USER
    assert query["id"] == sent.message_id
    expected = hmac.new(
        CR_PASSWORD.encode(),
        (query["ts"] + query["id"] + query["un"] + query["cn"]).encode(),
        hashlib.sha1,
    ).hexdigest()
    assert hmac.compare_digest(query["sig"], expected)
    assert abs(time.time() - int(query["ts"])) < 30
    assert CR_PASSWORD not in text

    parsed = parse_udp_connection_request(copies[0][0])
    assert parsed.valid(CR_PASSWORD, now=time.time())
    assert not parsed.valid("other", now=time.time())
    assert not parsed.valid(CR_PASSWORD, now=time.time() + 3600)  # stale ts


async def test_bad_integrity_is_refused_and_not_learned(
    stun: tuple[StunListener, tuple[str, int], list[CpeBinding]], cpe: FakeCpeSocket
) -> None:
    listener, stun_address, learned = stun
    assert cpe.transport is not None
    for key in (b"wrong", None):
        request, tid = binding_request(key=key)
        cpe.transport.sendto(request, stun_address)
        reply, _ = await cpe.next()
        answer = sc.parse_message(reply)
        assert answer.message_type == sc.BINDING_ERROR
        assert answer.transaction_id == tid
        error = answer.get(sc.ERROR_CODE)
        assert error is not None
        assert error[2] * 100 + error[3] == 401
    assert listener.table.get(STUN_USER) is None
    assert learned == []


def test_rfc3489_request_gets_mapped_address_only() -> None:
    table = BindingTable()
    request, tid = binding_request(classic=True)
    answer = answer_datagram(
        request,
        ("192.0.2.7", 40000),
        table=table,
        now=100.0,
        passwords={STUN_USER: STUN_PASSWORD}.get,
    )
    assert answer.reply is not None
    reply = sc.parse_message(answer.reply)
    assert reply.classic
    assert reply.transaction_id == tid
    assert reply.get(sc.XOR_MAPPED_ADDRESS) is None
    mapped = reply.get(sc.MAPPED_ADDRESS)
    assert mapped is not None
    assert sc.decode_address(mapped) == ("192.0.2.7", 40000)
    assert answer.binding == table.get(STUN_USER)


def test_binding_change_and_move_are_flagged() -> None:
    table = BindingTable()
    first, _ = binding_request(key=None)
    a = answer_datagram(first, ("192.0.2.1", 1000), table=table, now=1.0)
    assert a.binding is not None
    assert not a.binding.changed
    assert not a.binding.authenticated  # no password source: learned unauthenticated
    moved = answer_datagram(first, ("192.0.2.1", 2000), table=table, now=2.0)
    assert moved.binding is not None
    assert moved.binding.changed
    announced, _ = binding_request(key=None, change=True)
    same = answer_datagram(announced, ("192.0.2.1", 2000), table=table, now=3.0)
    assert same.binding is not None
    assert same.binding.changed
    assert table.get(STUN_USER) == same.binding
    assert same.binding.address == "192.0.2.1:2000"


def test_plain_binding_request_is_answered_but_teaches_nothing() -> None:
    table = BindingTable()
    message = sc.StunMessage(sc.BINDING_REQUEST, os.urandom(12))
    answer = answer_datagram(sc.serialize_message(message), ("::1", 5), table=table, now=0.0)
    assert answer.reply is not None
    reply = sc.parse_message(answer.reply)
    xor = reply.get(sc.XOR_MAPPED_ADDRESS)
    assert xor is not None
    assert sc.decode_address(xor, xor_with=message.transaction_id) == ("::1", 5)
    assert answer.binding is None
    assert len(table) == 0


@pytest.mark.parametrize(
    "data",
    [b"", b"GET / HTTP/1.1\r\n\r\n" + b"x" * 8, b"\x00\x01\x00\x04" + b"\x00" * 16, b"\xff" * 24],
)
def test_garbage_is_ignored(data: bytes) -> None:
    answer = answer_datagram(data, ("127.0.0.1", 1), table=BindingTable(), now=0.0)
    assert answer.reply is None


def test_truncated_attribute_is_a_stun_error() -> None:
    header = struct.pack("!HHI", sc.BINDING_REQUEST, 8, sc.MAGIC_COOKIE) + os.urandom(12)
    with pytest.raises(sc.StunError):
        sc.parse_message(header + struct.pack("!HH", sc.USERNAME, 40) + b"abcd")


def test_integrity_round_trip_both_forms() -> None:
    for classic in (False, True):
        data, _ = binding_request(classic=classic)
        message = sc.parse_message(data)
        assert sc.message_integrity_ok(data, message, STUN_PASSWORD.encode())
        assert not sc.message_integrity_ok(data, message, b"nope")
        tampered = data[:-1] + bytes([data[-1] ^ 1])
        assert not sc.message_integrity_ok(tampered, sc.parse_message(tampered), b"stun-pass")


def test_udp_request_parsing_rejects_junk() -> None:
    with pytest.raises(UdpConnectionRequestError):
        parse_udp_connection_request(b"POST / HTTP/1.1\r\n\r\n")
    with pytest.raises(UdpConnectionRequestError):
        parse_udp_connection_request(b"GET http://h:1?ts=x&id=1&un=u&cn=c&sig=s HTTP/1.1\r\n\r\n")
    datagram = build_udp_connection_request(
        "198.51.100.2", 7547, username="a b&c", password="p", ts=10, message_id="9", cnonce="z"
    )
    parsed = parse_udp_connection_request(datagram)
    assert parsed.username == "a b&c"  # URL-encoded on the wire, signed raw
    assert parsed.signed_with("p")


def test_parse_udp_address() -> None:
    assert parse_udp_address("203.0.113.9:5060") == ("203.0.113.9", 5060)
    assert parse_udp_address("[2001:db8::1]:7547") == ("2001:db8::1", 7547)
    with pytest.raises(ValueError, match="host:port"):
        parse_udp_address("nope")
