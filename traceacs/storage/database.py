"""The small surface the repository needs from a database engine.

The repository (`repository.py`) is written once against `Database`; each engine is
one adapter file (`sqlite.py`, `postgres.py`) that runs the same SQL text. SQL is
written with PostgreSQL's ``$1`` placeholders (SQLite's adapter rewrites them to its
own numbered ``?1``). Adapters translate driver errors into `StorageUnavailable` (with
credential-free messages) and `UniqueViolation`, so no driver exception leaks out.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias, TypeVar

T = TypeVar("T")

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


StatementKind = Literal["fetchrow", "fetch", "fetchval", "execute", "executemany"]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a transaction script: what `Executor` method to call, with what.

    A script yields these and is sent each one's result (what the `Executor` method of
    the same name returns), or has the translated error thrown in at the ``yield``.
    """

    kind: StatementKind
    sql: str
    args: tuple[Any, ...]


def fetchrow(sql: str, *args: Any) -> Statement:
    return Statement("fetchrow", sql, args)


def fetch(sql: str, *args: Any) -> Statement:
    return Statement("fetch", sql, args)


def fetchval(sql: str, *args: Any) -> Statement:
    return Statement("fetchval", sql, args)


def execute(sql: str, *args: Any) -> Statement:
    return Statement("execute", sql, args)


def executemany(sql: str, rows: Iterable[Sequence[Any]]) -> Statement:
    return Statement("executemany", sql, (list(rows),))


TransactionScript: TypeAlias = Generator[Statement, Any, T]
"""A transaction written as a generator: ``row = yield fetchrow(...)``; its ``return``
value is the transaction's. Plain computation between statements only (no awaiting,
no event-loop objects): on SQLite the whole script runs on the database thread, in one
trip, which is why it exists (a ``transaction()`` block costs a trip per statement)."""


async def run_script(tx: Executor, script: TransactionScript[T]) -> T:
    """Drive ``script`` statement by statement on ``tx`` (an open transaction)."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            statement = script.send(result) if error is None else script.throw(error)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result, error = None, None
        try:
            if statement.kind == "executemany":
                await tx.executemany(statement.sql, *statement.args)
            else:
                result = await getattr(tx, statement.kind)(statement.sql, *statement.args)
        except Exception as exc:  # handed to the script, which may catch it
            error = exc


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

    async def run_transaction(self, script: TransactionScript[T], *, lock: int | None = None) -> T:
        """Run ``script`` as one transaction (as `transaction` would) and return its value.

        Committed when the script returns, rolled back when it raises (its own error or
        a statement's, translated like any other). On SQLite the whole transaction is
        one trip to the database thread; once there it completes even if the caller is
        cancelled meanwhile (like a ``COMMIT`` already sent).
        """
        ...

    async def close(self) -> None: ...
