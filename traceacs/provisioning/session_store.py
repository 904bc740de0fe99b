"""Where paused CWMP sessions live when several ACS processes share them (a port).

One row per open session: the hash of its cookie (the key a POST brings), the device it
belongs to (unique: one session per device across all processes), a version that every
write must name (compare-and-set: two processes never both advance a session), an
expiry time, and the session's state as JSON text (protocol state + handler snapshot,
see `traceacs.provisioning.session_snapshot`; no secrets).

`traceacs.storage.sessions` implements it on SQLite and PostgreSQL (the table of
migration 6); `MemorySessionStore` here serves tests that run two endpoints in one
process. Without a store (the default) sessions live in process memory only, as before:
no database write per request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Protocol


def cookie_key(cookie: str) -> str:
    """The stored key of a session cookie: its SHA-256, so the table holds no bearer secret."""
    return hashlib.sha256(cookie.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredSession:
    """One row of the session store."""

    key: str
    """`cookie_key` of the session's cookie."""
    device_key: str
    session_id: str
    version: int
    expires_at: float
    state: str


class SessionStore(Protocol):
    """The shared store of open CWMP sessions (see the module docstring)."""

    async def claim(self, session: StoredSession) -> bool:
        """Insert a new session; False when its device already has a session row."""
        ...

    async def load(self, key: str) -> StoredSession | None: ...

    async def for_device(self, device_key: str) -> StoredSession | None: ...

    async def save(self, session: StoredSession, expected_version: int) -> bool:
        """Replace the row if it still has ``expected_version``; False if it moved on."""
        ...

    async def take(self, key: str, version: int) -> bool:
        """Delete the row if it still has ``version``: True for the one caller that did."""
        ...

    async def delete(self, key: str) -> None: ...

    async def expired(self, now: float, limit: int = 100) -> list[StoredSession]:
        """Rows whose ``expires_at`` is past (a sweeper then `take`s and ends them)."""
        ...


class MemorySessionStore:
    """A `SessionStore` in a dict: for tests of endpoints sharing one store in-process."""

    def __init__(self) -> None:
        self._rows: dict[str, StoredSession] = {}

    async def claim(self, session: StoredSession) -> bool:
        if any(r.device_key == session.device_key for r in self._rows.values()):
            return False
        self._rows[session.key] = session
        return True

    async def load(self, key: str) -> StoredSession | None:
        return self._rows.get(key)

    async def for_device(self, device_key: str) -> StoredSession | None:
        return next((r for r in self._rows.values() if r.device_key == device_key), None)

    async def save(self, session: StoredSession, expected_version: int) -> bool:
        found = self._rows.get(session.key)
        if found is None or found.version != expected_version:
            return False
        self._rows[session.key] = replace(session)
        return True

    async def take(self, key: str, version: int) -> bool:
        found = self._rows.get(key)
        if found is None or found.version != version:
            return False
        del self._rows[key]
        return True

    async def delete(self, key: str) -> None:
        self._rows.pop(key, None)

    async def expired(self, now: float, limit: int = 100) -> list[StoredSession]:
        return [r for r in self._rows.values() if r.expires_at < now][:limit]
