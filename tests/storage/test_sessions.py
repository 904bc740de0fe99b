"""The shared CWMP session store on both engines: one row per device, compare-and-set."""

from __future__ import annotations

from dataclasses import replace

from traceacs.provisioning.session_store import StoredSession, cookie_key
from traceacs.storage import SqlDeviceRepository
from traceacs.storage.sessions import SqlSessionStore


def row(cookie: str = "cookie-1", device: str = "00D09E-SN1", version: int = 0) -> StoredSession:
    return StoredSession(
        key=cookie_key(cookie),
        device_key=device,
        session_id="s1",
        version=version,
        expires_at=100.0,
        state="{}",
    )


async def test_a_device_has_one_session_row_whatever_the_cookie(repo: SqlDeviceRepository) -> None:
    store = SqlSessionStore(repo.db)
    assert await store.claim(row())
    assert not await store.claim(row(cookie="cookie-2"))  # same device, other session
    assert await store.claim(row(cookie="cookie-3", device="00D09E-SN2"))
    found = await store.for_device("00D09E-SN1")
    assert found == row()
    assert await store.load(cookie_key("cookie-2")) is None


async def test_the_cookie_itself_is_not_stored(repo: SqlDeviceRepository) -> None:
    store = SqlSessionStore(repo.db)
    assert await store.claim(row(cookie="bearer-secret-cookie"))
    rows = await repo.db.fetch("SELECT * FROM cwmp_sessions")
    assert "bearer-secret-cookie" not in repr(rows)


async def test_save_is_a_compare_and_set_on_the_version(repo: SqlDeviceRepository) -> None:
    store = SqlSessionStore(repo.db)
    assert await store.claim(row())
    advanced = replace(row(), version=1, state='{"step": 1}', expires_at=130.0)
    assert await store.save(advanced, expected_version=0)
    # A second process that read version 0 too cannot advance it again.
    assert not await store.save(replace(advanced, state='{"step": "other"}'), expected_version=0)
    assert await store.load(row().key) == advanced


async def test_expired_rows_are_taken_by_exactly_one_caller(repo: SqlDeviceRepository) -> None:
    store = SqlSessionStore(repo.db)
    assert await store.claim(row())
    assert await store.claim(replace(row(cookie="c2", device="00D09E-SN2"), expires_at=500.0))
    [expired] = await store.expired(now=200.0)
    assert expired.device_key == "00D09E-SN1"
    assert not await store.take(expired.key, version=7)  # moved on meanwhile: not taken
    assert await store.take(expired.key, expired.version)
    assert not await store.take(expired.key, expired.version)
    assert await store.expired(now=200.0) == []
    assert await store.claim(row(cookie="c3"))  # the device is free again


async def test_delete_frees_the_device(repo: SqlDeviceRepository) -> None:
    store = SqlSessionStore(repo.db)
    assert await store.claim(row())
    await store.delete(row().key)
    assert await store.load(row().key) is None
    assert await store.claim(row(cookie="again"))
