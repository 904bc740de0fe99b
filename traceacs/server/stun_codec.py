"""STUN messages (RFC 5389, and the RFC 3489 form TR-111 CPEs still send), sans-IO.

Just enough STUN for TR-111 Annex G: Binding requests and their answers, the address
attributes, USERNAME, MESSAGE-INTEGRITY, ERROR-CODE and the two TR-111 attributes.
A message with the magic cookie is RFC 5389 (96-bit transaction id, XOR-MAPPED-ADDRESS
understood); one without is RFC 3489 (128-bit transaction id). MESSAGE-INTEGRITY is
checked in both forms: RFC 5389 (header length counting up to the integrity attribute)
and RFC 3489 (the preceding bytes zero-padded to a multiple of 64).

No I/O, no clock; malformed input raises `StunError`, never anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct
from dataclasses import dataclass
from typing import Final

MAGIC_COOKIE: Final = 0x2112A442
_COOKIE_BYTES: Final = struct.pack("!I", MAGIC_COOKIE)
HEADER_SIZE: Final = 20

BINDING_REQUEST: Final = 0x0001
BINDING_SUCCESS: Final = 0x0101
BINDING_ERROR: Final = 0x0111

MAPPED_ADDRESS: Final = 0x0001
USERNAME: Final = 0x0006
MESSAGE_INTEGRITY: Final = 0x0008
ERROR_CODE: Final = 0x0009
XOR_MAPPED_ADDRESS: Final = 0x0020
SOFTWARE: Final = 0x8022
FINGERPRINT: Final = 0x8028
CONNECTION_REQUEST_BINDING: Final = 0xC001
"""TR-111: marks the Binding request whose mapping carries UDP connection requests."""
BINDING_CHANGE: Final = 0xC002
"""TR-111: the CPE says its binding changed since it last told the ACS."""
TR111_BINDING_VALUE: Final = b"dslforum.org/TR-111 "

_FAMILY_V4: Final = 0x01
_FAMILY_V6: Final = 0x02


class StunError(ValueError):
    """Bytes that are not a well-formed STUN message."""


@dataclass(frozen=True, slots=True)
class StunMessage:
    """One STUN message; ``attributes`` in wire order as (type, value) pairs.

    ``integrity_offset`` is where MESSAGE-INTEGRITY starts in the parsed bytes (None
    when absent or when the message was built rather than parsed).
    """

    message_type: int
    transaction_id: bytes
    attributes: tuple[tuple[int, bytes], ...] = ()
    integrity_offset: int | None = None

    @property
    def classic(self) -> bool:
        """An RFC 3489 message (no magic cookie, 128-bit transaction id)."""
        return len(self.transaction_id) == 16

    def get(self, attribute: int) -> bytes | None:
        for kind, value in self.attributes:
            if kind == attribute:
                return value
        return None

    def has(self, attribute: int) -> bool:
        return any(kind == attribute for kind, _ in self.attributes)

    @property
    def username(self) -> str | None:
        value = self.get(USERNAME)
        if value is None:
            return None
        # RFC 3489 pads USERNAME to a multiple of 4; CPEs pad with NULs or spaces.
        return value.rstrip(b"\x00").decode("utf-8", errors="replace").strip()


def parse_message(data: bytes) -> StunMessage:
    if len(data) < HEADER_SIZE:
        raise StunError("shorter than a STUN header")
    message_type, length = struct.unpack_from("!HH", data, 0)
    if message_type & 0xC000:
        raise StunError("first two bits of a STUN message must be zero")
    if length % 4 or HEADER_SIZE + length != len(data):
        raise StunError("length does not match the datagram")
    transaction_id = data[8:20] if data[4:8] == _COOKIE_BYTES else data[4:20]
    attributes: list[tuple[int, bytes]] = []
    integrity_offset: int | None = None
    offset = HEADER_SIZE
    while offset < len(data):
        if offset + 4 > len(data):
            raise StunError("truncated attribute header")
        kind, size = struct.unpack_from("!HH", data, offset)
        start = offset + 4
        end = start + size
        if end > len(data):
            raise StunError("attribute runs past the message")
        if kind == MESSAGE_INTEGRITY and integrity_offset is None:
            integrity_offset = offset
        if integrity_offset is None or kind in (MESSAGE_INTEGRITY, FINGERPRINT):
            # Attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are ignored.
            attributes.append((kind, data[start:end]))
        offset = start + size + (-size % 4)
    return StunMessage(message_type, transaction_id, tuple(attributes), integrity_offset)


def _attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\x00" * (-len(value) % 4)


def _header(message: StunMessage, length: int) -> bytes:
    if message.classic:
        return struct.pack("!HH", message.message_type, length) + message.transaction_id
    if len(message.transaction_id) != 12:
        raise StunError("a transaction id is 12 (RFC 5389) or 16 (RFC 3489) bytes")
    return struct.pack("!HH", message.message_type, length) + _COOKIE_BYTES + message.transaction_id


def serialize_message(message: StunMessage, *, integrity_key: bytes | None = None) -> bytes:
    """Bytes of ``message``; with ``integrity_key``, MESSAGE-INTEGRITY is appended."""
    body = b"".join(_attribute(kind, value) for kind, value in message.attributes)
    if integrity_key is None:
        return _header(message, len(body)) + body
    if message.classic:
        text = _header(message, len(body) + 24) + body
        padded = text + b"\x00" * (-len(text) % 64)
        mac = hmac.new(integrity_key, padded, hashlib.sha1).digest()
    else:
        text = _header(message, len(body) + 24) + body
        mac = hmac.new(integrity_key, text, hashlib.sha1).digest()
    return text + _attribute(MESSAGE_INTEGRITY, mac)


def message_integrity_ok(data: bytes, message: StunMessage, key: bytes) -> bool:
    """Whether ``data`` (parsed as ``message``) carries a valid MESSAGE-INTEGRITY."""
    offset = message.integrity_offset
    value = message.get(MESSAGE_INTEGRITY)
    if offset is None or value is None or len(value) != 20:
        return False
    # RFC 5389: the header length counts up to the end of MESSAGE-INTEGRITY.
    adjusted = data[:2] + struct.pack("!H", offset + 24 - HEADER_SIZE) + data[4:offset]
    modern = hmac.new(key, adjusted, hashlib.sha1).digest()
    # RFC 3489: the bytes before it, zero-padded to a multiple of 64.
    before = data[:offset]
    classic = hmac.new(key, before + b"\x00" * (-len(before) % 64), hashlib.sha1).digest()
    return hmac.compare_digest(modern, value) or hmac.compare_digest(classic, value)


def _xor_bytes(data: bytes, mask: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, mask, strict=False))


def encode_address(host: str, port: int, *, xor_with: bytes | None = None) -> bytes:
    """MAPPED-ADDRESS value; with ``xor_with`` (the transaction id), XOR-MAPPED-ADDRESS."""
    ip = ipaddress.ip_address(host)
    family = _FAMILY_V4 if ip.version == 4 else _FAMILY_V6
    raw = ip.packed
    if xor_with is not None:
        port ^= MAGIC_COOKIE >> 16
        raw = _xor_bytes(raw, _COOKIE_BYTES + xor_with)
    return struct.pack("!BBH", 0, family, port) + raw


def decode_address(value: bytes, *, xor_with: bytes | None = None) -> tuple[str, int]:
    if len(value) < 8:
        raise StunError("address attribute too short")
    _, family, port = struct.unpack_from("!BBH", value, 0)
    size = {_FAMILY_V4: 4, _FAMILY_V6: 16}.get(family)
    if size is None or len(value) != 4 + size:
        raise StunError("unknown address family")
    raw = value[4:]
    if xor_with is not None:
        port ^= MAGIC_COOKIE >> 16
        raw = _xor_bytes(raw, _COOKIE_BYTES + xor_with)
    return str(ipaddress.ip_address(raw)), port


def error_code(code: int, reason: str) -> bytes:
    """ERROR-CODE value (class and number split as RFC 5389 §15.6 says)."""
    reason_bytes = reason.encode("utf-8")
    return struct.pack("!HBB", 0, code // 100, code % 100) + reason_bytes
