"""`Database.run_transaction`: a transaction written as a script, same result on both engines.

A script commits when it returns, rolls back when it (or one of its statements) raises,
and sees a statement's error, translated, at its ``yield``. On SQLite the whole script is
one trip to the database thread (`test_sqlite_batching.py` counts them).
"""

from __future__ import annotations

import asyncio

import pytest

from traceacs.storage import SqlDeviceRepository
from traceacs.storage import database as stmt
from traceacs.storage.database import Database, TransactionScript, UniqueViolation


class Refused(Exception):
    """What the test scripts raise to abort."""


async def _table(db: Database) -> None:
    await db.execute("CREATE TABLE script_t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")


def _insert_then_read(keys: list[int]) -> TransactionScript[list[str]]:
    for k in keys:
        changed = yield stmt.execute("INSERT INTO script_t (k, v) VALUES ($1, $2)", k, f"v{k}")
        assert changed == 1
    yield stmt.executemany("UPDATE script_t SET v = $2 WHERE k = $1", [(k, f"w{k}") for k in keys])
    rows = yield stmt.fetch("SELECT k, v FROM script_t ORDER BY k")
    count = yield stmt.fetchval("SELECT count(*) FROM script_t")
    assert count >= len(keys)
    first = yield stmt.fetchrow("SELECT v FROM script_t WHERE k = $1", keys[0])
    assert first == {"v": f"w{keys[0]}"}
    return [r["v"] for r in rows if r["k"] in keys]


async def test_a_script_returns_its_value_and_commits(repo: SqlDeviceRepository) -> None:
    await _table(repo.db)
    assert await repo.db.run_transaction(_insert_then_read([2, 1, 3])) == ["w1", "w2", "w3"]
    assert await repo.db.fetchval("SELECT count(*) FROM script_t") == 3


def _insert_then_refuse() -> TransactionScript[None]:
    yield stmt.execute("INSERT INTO script_t (k, v) VALUES (1, 'gone')")
    raise Refused


async def test_a_script_that_raises_rolls_back(repo: SqlDeviceRepository) -> None:
    await _table(repo.db)
    with pytest.raises(Refused):
        await repo.db.run_transaction(_insert_then_refuse())
    assert await repo.db.fetchval("SELECT count(*) FROM script_t") == 0


def _insert_twice() -> TransactionScript[None]:
    yield stmt.execute("INSERT INTO script_t (k, v) VALUES (1, 'first')")
    yield stmt.execute("INSERT INTO script_t (k, v) VALUES (1, 'again')")


async def test_a_failing_statement_rolls_back_with_its_translated_error(
    repo: SqlDeviceRepository,
) -> None:
    await _table(repo.db)
    with pytest.raises(UniqueViolation):
        await repo.db.run_transaction(_insert_twice())
    assert await repo.db.fetchval("SELECT count(*) FROM script_t") == 0


def _catch_violation(seen: list[str]) -> TransactionScript[str]:
    yield stmt.execute("INSERT INTO script_t (k, v) VALUES (1, 'first')")
    try:
        yield stmt.execute("INSERT INTO script_t (k, v) VALUES (1, 'again')")
    except UniqueViolation as exc:
        seen.append(type(exc).__name__)
        raise Refused from None
    return "not reached"


async def test_the_script_sees_the_error_at_its_yield(repo: SqlDeviceRepository) -> None:
    await _table(repo.db)
    seen: list[str] = []
    with pytest.raises(Refused):
        await repo.db.run_transaction(_catch_violation(seen))
    assert seen == ["UniqueViolation"]
    assert await repo.db.fetchval("SELECT count(*) FROM script_t") == 0


async def test_concurrent_scripts_each_commit_or_roll_back_alone(
    repo: SqlDeviceRepository,
) -> None:
    await _table(repo.db)
    outcomes = await asyncio.gather(
        repo.db.run_transaction(_insert_then_read([1, 2])),
        repo.db.run_transaction(_insert_then_refuse()),
        repo.db.execute("INSERT INTO script_t (k, v) VALUES (7, 'alone')"),
        repo.db.run_transaction(_insert_then_read([5])),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], Refused | UniqueViolation)
    assert outcomes[2] == 1
    keys = [r["k"] for r in await repo.db.fetch("SELECT k FROM script_t ORDER BY k")]
    assert keys == [1, 2, 5, 7]  # the refused script's row 1 is never what is left
    assert await repo.db.fetchval("SELECT v FROM script_t WHERE k = 1") == "w1"
