"""Bulk jobs in the store, on SQLite and PostgreSQL: one transaction, progress counts."""

from __future__ import annotations

from traceacs.provisioning.device import InventoryEntry
from traceacs.storage import SqlDeviceRepository
from traceacs.storage.bulk_tasks import SqlBulkStore
from traceacs.tasks.bulk import BulkRequest

OUI = "00D09E"


async def test_job_with_paced_tasks_and_progress(repo: SqlDeviceRepository) -> None:
    await repo.import_devices(
        [InventoryEntry(f"S{i}", OUI, "RG", "cust", "plan", "loc") for i in range(3)], now=1.0
    )
    store = SqlBulkStore(repo.db)
    request = BulkRequest("reboot", {}, {"oui": OUI}, 2.0, True)
    devices = [(OUI, "S0"), (OUI, "S1"), (OUI, "S2"), (OUI, "GONE")]
    job = await store.create_job(request, devices, [10.0, 10.5, 11.0, 11.5], now=9.0)
    assert (job.matched, job.rate, job.connection_request) == (4, 2.0, True)
    assert (job.starts_at, job.ends_at) == (10.0, 11.5)
    assert await store.job_rate(job.id) == 2.0
    assert await store.job_rate(job.id + 1) is None

    tasks = await store.due_tasks_of(job.id, 100.0, limit=10)
    assert [(t.serial_number, t.next_attempt_at, t.bulk_id) for t in tasks] == [
        ("S0", 10.0, job.id),
        ("S1", 10.5, job.id),
        ("S2", 11.0, job.id),
    ]  # the unknown device got no task
    assert [t.serial_number for t in await store.due_tasks_of(job.id, 10.5, limit=10)] == [
        "S0",
        "S1",
    ]
    assert [t.id for t in await store.tasks.due_tasks(OUI, "S1", 10.4)] == []  # not yet

    await store.tasks.save_task(tasks[0].started(12.0, None).succeeded({}, 12.5))
    await store.tasks.save_task(tasks[1].started(12.0, None))
    await store.tasks.delete_task(tasks[2].id)
    progress = await store.get_job(job.id)
    assert progress is not None
    view = progress.to_json()
    assert (view["queued"], view["running"], view["done"], view["failed"]) == (0, 1, 1, 0)
    assert (view["deleted"], view["finished"]) == (2, False)
    assert view["filters"] == {"oui": OUI}
    await store.tasks.save_task(tasks[1].started(12.0, None).succeeded({}, 13.0))
    done = await store.get_job(job.id)
    assert done is not None
    assert done.to_json()["finished"] is True
    assert await store.get_job(job.id + 1) is None
