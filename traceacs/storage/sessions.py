# SQL text is assembled only from constants; values are always bound parameters.
# ruff: noqa: S608
"""The shared CWMP session store in SQL (`SessionStore`; table of migration 6).

Every statement is one round trip and atomic on its own: a claim is an insert that a
live row of the same device refuses (``device_key`` is unique), a save is an update
guarded by the version the writer read, a take is a delete guarded the same way. So
two processes can never both advance, or both expire, one session.
"""

from __future__ import annotations

from typing import Final

from traceacs.provisioning.session_store import StoredSession
from traceacs.storage.database import Database, Row

_COLUMNS: Final = "session_key, device_key, session_id, version, expires_at, state"


def _session(row: Row) -> StoredSession:
    return StoredSession(
        key=row["session_key"],
        device_key=row["device_key"],
        session_id=row["session_id"],
        version=int(row["version"]),
        expires_at=float(row["expires_at"]),
        state=row["state"],
    )


class SqlSessionStore:
    """`SessionStore` over a migrated `Database` (the inventory's, shared by all ACS)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, session: StoredSession) -> bool:
        inserted = await self.db.execute(
            f"INSERT INTO cwmp_sessions ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT DO NOTHING",
            session.key,
            session.device_key,
            session.session_id,
            session.version,
            session.expires_at,
            session.state,
        )
        return inserted == 1

    async def load(self, key: str) -> StoredSession | None:
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM cwmp_sessions WHERE session_key = $1", key
        )
        return _session(row) if row is not None else None

    async def for_device(self, device_key: str) -> StoredSession | None:
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM cwmp_sessions WHERE device_key = $1", device_key
        )
        return _session(row) if row is not None else None

    async def save(self, session: StoredSession, expected_version: int) -> bool:
        changed = await self.db.execute(
            "UPDATE cwmp_sessions SET version = $1, expires_at = $2, state = $3"
            " WHERE session_key = $4 AND version = $5",
            session.version,
            session.expires_at,
            session.state,
            session.key,
            expected_version,
        )
        return changed == 1

    async def take(self, key: str, version: int) -> bool:
        deleted = await self.db.execute(
            "DELETE FROM cwmp_sessions WHERE session_key = $1 AND version = $2", key, version
        )
        return deleted == 1

    async def delete(self, key: str) -> None:
        await self.db.execute("DELETE FROM cwmp_sessions WHERE session_key = $1", key)

    async def expired(self, now: float, limit: int = 100) -> list[StoredSession]:
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM cwmp_sessions WHERE expires_at < $1"
            " ORDER BY expires_at LIMIT $2",
            now,
            limit,
        )
        return [_session(r) for r in rows]
