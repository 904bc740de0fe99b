"""Schema migrations: applied on open, recorded, idempotent, and refused when too new."""

from __future__ import annotations

import pytest

from traceacs.provisioning.device import InventoryEntry
from traceacs.provisioning.repository import RepositoryError, SchemaTooNew
from traceacs.storage import open_database, open_repository
from traceacs.storage.migrations import MIGRATIONS, Migration, apply_migrations


async def test_open_applies_every_migration_once(store_url: str) -> None:
    repo = await open_repository(store_url)
    try:
        versions = await repo.db.fetch("SELECT version FROM schema_version ORDER BY version")
        assert [r["version"] for r in versions] == [m.version for m in MIGRATIONS]
        await repo.import_devices([InventoryEntry("SN1", "00D09E", "PC", "c", "p", "l")], now=1.0)
        assert await repo.migrate() == []  # applied twice: nothing to do
    finally:
        await repo.close()

    again = await open_repository(store_url)  # reopening migrates nothing, keeps data
    try:
        assert await again.migrate() == []
        assert await again.count_devices() == 1
        rows = await again.db.fetch("SELECT version FROM schema_version")
        assert len(rows) == len(MIGRATIONS)
    finally:
        await again.close()


async def test_a_new_migration_is_applied_on_top(store_url: str) -> None:
    db = await open_database(store_url)
    try:
        assert await apply_migrations(db) == [m.version for m in MIGRATIONS]
        extra = Migration(
            max(m.version for m in MIGRATIONS) + 1,
            "test table",
            ("CREATE TABLE extra (id {id_pk}, note TEXT)",),
        )
        assert await apply_migrations(db, (*MIGRATIONS, extra)) == [extra.version]
        assert await apply_migrations(db, (*MIGRATIONS, extra)) == []
        assert await db.execute("INSERT INTO extra (note) VALUES ($1)", "x") == 1
    finally:
        await db.close()


async def test_a_failing_migration_leaves_nothing_behind(store_url: str) -> None:
    db = await open_database(store_url)
    try:
        await apply_migrations(db)
        broken = Migration(
            max(m.version for m in MIGRATIONS) + 1,
            "half broken",
            ("CREATE TABLE half (id {id_pk})", "CREATE TABLE half (id {id_pk})"),
        )
        with pytest.raises(RepositoryError, match="half"):
            await apply_migrations(db, (*MIGRATIONS, broken))
        versions = await db.fetch("SELECT version FROM schema_version")
        assert len(versions) == len(MIGRATIONS)
        # The first statement of the broken migration was rolled back with it.
        fixed = Migration(broken.version, "fixed", ("CREATE TABLE half (id {id_pk})",))
        assert await apply_migrations(db, (*MIGRATIONS, fixed)) == [fixed.version]
    finally:
        await db.close()


async def test_a_schema_from_a_newer_release_is_refused(store_url: str) -> None:
    db = await open_database(store_url)
    try:
        await apply_migrations(db)
        await db.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
            999,
            "from the future",
            1.0,
        )
    finally:
        await db.close()
    with pytest.raises(SchemaTooNew, match="999"):
        await open_repository(store_url)
