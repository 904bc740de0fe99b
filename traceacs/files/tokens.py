"""Per-file access tokens: who holds the URL may fetch (or upload) that one file.

A token is ``<expires>.<hmac>``: the HMAC-SHA256 (server secret) of the scope
(``get`` or ``put``), the file name and the expiry time. It is put in the URL given to
a CPE in a Download or Upload RPC, since many CPEs cannot do HTTP auth for transfers,
or do it badly. It cannot be moved to another file, another scope, or past its
expiry, and it needs no table. Time is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final, Literal

Scope = Literal["get", "put"]

DEFAULT_TTL: Final = 3600.0


class FileAccessTokens:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    def __repr__(self) -> str:
        return "FileAccessTokens(<secret>)"

    def _mac(self, scope: Scope, name: str, expires: int) -> str:
        text = f"{scope}\n{name}\n{expires}".encode()
        return hmac.new(self._secret, text, hashlib.sha256).hexdigest()[:40]

    def issue(
        self, name: str, *, now: float, ttl: float = DEFAULT_TTL, scope: Scope = "get"
    ) -> str:
        expires = int(now + ttl)
        return f"{expires}.{self._mac(scope, name, expires)}"

    def verify(self, name: str, token: str, *, now: float, scope: Scope = "get") -> bool:
        expires_text, dot, mac = token.partition(".")
        if not dot or not expires_text.isdigit():
            return False
        expires = int(expires_text)
        genuine = hmac.compare_digest(mac.encode(), self._mac(scope, name, expires).encode())
        return genuine and now <= expires
