"""API tokens, the audit log and fleet statistics in SQL, on both engines."""

from __future__ import annotations

import pytest

from traceacs.auth.tokens import authenticate, hash_token, issue_token
from traceacs.provisioning.device import InformFacts, InventoryEntry
from traceacs.storage import SqlDeviceRepository
from traceacs.storage.api_store import SqlApiStore
from traceacs.storage.fleet_stats import AttemptGroup, SqlFleetStats

OUI = "00D09E"


async def test_tokens_are_stored_hashed_and_revocable(repo: SqlDeviceRepository) -> None:
    store = SqlApiStore(repo.db)
    issued = await issue_token(store, "ci", "read", now=10.0)
    assert issued.plaintext.startswith("tacs_")
    assert issued.plaintext not in repr(issued)
    rows = await repo.db.fetch("SELECT * FROM api_tokens")
    assert len(rows) == 1
    assert issued.plaintext not in str(rows)
    assert rows[0]["token_hash"] == hash_token(issued.plaintext)

    found = await authenticate(store, issued.plaintext)
    assert found is not None
    assert (found.id, found.name, found.role, found.created_at) == (
        issued.token.id,
        "ci",
        "read",
        10.0,
    )
    assert await authenticate(store, issued.plaintext + "x") is None
    assert await authenticate(store, "not-a-token") is None

    assert await store.revoke_token(issued.token.id, now=20.0)
    assert not await store.revoke_token(issued.token.id, now=21.0)  # already revoked
    assert not await store.revoke_token(999, now=21.0)
    assert await authenticate(store, issued.plaintext) is None
    [listed] = await store.list_tokens()
    assert listed.revoked_at == 20.0


async def test_role_is_checked_by_the_database(repo: SqlDeviceRepository) -> None:
    store = SqlApiStore(repo.db)
    with pytest.raises(ValueError, match="role must be one of"):
        await store.create_token("x", "admin", hash_token("tacs_x"), now=1.0)


async def test_audit_log_newest_first_and_filtered(repo: SqlDeviceRepository) -> None:
    store = SqlApiStore(repo.db)
    for i in range(3):
        await store.record_audit(
            at=float(i),
            token_id=1 + i % 2,
            token_name=f"t{1 + i % 2}",
            method="DELETE",
            path=f"/api/devices/SN{i}",
            target=f"SN{i}",
            status=204,
        )
    entries = await store.list_audit()
    assert [e.target for e in entries] == ["SN2", "SN1", "SN0"]
    assert [e.target for e in await store.list_audit(token_id=1)] == ["SN2", "SN0"]
    assert [e.target for e in await store.list_audit(limit=1, offset=1)] == ["SN1"]
    assert entries[0].method == "DELETE"
    assert entries[0].status == 204


def _entry(serial: str, plan: str) -> InventoryEntry:
    return InventoryEntry(serial, OUI, "HG", f"c-{serial}", plan, "loc")


async def test_fleet_stats_groups_and_percentiles(repo: SqlDeviceRepository) -> None:
    await repo.import_devices(
        [_entry(f"SN{i}", "gold" if i < 5 else "silver") for i in range(10)], now=0.0
    )
    for i in range(10):
        await repo.record_inform(OUI, f"SN{i}", 1.0, InformFacts(model="M1" if i % 2 else "M2"))
    # durations 1..9 s for SN0..SN8; SN9 still running; one attempt outside the window
    for i in range(9):
        attempt = await repo.start_attempt(
            (await repo.get_device(OUI, f"SN{i}")).identity,  # type: ignore[union-attr]
            now=100.0,
            trace_id=None,
        )
        await repo.finish_attempt(
            attempt, now=100.0 + i + 1, result="success" if i < 7 else "verification_failed"
        )
    await repo.start_attempt((await repo.get_device(OUI, "SN9")).identity, 150.0, None)  # type: ignore[union-attr]
    old = await repo.start_attempt((await repo.get_device(OUI, "SN0")).identity, 10.0, None)  # type: ignore[union-attr]
    await repo.finish_attempt(old, now=500.0, result="push_failed")

    stats = await SqlFleetStats(repo.db).fleet_stats(since=50.0, until=200.0)
    by = {(g.result, g.model, g.plan): g.count for g in stats.groups}
    assert sum(by.values()) == 10
    assert by[("verification_failed", "M1", "silver")] == 1  # SN7
    assert by[("verification_failed", "M2", "silver")] == 1  # SN8
    assert by[(None, "M1", "silver")] == 1  # SN9, in progress
    assert AttemptGroup("success", "M2", "gold", 3) in stats.groups  # SN0, SN2, SN4
    assert stats.durations.count == 9
    assert stats.durations.mean == pytest.approx(5.0)
    assert stats.durations.max == pytest.approx(9.0)
    assert stats.durations.percentiles == {50: 5.0, 90: 9.0, 95: 9.0, 99: 9.0}

    empty = await SqlFleetStats(repo.db).fleet_stats(since=1000.0, until=2000.0)
    assert empty.groups == []
    assert empty.durations.count == 0
    assert empty.durations.mean is None
