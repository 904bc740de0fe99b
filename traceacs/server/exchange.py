"""One POST of a CPE and the ACS's answer, independent of any HTTP library.

The CWMP endpoint needs little of HTTP: the method and raw path (Digest hashes them),
the Cookie and Authorization headers, the connection the POST came on (CPEs that drop
cookies keep their session by connection), and the whole body, already read, de-chunked
and decompressed under the size cap. It answers a status, a body, and a few headers.
Keeping these two types small keeps the endpoint testable without a server, and lets the
HTTP server (`traceacs.server.http11`) build its response bytes directly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class CwmpRequest:
    """A complete POST: what the endpoint reads of it.

    Not frozen, unlike `CwmpReply`: one is built per POST, and a frozen dataclass's
    ``__init__`` (``object.__setattr__`` per field) costs four times a plain one's; the
    server builds it and the endpoint only reads it.
    """

    method: str
    raw_path: str
    """The request-target as sent (``/acs?x=1``): Digest's ``uri`` must match it."""
    body: bytes
    cookies: tuple[str, ...] = ()
    """Every ``Cookie`` header, in order (CPEs send one or several)."""
    authorization: str | None = None
    """The first ``Authorization`` header."""
    connection: object | None = None
    """The connection the POST came on; it has ``is_closing()`` (see `cwmp_sessions`)."""


TEXT_PLAIN = "text/plain; charset=utf-8"
TEXT_XML = "text/xml; charset=utf-8"


@dataclass(frozen=True, slots=True)
class CwmpReply:
    """The answer to a POST: status, body and the headers the endpoint decides."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    """Further headers (``Retry-After``, one ``WWW-Authenticate`` per challenge)."""
    set_cookie: str | None = None
    """The whole ``Set-Cookie`` value (name, value and attributes)."""
    close: bool = False
    """Close the connection after this answer."""


def text_reply(
    status: int, text: str, *, headers: tuple[tuple[str, str], ...] = (), close: bool = False
) -> CwmpReply:
    """A short plain-text answer (errors and refusals)."""
    return CwmpReply(status, text.encode(), TEXT_PLAIN, headers, close=close)


NO_CONTENT = CwmpReply(204)
"""The empty ACS answer (never a 200 with an empty body: that broke CPEs)."""
