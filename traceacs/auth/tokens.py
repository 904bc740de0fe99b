"""API tokens: high-entropy random strings, shown once, stored only as SHA-256 hashes.

A token is 32 random bytes (``secrets.token_urlsafe``) behind a ``tacs_`` prefix, so a
token pasted into the wrong place is recognisable. With that much entropy a plain
SHA-256 is enough (no salt or slow hash needed: nothing to brute-force), and a lookup
by hash is a single indexed read. The plaintext never reaches the database, logs or
reprs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final, Literal, Protocol

Role = Literal["read", "write"]
ROLES: Final[tuple[Role, ...]] = ("read", "write")
TOKEN_PREFIX: Final = "tacs_"  # noqa: S105 - a marker, not a credential
TOKEN_BYTES: Final = 32


def parse_role(text: str) -> Role:
    """``text`` as a `Role`; ValueError naming the allowed roles otherwise."""
    for role in ROLES:
        if role == text:
            return role
    raise ValueError(f"role must be one of {', '.join(ROLES)}, not {text!r}")


def role_allows(granted: Role, required: Role) -> bool:
    """A write token may also read; a read token may only read."""
    return granted == "write" or required == "read"


def new_token() -> str:
    """A fresh plaintext token (show it to the operator once, then forget it)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The stored form of ``token``: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token as the store knows it (no plaintext, no hash)."""

    id: int
    name: str
    role: Role
    created_at: float
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just created: its record and the plaintext, available this once."""

    token: ApiToken
    plaintext: str

    def __repr__(self) -> str:
        return f"IssuedToken(token={self.token!r}, plaintext=<hidden>)"


class TokenStore(Protocol):
    """Where token hashes live."""

    async def create_token(self, name: str, role: Role, token_hash: str, now: float) -> ApiToken:
        """Store a new token's hash; returns its record."""
        ...

    async def find_token(self, token_hash: str) -> ApiToken | None:
        """The token with that hash, revoked or not; ``None`` if unknown."""
        ...

    async def list_tokens(self) -> list[ApiToken]:
        """Every token, oldest first."""
        ...

    async def revoke_token(self, token_id: int, now: float) -> bool:
        """Revoke a token; False if there is no such (unrevoked) token."""
        ...


async def issue_token(store: TokenStore, name: str, role: Role, now: float) -> IssuedToken:
    """Create a token in ``store`` and return it with its plaintext."""
    plaintext = new_token()
    record = await store.create_token(name, role, hash_token(plaintext), now)
    return IssuedToken(record, plaintext)


async def authenticate(store: TokenStore, presented: str) -> ApiToken | None:
    """The live (unrevoked) token matching ``presented``, else ``None``."""
    if not presented.startswith(TOKEN_PREFIX):
        return None
    token = await store.find_token(hash_token(presented))
    if token is None or token.revoked:
        return None
    return token
