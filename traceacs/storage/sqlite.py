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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from traceacs.provisioning.repository import RepositoryError, StorageUnavailable
from traceacs.storage.database import (
    Dialect,
    Executor,
    Row,
    Statement,
    TransactionScript,
    UniqueViolation,
)

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


@dataclass(frozen=True, slots=True)
class _Query:
    """A statement in SQLite's spelling: plain ``?`` placeholders, and where the
    PostgreSQL text numbered its ``$N`` out of order or more than once, the order in
    which the arguments bind to them."""

    text: str
    order: tuple[int, ...] | None
    """Argument index per ``?``, left to right; None where that is 0, 1, 2, ..."""

    def bind(self, args: Sequence[Any]) -> Sequence[Any]:
        order = self.order
        return args if order is None else tuple([args[i] for i in order])

    def bind_rows(self, rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
        return rows if self.order is None else [self.bind(row) for row in rows]


@functools.lru_cache(maxsize=512)
def _to_sqlite(sql: str) -> _Query:
    """PostgreSQL's ``$1`` placeholders become SQLite's nameless ``?``, the arguments
    reordered where needed. Not SQLite's numbered ``?1``: Python 3.12 deprecates binding
    those from a sequence (a DeprecationWarning per statement, an error under
    ``-W error``), and nameless placeholders bind the same on every version."""
    numbers = [int(n) - 1 for n in _PLACEHOLDER.findall(sql)]
    in_order = numbers == list(range(len(numbers)))
    return _Query(_PLACEHOLDER.sub("?", sql), None if in_order else tuple(numbers))


INLINE_OPCODES_PER_CHECK: Final = 1000
INLINE_OPCODE_BUDGET: Final = 20_000
"""SQLite VM instructions a read may run on the event loop (well under a millisecond;
an indexed point read of a device takes a few hundred)."""


class _InlineBudget:
    """The progress handler of an inline read: interrupts it once over budget."""

    __slots__ = ("exceeded", "left")

    def __init__(self) -> None:
        self.left = INLINE_OPCODE_BUDGET // INLINE_OPCODES_PER_CHECK
        self.exceeded = False

    def __call__(self) -> int:
        self.left -= 1
        if self.left < 0:
            self.exceeded = True
            return 1
        return 0


@functools.lru_cache(maxsize=512)
def _is_read(sql: str) -> bool:
    """A plain ``SELECT`` (it writes nothing, so it never waits for a write lock)."""
    return sql.lstrip()[:6].upper() == "SELECT"


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


def _outcome(
    statement: Callable[[sqlite3.Connection], Any], conn: sqlite3.Connection
) -> tuple[bool, Any]:
    """``(True, result)`` or ``(False, error)``: one statement's fate within a batch."""
    try:
        return True, statement(conn)
    except Exception as exc:
        return False, exc


def _fetchval(conn: sqlite3.Connection, query: _Query, args: tuple[Any, ...]) -> Any:
    row = conn.execute(query.text, query.bind(args)).fetchone()
    return None if row is None else next(iter(row.values()))


def _executemany(conn: sqlite3.Connection, query: _Query, args: tuple[Any, ...]) -> None:
    conn.executemany(query.text, query.bind_rows(args[0])).close()


_RUN: Final[dict[str, Callable[[sqlite3.Connection, _Query, tuple[Any, ...]], Any]]] = {
    "fetchrow": lambda conn, query, args: conn.execute(query.text, query.bind(args)).fetchone(),
    "fetch": lambda conn, query, args: conn.execute(query.text, query.bind(args)).fetchall(),
    "fetchval": _fetchval,
    "execute": lambda conn, query, args: conn.execute(query.text, query.bind(args)).rowcount,
    "executemany": _executemany,
}
"""How each `Statement` kind runs on the connection (on the database thread)."""


class _Connection(Executor):
    """Statements on the one connection; the caller holds the lock."""

    def __init__(self, owner: SqliteDatabase) -> None:
        self._owner = owner

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        conn, query = self._owner.conn, _to_sqlite(sql)
        return await self._owner.run(lambda: conn.execute(query.text, query.bind(args)).fetchone())

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        conn, query = self._owner.conn, _to_sqlite(sql)
        return await self._owner.run(lambda: conn.execute(query.text, query.bind(args)).fetchall())

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else next(iter(row.values()))

    async def execute(self, sql: str, *args: Any) -> int:
        conn, query = self._owner.conn, _to_sqlite(sql)
        return await self._owner.run(lambda: conn.execute(query.text, query.bind(args)).rowcount)

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        conn, query = self._owner.conn, _to_sqlite(sql)
        rows = query.bind_rows(list(args))
        # Close the cursor on the owner thread: handing it to the event loop thread to
        # be freed there can reset a cached statement another executemany is using.
        await self._owner.run(lambda: conn.executemany(query.text, rows).close())


class SqliteDatabase:
    """A `Database` on one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="traceacs-sqlite")
        self._lock = asyncio.Lock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._in_tx = _Connection(self)
        self._queued: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._drains: set[asyncio.Task[None]] = set()

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
        except (sqlite3.Error, OSError, RuntimeError) as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: BaseException) -> BaseException:
        """The repository error for a driver error (other exceptions unchanged)."""
        if isinstance(exc, sqlite3.IntegrityError):
            message = str(exc)
            if message.startswith(_UNIQUE_FAILED):
                return UniqueViolation(message[len(_UNIQUE_FAILED) :])
            return RepositoryError(f"constraint violated: {message}")
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            name = getattr(exc, "sqlite_errorname", type(exc).__name__)
            if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
                return StorageUnavailable(
                    f"SQLite database {self.path} unavailable ({name}: {exc})"
                )
            return RepositoryError(f"SQLite error ({name}): {exc}")
        if isinstance(exc, OSError):  # e.g. the directory for the file cannot be created
            return StorageUnavailable(
                f"SQLite database {self.path} unavailable ({type(exc).__name__}: {exc})"
            )
        if isinstance(exc, RuntimeError):  # executor shut down under us
            return StorageUnavailable(f"SQLite database {self.path} is closed")
        return exc

    async def _autocommit(
        self, statement: Callable[[sqlite3.Connection], T], *, read: bool = False
    ) -> T:
        """Run one autocommit statement, sharing a thread hop with those queued with it.

        A ``read`` finding the connection free (no transaction, nothing queued or
        running) runs at once on the event loop: an indexed point read takes tens of
        microseconds, less than the two thread switches of a hop, and on a busy host
        each switch may wait for a time slice. In WAL mode a read never waits for a
        writer, so it cannot stall the loop on another process's write; a read that
        runs longer than a point read (a scan: a filtered listing, a count) is
        interrupted after `INLINE_OPCODE_BUDGET` SQLite instructions and re-run on the
        thread. Writes always go to the thread.

        Under load many sessions wait for the one connection at once; instead of one
        trip to the database thread (and back through the event loop) each, every
        statement queued by the time the connection is free runs in the same trip, one
        after the other, each still its own autocommit statement with its own result
        or error. A caller cancelled before its turn is skipped.
        """
        if read and not self._queued and not self._lock.locked():
            conn = self.conn
            budget = _InlineBudget()
            conn.set_progress_handler(budget, INLINE_OPCODES_PER_CHECK)
            try:
                return statement(conn)
            except sqlite3.OperationalError as exc:
                if not budget.exceeded:
                    raise self._translate(exc) from None
                # Too long for the event loop (a scan, not a point read): the thread.
            except (sqlite3.Error, OSError) as exc:
                raise self._translate(exc) from None
            finally:
                conn.set_progress_handler(None, 0)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append((statement, future))
        if len(self._queued) == 1:
            drain = loop.create_task(self._drain())
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        result: T = await future
        return result

    async def _drain(self) -> None:
        async with self._lock:
            batch, self._queued = self._queued, []
            batch = [(s, f) for s, f in batch if not f.done()]
            if not batch:
                return
            try:
                conn = self.conn
                outcomes = await self.run(lambda: [_outcome(s, conn) for s, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if future.done():
                        continue
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                return
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(self._translate(value))

    # -- autocommit statements: run under the lock (never inside a transaction), batched --

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        query = _to_sqlite(sql)
        bound = query.bind(args)
        return await self._autocommit(
            lambda conn: conn.execute(query.text, bound).fetchone(), read=_is_read(sql)
        )

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        query = _to_sqlite(sql)
        bound = query.bind(args)
        return await self._autocommit(
            lambda conn: conn.execute(query.text, bound).fetchall(), read=_is_read(sql)
        )

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else next(iter(row.values()))

    async def execute(self, sql: str, *args: Any) -> int:
        query = _to_sqlite(sql)
        bound = query.bind(args)
        return await self._autocommit(lambda conn: conn.execute(query.text, bound).rowcount)

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

    async def run_transaction(self, script: TransactionScript[T], *, lock: int | None = None) -> T:
        """The whole transaction, ``BEGIN IMMEDIATE`` to ``COMMIT``, in one thread trip.

        It joins the autocommit queue as one more entry of a batch (`_autocommit`), so
        under load several sessions' transactions and statements share a trip; each
        still commits or rolls back on its own.
        """
        del lock  # the single writer already serialises transactions
        result: T = await self._autocommit(functools.partial(self._run_script, script))
        return result

    def _run_script(self, script: TransactionScript[T], conn: sqlite3.Connection) -> T:
        """Drive ``script`` on the database thread inside ``BEGIN IMMEDIATE``/``COMMIT``.

        A statement's driver error is translated before the script sees it (so it can
        catch `UniqueViolation` as on PostgreSQL); whatever ends the script with an
        error rolls the transaction back.
        """
        conn.execute("BEGIN IMMEDIATE")
        try:
            result: Any = None
            error: BaseException | None = None
            while True:
                try:
                    statement: Statement = (
                        script.send(result) if error is None else script.throw(error)
                    )
                except StopIteration as stop:
                    value: T = stop.value
                    break
                result, error = None, None
                try:
                    result = _RUN[statement.kind](conn, _to_sqlite(statement.sql), statement.args)
                except (sqlite3.Error, OSError) as exc:
                    error = self._translate(exc)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the first error is worth reporting
                    conn.execute("ROLLBACK")
            raise
        return value

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
