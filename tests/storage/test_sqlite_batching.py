"""SQLite autocommit statements queued together share one trip to the database thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from traceacs.provisioning.repository import RepositoryError, StorageUnavailable
from traceacs.storage import database as stmt
from traceacs.storage.database import TransactionScript, UniqueViolation
from traceacs.storage.sqlite import SqliteDatabase


class CountingDatabase(SqliteDatabase):
    """Counts trips to the database thread."""

    trips = 0

    async def run(self, fn: Callable[[], Any]) -> Any:
        self.trips += 1
        return await super().run(fn)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[CountingDatabase]:
    database = CountingDatabase(str(tmp_path / "batch.db"))
    database._conn = await database.run(database._connect)
    await database.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    database.trips = 0
    try:
        yield database
    finally:
        await database.close()


async def test_concurrent_statements_share_trips_and_keep_their_results(
    db: CountingDatabase,
) -> None:
    writes = [db.execute("INSERT INTO t (k, v) VALUES ($1, $2)", k, f"v{k}") for k in range(50)]
    assert await asyncio.gather(*writes) == [1] * 50
    reads = [db.fetchval("SELECT v FROM t WHERE k = $1", k) for k in range(50)]
    assert await asyncio.gather(*reads) == [f"v{k}" for k in range(50)]
    assert db.trips < 20  # one per statement without batching: 100


async def test_one_failing_statement_fails_alone(db: CountingDatabase) -> None:
    await db.execute("INSERT INTO t (k, v) VALUES (1, 'one')")
    results = await asyncio.gather(
        db.execute("INSERT INTO t (k, v) VALUES (2, 'two')"),
        db.execute("INSERT INTO t (k, v) VALUES (1, 'again')"),
        db.fetchrow("SELECT nonsense FROM nowhere"),
        db.execute("INSERT INTO t (k, v) VALUES (3, 'three')"),
        return_exceptions=True,
    )
    assert results[0] == 1
    assert results[3] == 1
    assert isinstance(results[1], UniqueViolation)
    assert isinstance(results[2], RepositoryError)
    assert [r["k"] for r in await db.fetch("SELECT k FROM t ORDER BY k")] == [1, 2, 3]


async def test_statements_never_land_inside_a_transaction(db: CountingDatabase) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO t (k, v) VALUES (1, 'tx')")
        outside = asyncio.ensure_future(db.fetchval("SELECT count(*) FROM t"))
        await asyncio.sleep(0)  # let it queue (and wait) while the transaction is open
        await tx.execute("DELETE FROM t WHERE k = 1")
        assert not outside.done()
    assert await outside == 0  # it saw the committed state, never the one in between


async def test_a_cancelled_caller_is_skipped_and_others_answered(db: CountingDatabase) -> None:
    async with db.transaction():
        cancelled = asyncio.ensure_future(db.execute("INSERT INTO t (k, v) VALUES (9, 'x')"))
        kept = asyncio.ensure_future(db.execute("INSERT INTO t (k, v) VALUES (8, 'y')"))
        await asyncio.sleep(0)
        cancelled.cancel()
    assert await kept == 1
    assert cancelled.cancelled()
    assert await db.fetchval("SELECT count(*) FROM t WHERE k = 9") == 0


async def test_statements_after_close_are_refused(db: CountingDatabase) -> None:
    await db.close()
    with pytest.raises(StorageUnavailable):
        await db.fetchval("SELECT 1")


async def test_a_point_read_on_a_free_connection_needs_no_trip(db: CountingDatabase) -> None:
    await db.execute("INSERT INTO t (k, v) VALUES (1, 'one')")
    db.trips = 0
    assert await db.fetchval("SELECT v FROM t WHERE k = $1", 1) == "one"
    assert db.trips == 0


async def test_a_long_read_moves_to_the_thread_with_its_full_result(db: CountingDatabase) -> None:
    db.trips = 0
    count = await db.fetchval(
        "SELECT count(*) FROM (WITH RECURSIVE n(i) AS"
        " (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) SELECT i FROM n)"
    )
    assert count == 200_000
    assert db.trips == 1  # interrupted on the event loop, run again on the thread


async def test_an_inline_read_error_is_a_repository_error(db: CountingDatabase) -> None:
    with pytest.raises(RepositoryError):
        await db.fetchrow("SELECT nonsense FROM nowhere")


def _three_statements(k: int) -> TransactionScript[int]:
    yield stmt.execute("INSERT INTO t (k, v) VALUES ($1, 'a')", k)
    yield stmt.execute("UPDATE t SET v = 'b' WHERE k = $1", k)
    value = yield stmt.fetchval("SELECT v FROM t WHERE k = $1", k)
    assert value == "b"
    return k


async def test_a_transaction_script_is_one_trip(db: CountingDatabase) -> None:
    assert await db.run_transaction(_three_statements(1)) == 1
    assert db.trips == 1  # BEGIN, three statements, COMMIT: five with transaction()


async def test_concurrent_scripts_and_statements_share_trips(db: CountingDatabase) -> None:
    work = [db.run_transaction(_three_statements(k)) for k in range(20)]
    work += [db.execute("INSERT INTO t (k, v) VALUES ($1, 'x')", 100 + k) for k in range(20)]
    assert await asyncio.gather(*work) == list(range(20)) + [1] * 20
    assert db.trips < 10  # one per transaction without batching: 20, plus 20 inserts
    assert await db.fetchval("SELECT count(*) FROM t WHERE v = 'b'") == 20


def _fails_late() -> TransactionScript[None]:
    yield stmt.execute("INSERT INTO t (k, v) VALUES (1, 'kept?')")
    yield stmt.fetchrow("SELECT nonsense FROM nowhere")


async def test_a_failed_script_leaves_no_transaction_open(db: CountingDatabase) -> None:
    with pytest.raises(RepositoryError):
        await db.run_transaction(_fails_late())
    assert not db.conn.in_transaction
    assert await db.fetchval("SELECT count(*) FROM t") == 0
    assert await db.execute("INSERT INTO t (k, v) VALUES (1, 'later')") == 1
