"""The live CWMP sessions of one ACS process, and how a POST finds its session.

A session is found by its cookie, or, for CPEs that drop cookies, by the TCP
connection it arrived on (the same keep-alive connection keeps the session). Never by
client IP: many CPEs share one address behind NAT. A device (OUI + serial number) has
at most one session at a time.

The cookie is a bearer secret: it is never logged. Logs and handlers get
``session_id``, a separate random id.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from traceacs.cwmp.session import CwmpSession
from traceacs.provisioning.session_handler import QuietEnding, SessionHandler

COOKIE_NAME = "traceacs_session"


@runtime_checkable
class Connection(Protocol):
    """What a session knows of the connection its POSTs came on (the HTTP server's)."""

    def is_closing(self) -> bool: ...


def connection_closed(connection: object | None) -> bool:
    """Whether a session's last TCP connection is gone (``None``: none is known).

    A CPE that reboots, loses power or gives up mid-session leaves its connection
    closed; a CPE between two POSTs of a live session on a keep-alive connection does not.
    """
    if connection is None:
        return True
    return isinstance(connection, Connection) and connection.is_closing()


def new_session_id() -> str:
    """A public, random id for logs and handlers (not the cookie)."""
    return secrets.token_hex(8)


def new_cookie() -> str:
    """A session cookie: a bearer secret, never logged (stored only as its hash)."""
    return secrets.token_urlsafe(32)


_SESSION_ID_BYTES = 8
_COOKIE_BYTES = 32


def new_session_id_and_cookie() -> tuple[str, str]:
    """`new_session_id` and `new_cookie` of a new session from one read of the OS CSPRNG.

    The same texts and the same entropy (8 and 32 independent random bytes, the bytes
    ``secrets`` reads): one ``getrandom`` system call per session instead of two. Nothing
    is kept between calls, so a forked process cannot repeat a parent's cookie.
    """
    raw = os.urandom(_SESSION_ID_BYTES + _COOKIE_BYTES)
    cookie = base64.urlsafe_b64encode(raw[_SESSION_ID_BYTES:]).rstrip(b"=").decode("ascii")
    return raw[:_SESSION_ID_BYTES].hex(), cookie


@dataclass(eq=False)
class LiveSession:
    """One CWMP session in progress: protocol state, handler and bookkeeping."""

    machine: CwmpSession
    handler: SessionHandler
    device_key: str
    namespace: str
    started_at: float
    session_id: str = field(default_factory=new_session_id)
    cookie: str = field(default_factory=new_cookie, repr=False)
    connection: object | None = field(default=None, repr=False)
    event_codes: tuple[str, ...] = ()
    rpcs_sent: int = 0
    cpe_requests: int = 0
    last_response_was_fault: bool = False
    ended: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    version: int = 0
    """The shared store's version this copy reflects (shared session mode only)."""
    cwmp_ids_issued: int = 0
    quiet: QuietEnding | None = field(default=None, repr=False)
    """``handler`` when it can end its session quietly at the empty POST (`QuietEnding`);
    None otherwise, and always for a session shared through a store."""

    def next_cwmp_id(self) -> str:
        """A fresh ``cwmp:ID`` for an RPC the ACS sends."""
        self.cwmp_ids_issued += 1
        return f"{self.session_id}-{self.cwmp_ids_issued}"


class SessionRegistry:
    """The sessions of this process, indexed by cookie, connection and device."""

    def __init__(self) -> None:
        self._by_cookie: dict[str, LiveSession] = {}
        self._by_connection: dict[object, LiveSession] = {}
        self._by_device: dict[str, LiveSession] = {}

    def __len__(self) -> int:
        return len(self._by_cookie)

    def __iter__(self) -> Iterator[LiveSession]:
        return iter(list(self._by_cookie.values()))

    def add(self, session: LiveSession) -> None:
        self._by_cookie[session.cookie] = session
        self._by_device[session.device_key] = session
        if session.connection is not None:
            self._by_connection[session.connection] = session

    def bind_connection(self, session: LiveSession, connection: object) -> None:
        """Remember that ``connection`` now carries ``session`` (CPE may reconnect)."""
        if session.connection is not None and session.connection is not connection:
            self._by_connection.pop(session.connection, None)
        session.connection = connection
        self._by_connection[connection] = session

    def remove(self, session: LiveSession) -> None:
        if self._by_cookie.get(session.cookie) is session:
            del self._by_cookie[session.cookie]
        if self._by_device.get(session.device_key) is session:
            del self._by_device[session.device_key]
        if session.connection is not None and (
            self._by_connection.get(session.connection) is session
        ):
            del self._by_connection[session.connection]

    def find(self, cookie: str | None, connection: object | None) -> LiveSession | None:
        """The session of a POST: by cookie first, then by its TCP connection."""
        if cookie:
            found = self._by_cookie.get(cookie)
            if found is not None:
                return found
        if connection is not None:
            return self._by_connection.get(connection)
        return None

    def for_device(self, device_key: str) -> LiveSession | None:
        return self._by_device.get(device_key)

    def expired(self, now: float) -> list[LiveSession]:
        return [s for s in self._by_cookie.values() if s.machine.is_expired(now)]

    def abandoned(self, now: float, after: float) -> list[LiveSession]:
        """Sessions within their timeout whose connection is closed and that have been
        silent for ``after`` seconds: their CPE gave up mid-session (rebooted, lost
        power, dropped the line), so they need not hold an admission slot until the
        session timeout. A CPE may reconnect within a session, hence the silence too.
        """
        return [
            s
            for s in self._by_cookie.values()
            if not s.machine.is_expired(now)
            and now - s.machine.last_activity >= after
            and connection_closed(s.connection)
        ]
