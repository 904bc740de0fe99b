# SQL text is assembled only from constants; values are always bound parameters.
# ruff: noqa: S608
"""API tokens and the audit log in SQL: the `TokenStore` and `AuditLog` of the API.

Shares the inventory's `Database` (``SqlApiStore(repository.db)``), so the API, the
``traceacs tokens`` command and the ACS see the same tokens on SQLite and PostgreSQL.
Tokens are looked up by their SHA-256 (a unique index); the plaintext is never stored.
"""

from __future__ import annotations

from typing import Any

from traceacs.auth.audit import AuditEntry
from traceacs.auth.tokens import ApiToken, parse_role
from traceacs.storage.database import Database, Row

_TOKEN_COLUMNS = "id, name, role, created_at, revoked_at"  # noqa: S105 - column names
_AUDIT_COLUMNS = "id, at, token_id, token_name, method, path, target, status"


def _time(value: Any) -> float | None:
    return None if value is None else float(value)


def _token(row: Row) -> ApiToken:
    return ApiToken(
        id=int(row["id"]),
        name=row["name"],
        role=parse_role(row["role"]),
        created_at=float(row["created_at"]),
        revoked_at=_time(row["revoked_at"]),
    )


def _audit(row: Row) -> AuditEntry:
    return AuditEntry(
        id=int(row["id"]),
        at=float(row["at"]),
        token_id=None if row["token_id"] is None else int(row["token_id"]),
        token_name=row["token_name"],
        method=row["method"],
        path=row["path"],
        target=row["target"],
        status=int(row["status"]),
    )


class SqlApiStore:
    """`TokenStore` + `AuditLog` over a migrated `Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- tokens ----------------------------------------------------------------------

    async def create_token(self, name: str, role: str, token_hash: str, now: float) -> ApiToken:
        row = await self.db.fetchrow(
            "INSERT INTO api_tokens (name, role, token_hash, created_at)"
            f" VALUES ($1, $2, $3, $4) RETURNING {_TOKEN_COLUMNS}",
            name,
            parse_role(role),
            token_hash,
            float(now),
        )
        assert row is not None  # INSERT ... RETURNING always returns the row
        return _token(row)

    async def find_token(self, token_hash: str) -> ApiToken | None:
        row = await self.db.fetchrow(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1", token_hash
        )
        return None if row is None else _token(row)

    async def list_tokens(self) -> list[ApiToken]:
        rows = await self.db.fetch(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens ORDER BY id")
        return [_token(r) for r in rows]

    async def revoke_token(self, token_id: int, now: float) -> bool:
        changed = await self.db.execute(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            token_id,
            float(now),
        )
        return changed > 0

    # -- audit log -------------------------------------------------------------------

    async def record_audit(
        self,
        *,
        at: float,
        token_id: int | None,
        token_name: str | None,
        method: str,
        path: str,
        target: str | None,
        status: int,
    ) -> None:
        await self.db.execute(
            "INSERT INTO audit_log (at, token_id, token_name, method, path, target, status)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            float(at),
            token_id,
            token_name,
            method,
            path,
            target,
            status,
        )

    async def list_audit(
        self, *, token_id: int | None = None, limit: int = 100, offset: int = 0
    ) -> list[AuditEntry]:
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        where, args = "", [limit, offset]
        if token_id is not None:
            where = " WHERE token_id = $3"
            args.append(token_id)
        rows = await self.db.fetch(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_log{where}"
            " ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2",
            *args,
        )
        return [_audit(r) for r in rows]
