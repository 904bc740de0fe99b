"""Secrets at rest: AES-256-GCM for the columns that hold what a CPE must not lose.

Connection-request passwords, stored service-profile documents (Wi-Fi keys, VoIP
passwords) and task arguments (values to set) are sealed before they reach the
database and opened when read back, so a copy of the SQLite file or a PostgreSQL dump
holds no secret in clear. A sealed value is text, so the schema does not change:

    enc:v1:<key id>:<base64url(12-byte nonce | ciphertext | 16-byte tag)>

The key id (first 8 hex digits of the key's SHA-256) says which key of the ring sealed
it: the ring holds the current key, used to seal, and previous keys, used only to open
(rotation: `traceacs db rotate-key`). The column's name is the associated data, so a
value copied into another column does not open. Values written before sealing existed
(no ``enc:`` prefix) are read as they are and sealed by `SqlDeviceRepository.reseal`
(run when the ACS starts). Error messages name the key id, never the value or a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from traceacs.provisioning.repository import RepositoryError

PREFIX: Final = "enc:v1:"
KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12


class SecretKeyError(RepositoryError):
    """A sealed value that cannot be opened (no key, unknown key, tampered), or a bad key."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_key(text: str) -> bytes:
    """A key from its base64 text (the key file's lines, ``TRACEACS_SECRET_KEY``)."""
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise SecretKeyError("a secret key must be 32 bytes in base64") from None
    if len(key) != KEY_BYTES:
        raise SecretKeyError("a secret key must be 32 bytes in base64")
    return key


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class SecretBox:
    """Seals with the current key; opens with any key of the ring."""

    __slots__ = ("_ciphers", "current_id")

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self.current_id = key_id(current)
        self._ciphers = {key_id(k): AESGCM(k) for k in (*previous, current)}

    def __repr__(self) -> str:
        return f"SecretBox(current={self.current_id}, keys={len(self._ciphers)})"

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def seal(self, plaintext: str, column: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.current_id].encrypt(nonce, plaintext.encode(), column.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{PREFIX}{self.current_id}:{body}"

    def open(self, stored: str, column: str) -> str:
        """The plaintext of ``stored``; legacy unsealed text is returned unchanged."""
        if not is_sealed(stored):
            return stored
        kid, _, body = stored[len(PREFIX) :].partition(":")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise SecretKeyError(
                f"{column} was sealed with key {kid!r}, which is not in the key ring "
                f"({', '.join(self._ciphers)}): configure that key (TRACEACS_SECRET_KEY "
                "or the data directory's secret.key)"
            )
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], column.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError, UnicodeError):
            raise SecretKeyError(f"{column}: a sealed value failed authentication") from None

    def is_current(self, stored: str) -> bool:
        """Sealed with the current key (nothing to re-seal)."""
        return stored.startswith(f"{PREFIX}{self.current_id}:")


def open_unkeyed(stored: str, column: str) -> str:
    """Reading without a key ring: legacy plaintext passes, a sealed value is an error."""
    if is_sealed(stored):
        raise SecretKeyError(f"{column} is sealed but no secret key is configured")
    return stored


def seal_with(box: SecretBox | None, value: str, column: str) -> str:
    """``value`` sealed by ``box``; unchanged without one (stores opened keyless)."""
    return value if box is None else box.seal(value, column)


def open_with(box: SecretBox | None, stored: str, column: str) -> str:
    return open_unkeyed(stored, column) if box is None else box.open(stored, column)
