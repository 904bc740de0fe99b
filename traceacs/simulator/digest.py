"""HTTP Digest auth (RFC 7616, MD5, qop=auth), both sides, for the simulator.

The simulated CPE answers an ACS's Digest challenge on its POSTs and challenges the
ACS's connection requests. aiohttp offers neither a server side nor (in every supported
version) a client side, and the algorithm is a dozen lines.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def parse_header(value: str) -> dict[str, str]:
    """``Digest realm="x", nonce="y", qop=auth`` -> ``{"realm": "x", ...}``."""
    _, _, rest = value.partition(" ")
    out: dict[str, str] = {}
    key, buf, quoted, in_value = "", "", False, False
    for ch in rest + ",":
        if in_value:
            if ch == '"':
                quoted = not quoted
            elif ch == "," and not quoted:
                out[key.strip().lower()] = buf.strip()
                key, buf, in_value = "", "", False
            else:
                buf += ch
        elif ch == "=":
            in_value = True
        elif ch != ",":
            key += ch
    return out


def response_digest(
    params: Mapping[str, str], method: str, uri: str, username: str, password: str, cnonce: str
) -> str:
    ha1 = _md5(f"{username}:{params.get('realm', '')}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    nonce = params.get("nonce", "")
    if "qop" in params:
        return _md5(f"{ha1}:{nonce}:{params.get('nc', '00000001')}:{cnonce}:auth:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


def authorization(
    challenge: str, method: str, uri: str, username: str, password: str, *, nc: int = 1
) -> str:
    """The ``Authorization`` header answering a ``WWW-Authenticate: Digest`` challenge."""
    params = parse_header(challenge)
    cnonce = secrets.token_hex(8)
    params["nc"] = f"{nc:08x}"
    digest = response_digest(params, method, uri, username, password, cnonce)
    parts = [
        f'username="{username}"',
        f'realm="{params.get("realm", "")}"',
        f'nonce="{params.get("nonce", "")}"',
        f'uri="{uri}"',
        f'response="{digest}"',
        "algorithm=MD5",
    ]
    if "qop" in params:
        parts += ["qop=auth", f"nc={params['nc']}", f'cnonce="{cnonce}"']
    if "opaque" in params:
        parts.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(parts)


def challenge(realm: str, nonce: str) -> str:
    return f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5'


def verify(header: str, method: str, username: str, password: str, nonce: str) -> bool:
    """Whether an ``Authorization: Digest`` header is right for these credentials."""
    if not header.lower().startswith("digest "):
        return False
    params = parse_header(header)
    if params.get("username") != username or params.get("nonce") != nonce:
        return False
    expected = response_digest(
        params, method, params.get("uri", ""), username, password, params.get("cnonce", "")
    )
    return secrets.compare_digest(expected, params.get("response", ""))
