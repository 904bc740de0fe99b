"""Open the store named by a URL: the one entry point the app and the CLI use.

``postgresql://`` (or ``postgres://``) opens an asyncpg pool; ``sqlite:`` URLs and plain
paths open the embedded SQLite file. Pending migrations are applied before the
repository is returned, so callers always see the current schema.
"""

from __future__ import annotations

from traceacs.storage.database import Database
from traceacs.storage.postgres import PostgresDatabase
from traceacs.storage.repository import SqlDeviceRepository
from traceacs.storage.secret_box import SecretBox
from traceacs.storage.sqlite import SqliteDatabase
from traceacs.storage.url import parse_location


async def open_database(url: str, *, pool_max_size: int = 10) -> Database:
    """The raw `Database` adapter for ``url`` (no migrations applied)."""
    location = parse_location(url)
    if location.engine == "postgresql":
        return await PostgresDatabase.open(location, max_size=pool_max_size)
    return await SqliteDatabase.open(location.target)


async def open_repository(
    url: str,
    *,
    pool_max_size: int = 10,
    migrate: bool = True,
    inform_write_behind: float | None = None,
    secrets: SecretBox | None = None,
) -> SqlDeviceRepository:
    """A migrated `DeviceRepository` on ``url``.

    ``secrets`` seals the secret columns (`traceacs.storage.secret_key.load_secret_box`
    gives the ACS's key ring); without it the store is keyless (tests, benchmarks).

    Raises `StorageUnavailable` (message without credentials) when the database cannot
    be reached, `SchemaTooNew` when a newer TraceACS migrated it, ``ValueError`` for an
    unsupported URL. ``inform_write_behind``: seconds to batch Inform facts over (see
    `traceacs.storage.inform_writer`); None writes each Inform at once.
    """
    db = await open_database(url, pool_max_size=pool_max_size)
    repository = SqlDeviceRepository(db, secrets, inform_write_behind=inform_write_behind)
    if migrate:
        try:
            await repository.migrate()
        except BaseException:
            await db.close()
            raise
    return repository
