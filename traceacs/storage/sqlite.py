"""SQLite, the embedded default: one connection, one thread, one writer.

SQLite allows one writer at a time, so the ACS keeps exactly one connection and runs
every statement on one dedicated thread (the event loop never blocks on disk). An
asyncio lock keeps a transaction's statements together: nothing from another task can
run on the connection between ``BEGIN`` and ``COMMIT``. WAL lets other processes (the
CLI while ``serve`` runs) read and, waiting up to ``busy_timeout``, write.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

from traceacs.provisioning.repository import RepositoryError, StorageUnavailable
from traceacs.storage.database import Dialect, Executor, Row, UniqueViolation

T = TypeVar("T")

BUSY_TIMEOUT_MS: Final = 5000

# Primary result codes that mean "the database cannot be used now", not "bad SQL".
_UNAVAILABLE_CODES: Final = frozenset(
    {
        3,  # SQLITE_PERM
        5,  # SQLITE_BUSY
        6,  # SQLITE_LOCKED
        8,  # SQLITE_READONLY
        10,  # SQLITE_IOERR
        11,  # SQLITE_CORRUPT
        13,  # SQLITE_FULL
        14,  # SQLITE_CANTOPEN
        26,  # SQLITE_NOTADB
    }
)
_PLACEHOLDER = re.compile(r"\$(\d+)")
_UNIQUE_FAILED = "UNIQUE constraint failed: "


@functools.lru_cache(maxsize=512)
def _to_sqlite(sql: str) -> str:
    """PostgreSQL's ``$1`` placeholders become SQLite's numbered ``?1``."""
    return _PLACEHOLDER.sub(r"?\1", sql)


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


class _Connection(Executor):
    """Statements on the one connection; the caller holds the lock."""

    def __init__(self, owner: SqliteDatabase) -> None:
        self._owner = owner

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        conn = self._owner.conn
        return await self._owner.run(lambda: conn.execute(_to_sqlite(sql), args).fetchone())

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        conn = self._owner.conn
        return await self._owner.run(lambda: conn.execute(_to_sqlite(sql), args).fetchall())

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else next(iter(row.values()))

    async def execute(self, sql: str, *args: Any) -> int:
        conn = self._owner.conn
        return await self._owner.run(lambda: conn.execute(_to_sqlite(sql), args).rowcount)

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        conn = self._owner.conn
        rows = list(args)
        # Close the cursor on the owner thread: handing it to the event loop thread to
        # be freed there can reset a cached statement another executemany is using.
        await self._owner.run(lambda: conn.executemany(_to_sqlite(sql), rows).close())


class SqliteDatabase:
    """A `Database` on one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="traceacs-sqlite")
        self._lock = asyncio.Lock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._in_tx = _Connection(self)

    @property
    def dialect(self) -> Dialect:
        return "sqlite"

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        db = cls(path)
        try:
            db._conn = await db.run(db._connect)
        except BaseException:
            db._executor.shutdown(wait=False)
            raise
        return db

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # only ever used on the executor's one thread
            timeout=BUSY_TIMEOUT_MS / 1000,
            cached_statements=256,
        )
        try:
            conn.row_factory = _dict_row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageUnavailable(f"SQLite database {self.path} is closed")
        return self._conn

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the database thread, translating driver errors."""
        if self._closed:
            raise StorageUnavailable(f"SQLite database {self.path} is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except sqlite3.IntegrityError as exc:
            message = str(exc)
            if message.startswith(_UNIQUE_FAILED):
                raise UniqueViolation(message[len(_UNIQUE_FAILED) :]) from None
            raise RepositoryError(f"constraint violated: {message}") from None
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            name = getattr(exc, "sqlite_errorname", type(exc).__name__)
            if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
                raise StorageUnavailable(
                    f"SQLite database {self.path} unavailable ({name}: {exc})"
                ) from None
            raise RepositoryError(f"SQLite error ({name}): {exc}") from None
        except OSError as exc:  # e.g. the directory for the file cannot be created
            raise StorageUnavailable(
                f"SQLite database {self.path} unavailable ({type(exc).__name__}: {exc})"
            ) from None
        except RuntimeError as exc:  # executor shut down under us
            raise StorageUnavailable(f"SQLite database {self.path} is closed") from exc

    # -- autocommit statements: each takes the lock so it never lands in a transaction --

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        async with self._lock:
            return await self._in_tx.fetchrow(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._lock:
            return await self._in_tx.fetch(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._lock:
            return await self._in_tx.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._lock:
            return await self._in_tx.execute(sql, *args)

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        async with self._lock:
            await self._in_tx.executemany(sql, args)

    @asynccontextmanager
    async def transaction(self, *, lock: int | None = None) -> AsyncIterator[Executor]:
        """``BEGIN IMMEDIATE``: take the write lock up front, so no upgrade deadlocks."""
        del lock  # the single writer already serialises transactions
        async with self._lock:
            conn = self.conn
            try:
                # Inside the try: if we are cancelled while BEGIN runs on the thread, the
                # rollback (queued behind it on the same thread) still ends it.
                await self.run(lambda: conn.execute("BEGIN IMMEDIATE"))
                yield self._in_tx
                await self.run(lambda: conn.execute("COMMIT"))
            except BaseException:
                await asyncio.shield(self._rollback(conn))
                raise

    async def _rollback(self, conn: sqlite3.Connection) -> None:
        with contextlib.suppress(RepositoryError):  # the original error is worth reporting
            await self.run(lambda: conn.execute("ROLLBACK") if conn.in_transaction else None)

    async def close(self) -> None:
        if self._closed:
            return
        conn = self._conn
        if conn is not None:
            async with self._lock:
                await self.run(conn.close)
        self._closed = True
        self._conn = None
        self._executor.shutdown(wait=True)
