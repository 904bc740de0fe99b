"""The client side of HTTP authentication, sans-IO: answering a CPE's challenge.

The ACS is the *client* when it sends a connection request: the CPE challenges with
``WWW-Authenticate`` and the ACS answers. This module picks the challenge to answer
(Digest first; Basic only when the caller allows it, since Basic sends the password in
clear) and builds the ``Authorization`` value. It does no I/O and keeps no state; the
caller counts ``nc`` and supplies the ``cnonce`` (random by default).

Only MD5 with ``qop=auth`` (or no qop, RFC 2069 style, which old CPEs still send) is
supported: that is what CPEs implement. Nothing here logs; no password appears in an
exception message.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from traceacs.server.digest import parse_auth_params

Scheme = Literal["digest", "basic"]


class UnsupportedChallenge(ValueError):
    """No challenge the client may answer (unknown scheme, algorithm or qop)."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` challenge."""

    scheme: Scheme
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def nonce(self) -> str:
        return self.params.get("nonce", "")

    @property
    def stale(self) -> bool:
        return self.params.get("stale", "").lower() == "true"


def _top_level_pieces(header: str) -> list[str]:
    """Split on commas outside double quotes."""
    pieces: list[str] = []
    buf: list[str] = []
    in_quotes = False
    escaped = False
    for ch in header:
        if escaped:
            escaped = False
        elif ch == "\\" and in_quotes:
            escaped = True
        elif ch == '"':
            in_quotes = not in_quotes
        elif ch == "," and not in_quotes:
            pieces.append("".join(buf).strip())
            buf = []
            continue
        buf.append(ch)
    pieces.append("".join(buf).strip())
    return [p for p in pieces if p]


_SCHEME_START = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)(?:\s+(.*))?$", re.DOTALL)


def _split_challenges(header: str) -> list[tuple[str, str]]:
    """``Digest a=b, Basic realm=x`` -> ``[("digest", "a=b"), ("basic", "realm=x")]``.

    Several challenges may share one header: a comma-separated piece that begins with a
    bare token (no ``=`` right after it) starts a new challenge.
    """
    out: list[tuple[str, list[str]]] = []
    for piece in _top_level_pieces(header):
        match = _SCHEME_START.match(piece)
        if match and not piece[len(match.group(1)) :].lstrip().startswith("="):
            out.append((match.group(1).lower(), [match.group(2) or ""]))
        elif out:
            out[-1][1].append(piece)
    return [(scheme, ", ".join(p for p in params if p)) for scheme, params in out]


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """The Digest and Basic challenges of ``WWW-Authenticate`` values (others skipped)."""
    found: list[Challenge] = []
    for header in headers:
        for scheme, rest in _split_challenges(header):
            if scheme == "digest":
                found.append(Challenge("digest", parse_auth_params(rest)))
            elif scheme == "basic":
                found.append(Challenge("basic", parse_auth_params(rest)))
    return found


def _digest_usable(challenge: Challenge) -> bool:
    algorithm = challenge.params.get("algorithm", "MD5").upper()
    qops = [q.strip().lower() for q in challenge.params.get("qop", "").split(",") if q.strip()]
    return algorithm == "MD5" and (not qops or "auth" in qops) and bool(challenge.nonce)


def choose_challenge(challenges: Iterable[Challenge], *, allow_basic: bool) -> Challenge:
    """The challenge to answer: a usable Digest one, else Basic when allowed."""
    candidates = list(challenges)
    for challenge in candidates:
        if challenge.scheme == "digest" and _digest_usable(challenge):
            return challenge
    if allow_basic:
        for challenge in candidates:
            if challenge.scheme == "basic":
                return challenge
    schemes = ", ".join(sorted({c.scheme for c in candidates})) or "none"
    raise UnsupportedChallenge(f"no usable challenge (offered: {schemes})")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def basic_authorization(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def digest_authorization(
    challenge: Challenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    nc: int = 1,
    cnonce: str | None = None,
) -> str:
    """The ``Authorization: Digest ...`` value answering ``challenge`` (MD5)."""
    if challenge.scheme != "digest" or not _digest_usable(challenge):
        raise UnsupportedChallenge("not a usable MD5 Digest challenge")
    realm, nonce = challenge.realm, challenge.nonce
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    use_qop = bool(challenge.params.get("qop"))
    parts = [
        f'username="{_quote(username)}"',
        f'realm="{_quote(realm)}"',
        f'nonce="{_quote(nonce)}"',
        f'uri="{_quote(uri)}"',
        "algorithm=MD5",
    ]
    if use_qop:
        nc_text = f"{nc:08x}"
        cn = cnonce if cnonce is not None else secrets.token_hex(8)
        response = _md5(f"{ha1}:{nonce}:{nc_text}:{cn}:auth:{ha2}")
        parts += [f'response="{response}"', "qop=auth", f"nc={nc_text}", f'cnonce="{cn}"']
    else:
        parts.append(f'response="{_md5(f"{ha1}:{nonce}:{ha2}")}"')
    if "opaque" in challenge.params:
        parts.append(f'opaque="{_quote(challenge.params["opaque"])}"')
    return "Digest " + ", ".join(parts)


def authorization_for(
    challenge: Challenge, *, method: str, uri: str, username: str, password: str, nc: int = 1
) -> str:
    """The ``Authorization`` value for whichever scheme ``challenge`` is."""
    if challenge.scheme == "basic":
        return basic_authorization(username, password)
    return digest_authorization(
        challenge, method=method, uri=uri, username=username, password=password, nc=nc
    )
