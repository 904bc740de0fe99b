"""The audit log: one entry per write through the API (who, what, on what, when).

Entries hold the token's id and name (never the token), the HTTP method and path,
the target the handler named (a serial number, a profile name...) and the status the
API answered, so refused writes are on record too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    token_id: int | None
    token_name: str | None
    method: str
    path: str
    target: str | None
    status: int


class AuditLog(Protocol):
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
    ) -> None: ...

    async def list_audit(
        self, *, token_id: int | None = None, limit: int = 100, offset: int = 0
    ) -> list[AuditEntry]:
        """Entries, newest first."""
        ...
