"""HTTP Digest authentication (RFC 7616 subset: MD5, qop=auth), sans-IO.

CPEs in the field speak MD5 Digest with ``qop=auth`` and little else, so that is what
this verifies. Nonces are stateless to issue and check: ``<issued-at>.<hmac>``, signed
with a per-process secret, so a nonce cannot be forged and its age is known without a
table. The nonce-count (``nc``) of each nonce in use is remembered, and must strictly
increase, which stops a captured Authorization header from being replayed; entries go
away when their nonce expires. Every comparison of secret-derived values is
constant-time. Time is passed in (``now``, seconds since the epoch).

Nothing here logs or puts a password or a response hash into an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Final
from urllib.parse import urlsplit

DEFAULT_NONCE_LIFETIME: Final = 300.0
"""Seconds a nonce stays valid; a CPE presenting an older one is told ``stale=true``."""


class DigestResult(Enum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    STALE_NONCE = "stale_nonce"
    MALFORMED = "malformed"
    REPLAYED = "replayed"


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """The fields of a ``Digest`` Authorization header (``response`` kept out of repr)."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str
    nc: str
    cnonce: str
    algorithm: str = "MD5"
    opaque: str = ""

    def __repr__(self) -> str:
        return f"DigestCredentials(username={self.username!r}, realm={self.realm!r})"


def parse_auth_params(text: str) -> dict[str, str]:
    """Parse ``key=value, key="quoted, value"`` into a dict (keys lower-cased).

    Tolerates the looseness CPEs show: spaces around ``=``, unquoted values, a
    trailing comma. Backslash escapes inside quotes are honoured.
    """
    params: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        start = i
        while i < n and text[i] not in "= \t,":
            i += 1
        key = text[start:i].strip().lower()
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] != "=":
            # A bare token without value: skip it.
            continue
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            i += 1  # closing quote
            value = "".join(chars)
        else:
            start = i
            while i < n and text[i] != ",":
                i += 1
            value = text[start:i].strip()
        if key:
            params[key] = value
    return params


def parse_digest_authorization(header: str) -> DigestCredentials | None:
    """The credentials of a ``Digest ...`` Authorization header, or None if unusable."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    p = parse_auth_params(rest)
    required = ("username", "realm", "nonce", "uri", "response")
    if any(k not in p for k in required):
        return None
    return DigestCredentials(
        username=p["username"],
        realm=p["realm"],
        nonce=p["nonce"],
        uri=p["uri"],
        response=p["response"].lower(),
        qop=p.get("qop", ""),
        nc=p.get("nc", ""),
        cnonce=p.get("cnonce", ""),
        algorithm=p.get("algorithm", "MD5"),
        opaque=p.get("opaque", ""),
    )


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def expected_response(creds: DigestCredentials, password: str, method: str) -> str:
    """RFC 2617/7616 ``response`` for MD5 and qop=auth."""
    ha1 = _md5(f"{creds.username}:{creds.realm}:{password}")
    ha2 = _md5(f"{method}:{creds.uri}")
    return _md5(f"{ha1}:{creds.nonce}:{creds.nc}:{creds.cnonce}:{creds.qop}:{ha2}")


def _same_uri(header_uri: str, request_uri: str) -> bool:
    if header_uri == request_uri:
        return True
    # Some agents send the absolute URL they were configured with.
    parts = urlsplit(header_uri)
    if not parts.scheme:
        return False
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return path == request_uri


class DigestVerifier:
    """Issues Digest challenges and verifies answers for one realm.

    Keeps one small table: the highest ``nc`` seen per live nonce.
    """

    def __init__(
        self,
        realm: str,
        *,
        nonce_lifetime: float = DEFAULT_NONCE_LIFETIME,
        secret: bytes | None = None,
    ) -> None:
        self.realm = realm
        self.nonce_lifetime = nonce_lifetime
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._opaque = secrets.token_hex(8)
        self._last_nc: dict[str, tuple[int, float]] = {}

    # ------------------------------------------------------------------ nonces

    def _sign(self, issued: str) -> str:
        return hmac.new(self._secret, issued.encode("ascii"), hashlib.sha256).hexdigest()[:32]

    def new_nonce(self, now: float) -> str:
        issued = f"{now:.3f}"
        return f"{issued}.{self._sign(issued)}"

    def _nonce_issued_at(self, nonce: str) -> float | None:
        issued, dot, signature = nonce.rpartition(".")
        if not dot or not hmac.compare_digest(signature.encode(), self._sign(issued).encode()):
            return None
        try:
            return float(issued)
        except ValueError:
            return None

    def challenge(self, now: float, *, stale: bool = False) -> str:
        """A ``WWW-Authenticate`` header value with a fresh nonce."""
        value = (
            f'Digest realm="{self.realm}", qop="auth", algorithm=MD5, '
            f'nonce="{self.new_nonce(now)}", opaque="{self._opaque}"'
        )
        return value + (", stale=true" if stale else "")

    # ------------------------------------------------------------------ verify

    def verify(
        self,
        creds: DigestCredentials,
        *,
        password: str | None,
        method: str,
        request_uri: str,
        now: float,
    ) -> DigestResult:
        """Check ``creds`` for a request; ``password`` None means unknown user."""
        self._forget_expired(now)
        if (
            creds.realm != self.realm
            or creds.algorithm.upper() != "MD5"
            or creds.qop != "auth"
            or not creds.cnonce
            or not _same_uri(creds.uri, request_uri)
        ):
            return DigestResult.MALFORMED
        try:
            nc = int(creds.nc, 16)
        except ValueError:
            return DigestResult.MALFORMED
        issued = self._nonce_issued_at(creds.nonce)
        if issued is None:
            return DigestResult.BAD_CREDENTIALS
        # Compute the hash even for an unknown user so timing does not reveal it.
        expected = expected_response(creds, password or "", method)
        matches = hmac.compare_digest(expected.encode(), creds.response.encode())
        if password is None or not matches:
            return DigestResult.BAD_CREDENTIALS
        if now - issued > self.nonce_lifetime or issued > now + 5:
            return DigestResult.STALE_NONCE
        last = self._last_nc.get(creds.nonce)
        if last is not None and nc <= last[0]:
            return DigestResult.REPLAYED
        self._last_nc[creds.nonce] = (nc, issued)
        return DigestResult.OK

    def _forget_expired(self, now: float) -> None:
        if not self._last_nc:
            return
        horizon = now - self.nonce_lifetime
        expired = [n for n, (_, issued) in self._last_nc.items() if issued < horizon]
        for nonce in expired:
            del self._last_nc[nonce]

    @property
    def tracked_nonces(self) -> int:
        """How many nonces have an ``nc`` recorded (for tests and metrics)."""
        return len(self._last_nc)
