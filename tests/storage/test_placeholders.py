"""Statements are written once, with PostgreSQL's ``$N`` placeholders, and bind the same
on both engines: numbered out of order, repeated, in autocommit statements, in a
transaction script and in ``executemany``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from traceacs.storage import database as stmt
from traceacs.storage.database import Database, TransactionScript
from traceacs.storage.open import open_database
from traceacs.storage.sqlite import _to_sqlite


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    database = await open_database(store_url)
    try:
        await database.execute("DROP TABLE IF EXISTS placeholder_t")
        await database.execute("CREATE TABLE placeholder_t (k INTEGER PRIMARY KEY, v TEXT, w TEXT)")
        yield database
    finally:
        await database.close()


async def test_placeholders_bind_by_their_number_not_their_position(db: Database) -> None:
    await db.execute("INSERT INTO placeholder_t (v, k, w) VALUES ($2, $1, $2)", 1, "one")
    row = await db.fetchrow("SELECT k, v, w FROM placeholder_t WHERE w = $2 AND k = $1", 1, "one")
    assert row is not None
    assert dict(row) == {"k": 1, "v": "one", "w": "one"}
    assert await db.fetchval("SELECT v FROM placeholder_t WHERE k = $1", 1) == "one"


async def test_executemany_and_scripts_reorder_each_row(db: Database) -> None:
    await db.executemany(
        "INSERT INTO placeholder_t (w, v, k) VALUES ($3, $2, $1)",
        [(1, "a", "x"), (2, "b", "y")],
    )

    def script() -> TransactionScript[list[tuple[Any, ...]]]:
        yield stmt.executemany("UPDATE placeholder_t SET v = $2 WHERE k = $1", [(1, "A"), (2, "B")])
        rows = yield stmt.fetch("SELECT k, v, w FROM placeholder_t WHERE w <> $2 OR k = $1", 9, "")
        return [tuple(r.values()) for r in rows]

    assert sorted(await db.run_transaction(script())) == [(1, "A", "x"), (2, "B", "y")]


def test_sqlite_gets_nameless_placeholders() -> None:
    """Python 3.12 deprecates binding SQLite's numbered ``?1`` from a sequence (a
    warning per statement, an error under ``-W error``): only ``?`` reaches it."""
    query = _to_sqlite("UPDATE t SET a = $2, b = $1 WHERE c = $2")
    assert query.text == "UPDATE t SET a = ?, b = ? WHERE c = ?"
    assert query.bind(("one", "two")) == ("two", "one", "two")
    in_order = _to_sqlite("SELECT $1, $2")
    assert in_order.bind(args := (1, 2)) is args
