"""The small surface the repository needs from a database engine.

The repository (`repository.py`) is written once against `Database`; each engine is
one adapter file (`sqlite.py`, `postgres.py`) that runs the same SQL text. SQL is
written with PostgreSQL's ``$1`` placeholders (SQLite's adapter rewrites them to its
own numbered ``?1``). Adapters translate driver errors into `StorageUnavailable` (with
credential-free messages) and `UniqueViolation`, so no driver exception leaks out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgresql"]
Row = dict[str, Any]


class UniqueViolation(Exception):
    """A unique constraint or index refused a write; ``constraint`` names it if known."""

    def __init__(self, constraint: str) -> None:
        super().__init__(f"unique constraint {constraint!r} violated")
        self.constraint = constraint


class Executor(Protocol):
    """Runs statements: on its own (autocommit) or inside a transaction."""

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; returns the number of rows it changed."""
        ...

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None: ...


class Database(Executor, Protocol):
    """A connection (pool) to one database; statements outside a transaction autocommit."""

    @property
    def dialect(self) -> Dialect: ...

    def transaction(self, *, lock: int | None = None) -> AbstractAsyncContextManager[Executor]:
        """A write transaction, committed on normal exit and rolled back on error.

        ``lock`` names a cluster-wide mutex held until the end of the transaction (a
        PostgreSQL advisory lock; SQLite's single writer already serialises them).
        """
        ...

    async def close(self) -> None: ...
