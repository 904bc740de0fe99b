"""SQLite autocommit statements queued together share one trip to the database thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from traceacs.provisioning.repository import RepositoryError, StorageUnavailable
from traceacs.storage.database import UniqueViolation
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
