"""PostgreSQL through an asyncpg pool: the store several ACS processes share.

Statements outside a transaction take any pooled connection; a transaction keeps one
connection and may hold an advisory lock (``pg_advisory_xact_lock``) so that work such
as migrations or imports runs once at a time across every ACS process. Driver errors
are translated here; their messages are scrubbed of the URL and its password because
asyncpg sometimes quotes connection parameters back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar

import asyncpg
import asyncpg.exceptions as pgerr

from traceacs.provisioning.repository import RepositoryError, StorageUnavailable
from traceacs.storage.database import (
    Dialect,
    Executor,
    Row,
    TransactionScript,
    UniqueViolation,
    run_script,
)
from traceacs.storage.url import StoreLocation

T = TypeVar("T")

CONNECT_TIMEOUT_S: Final = 5.0
COMMAND_TIMEOUT_S: Final = 30.0

# Errors that mean "the database cannot serve us now", not "the statement is wrong".
_UNAVAILABLE: Final = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    pgerr.PostgresConnectionError,
    pgerr.OperatorInterventionError,
    pgerr.InsufficientResourcesError,
    pgerr.InvalidAuthorizationSpecificationError,
    pgerr.InvalidPasswordError,
    pgerr.InvalidCatalogNameError,
)


def _rows(records: Iterable[asyncpg.Record]) -> list[Row]:
    return [dict(r) for r in records]


def _rowcount(status: str) -> int:
    """asyncpg returns the command tag, e.g. ``UPDATE 3``; the count is its last word."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _Guard:
    """Turns driver exceptions into the repository's own, without credentials."""

    def __init__(self, location: StoreLocation) -> None:
        self.location = location

    async def __call__(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except pgerr.UniqueViolationError as exc:
            raise UniqueViolation(exc.constraint_name or "unknown") from None
        except _UNAVAILABLE as exc:
            raise self.unavailable(exc) from None
        except pgerr.PostgresError as exc:
            detail = self.location.scrub(f"{type(exc).__name__}: {exc}")
            raise RepositoryError(f"PostgreSQL error ({detail})") from None

    def unavailable(self, exc: BaseException) -> StorageUnavailable:
        detail = self.location.scrub(f"{type(exc).__name__}: {exc}")
        return StorageUnavailable(
            f"PostgreSQL at {self.location.redacted()} unavailable ({detail})"
        )


class _PgConnection(Executor):
    def __init__(self, conn: Any, guard: _Guard) -> None:
        # ``conn`` is an asyncpg Connection or Pool: both offer the same query methods.
        self._conn = conn
        self._guard = guard

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        record = await self._guard(self._conn.fetchrow(sql, *args))
        return None if record is None else dict(record)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return _rows(await self._guard(self._conn.fetch(sql, *args)))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._guard(self._conn.fetchval(sql, *args))

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._guard(self._conn.execute(sql, *args))
        return _rowcount(status)

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        await self._guard(self._conn.executemany(sql, list(args)))


class PostgresDatabase(_PgConnection):
    """A `Database` on a PostgreSQL server."""

    def __init__(self, pool: asyncpg.Pool, guard: _Guard) -> None:
        super().__init__(pool, guard)
        self._pool = pool

    @property
    def dialect(self) -> Dialect:
        return "postgresql"

    @classmethod
    async def open(
        cls, location: StoreLocation, *, min_size: int = 1, max_size: int = 10
    ) -> PostgresDatabase:
        guard = _Guard(location)
        try:
            pool = await asyncio.wait_for(
                asyncpg.create_pool(
                    dsn=location.target,
                    min_size=min_size,
                    max_size=max_size,
                    timeout=CONNECT_TIMEOUT_S,
                    command_timeout=COMMAND_TIMEOUT_S,
                ),
                timeout=CONNECT_TIMEOUT_S * 2,
            )
        except _UNAVAILABLE as exc:
            raise guard.unavailable(exc) from None
        except (pgerr.PostgresError, ValueError) as exc:
            # Anything else at connect time (bad option in the URL, ...) is still
            # "cannot use this database"; the URL must not leak through the message.
            raise guard.unavailable(exc) from None
        return cls(pool, guard)

    @asynccontextmanager
    async def transaction(self, *, lock: int | None = None) -> AsyncIterator[Executor]:
        guard = self._guard
        async with (
            _acquire(self._pool, guard) as conn,
            _PgTransaction(conn, guard),
        ):
            tx = _PgConnection(conn, guard)
            if lock is not None:
                await tx.execute("SELECT pg_advisory_xact_lock($1)", lock)
            yield tx

    async def run_transaction(self, script: TransactionScript[T], *, lock: int | None = None) -> T:
        """The script's statements one by one in `transaction` (a round trip each, as a
        hand-written block would: the server is remote, there is no thread to save)."""
        async with self.transaction(lock=lock) as tx:
            return await run_script(tx, script)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._pool.close(), timeout=CONNECT_TIMEOUT_S)
        except (TimeoutError, *_UNAVAILABLE):
            self._pool.terminate()


@asynccontextmanager
async def _acquire(pool: asyncpg.Pool, guard: _Guard) -> AsyncIterator[Any]:
    conn = await guard(pool.acquire())
    try:
        yield conn
    finally:
        try:
            await pool.release(conn)
        except (pgerr.PostgresError, *_UNAVAILABLE):
            conn.terminate()  # broken connection: drop it, the pool opens a new one


class _PgTransaction:
    """``conn.transaction()`` with its start, commit and rollback errors translated."""

    def __init__(self, conn: Any, guard: _Guard) -> None:
        self._conn = conn
        self._tx: Any = None
        self._guard = guard

    async def __aenter__(self) -> None:
        try:
            # Inside the guard: on a connection that died after the pool handed it out,
            # asyncpg raises InterfaceError already here, which must read "unavailable".
            self._tx = self._conn.transaction()
        except _UNAVAILABLE as exc:
            raise self._guard.unavailable(exc) from None
        await self._guard(self._tx.start())

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            await self._guard(self._tx.commit())
            return
        try:
            await self._tx.rollback()
        except (pgerr.PostgresError, *_UNAVAILABLE):
            pass  # the connection is gone; the server rolls back; report the first error
