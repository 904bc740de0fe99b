"""One storage suite, two engines: every test using ``repo`` / ``store_url`` runs on both.

SQLite lives in ``tmp_path``. PostgreSQL is the server at 127.0.0.1:5432 (trust auth,
user ``postgres`` or ``root``): each test module gets a fresh, uniquely named database
(dropped afterwards) and each test a fresh ``public`` schema (``TRACEACS_TEST_PG_HOST`` /
``_PORT`` point elsewhere). When the server is not
reachable the PostgreSQL cases skip, unless ``CI=true``, where they fail: CI must not
pass by silently testing one engine.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest

from traceacs.provisioning.repository import DeviceRepository
from traceacs.storage import SqlDeviceRepository, open_repository

T = TypeVar("T")

PG_HOST = os.environ.get("TRACEACS_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TRACEACS_TEST_PG_PORT", "5432"))
PG_USERS = ("postgres", "root")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from a sync fixture on a private loop (the test's loop is not ours)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(make())
    finally:
        loop.close()


async def _try_connect(user: str) -> bool:
    try:
        conn = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=user, database="postgres", timeout=3
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    await conn.close()
    return True


@pytest.fixture(scope="session")
def pg_user() -> str:
    """A user that can create databases on the local server, or skip (fail under CI)."""
    for user in PG_USERS:
        if run_sync(lambda user=user: _try_connect(user)):  # type: ignore[misc]
            return user
    reason = f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT} as {' or '.join(PG_USERS)}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the PostgreSQL storage tests are required)")
    pytest.skip(reason)


async def _admin(user: str, *statements: str) -> None:
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database="postgres")
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def pg_database(pg_user: str) -> Iterator[str]:
    """A fresh database for this test module; yields its URL and drops it afterwards."""
    name = f"traceacs_test_{uuid.uuid4().hex[:12]}"
    run_sync(lambda: _admin(pg_user, f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://{pg_user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        run_sync(lambda: _admin(pg_user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _reset_schema(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store on the parametrized engine."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/inventory.db"
    url: str = request.getfixturevalue("pg_database")
    run_sync(lambda: _reset_schema(url))
    return url


@pytest.fixture
async def repo(store_url: str) -> AsyncIterator[SqlDeviceRepository]:
    repository = await open_repository(store_url)
    try:
        yield repository
    finally:
        await repository.close()


def _is_a_device_repository(repository: SqlDeviceRepository) -> DeviceRepository:
    """Never called: mypy checks here that the SQL repository satisfies the port."""
    return repository
