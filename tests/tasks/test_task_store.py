"""The task store on SQLite and PostgreSQL: queueing, due order, backoff, deletion."""

from __future__ import annotations

import pytest

from traceacs.provisioning.device import InventoryEntry
from traceacs.storage import SqlDeviceRepository
from traceacs.storage.tasks import SqlTaskStore
from traceacs.tasks.model import TaskError, TaskRetryPolicy, TaskStatus

OUI = "00D09E"


async def _device(repo: SqlDeviceRepository, serial: str) -> None:
    await repo.import_devices(
        [InventoryEntry(serial, OUI, "RG", "cust", "plan", "loc")], now=1000.0
    )


async def test_tasks_are_queued_due_in_order_and_saved(repo: SqlDeviceRepository) -> None:
    await _device(repo, "S1")
    await _device(repo, "S2")
    store = SqlTaskStore(repo.db, repo.secrets)
    first = await store.add_task(OUI, "S1", "reboot", {}, 2000.0)
    args = {"parameterValues": [["Device.X", "1", "unsignedInt"]]}
    second = await store.add_task(OUI, "S1", "setParameterValues", args, 2001.0)
    await store.add_task(OUI, "S2", "factoryReset", {}, 2002.0)

    assert first.status is TaskStatus.QUEUED
    assert first.attempts == 0
    assert first.next_attempt_at == 2000.0
    assert (await store.get_task(second.id)) == second
    assert second.arguments == args
    assert [t.id for t in await store.due_tasks(OUI, "S1", 2001.0)] == [first.id, second.id]
    assert [t.id for t in await store.device_tasks(OUI, "S1")] == [second.id, first.id]

    running = first.started(2100.0, "ab" * 16)
    assert await store.save_task(running)
    assert await store.get_task(first.id) == running
    assert [t.id for t in await store.due_tasks(OUI, "S1", 2101.0)] == [second.id]

    faulted = second.started(2100.0, None).faulted(9005, "Invalid name", 2110.0, TaskRetryPolicy())
    await store.save_task(faulted)
    assert (await store.get_task(second.id)) == faulted
    assert faulted.status is TaskStatus.QUEUED
    assert await store.due_tasks(OUI, "S1", 2110.0 + 59) == []  # backing off
    assert [t.id for t in await store.due_tasks(OUI, "S1", 2110.0 + 60)] == [second.id]

    done = running.succeeded({"instanceNumber": 4}, 2200.0)
    await store.save_task(done)
    stored = await store.get_task(first.id)
    assert stored is not None
    assert stored.result == {"instanceNumber": 4}
    assert stored.status is TaskStatus.DONE


async def test_delete_and_cascade_with_the_device(repo: SqlDeviceRepository) -> None:
    await _device(repo, "S1")
    store = SqlTaskStore(repo.db, repo.secrets)
    task = await store.add_task(OUI, "S1", "reboot", {}, 1.0)
    other = await store.add_task(OUI, "S1", "reboot", {}, 2.0)
    assert await store.delete_task(task.id)
    assert not await store.delete_task(task.id)
    assert not await store.save_task(task.started(3.0, None))  # deleted meanwhile
    assert await store.get_task(task.id) is None
    assert await repo.delete_device(OUI, "S1")
    assert await store.get_task(other.id) is None


async def test_a_task_for_an_unknown_device_is_refused(repo: SqlDeviceRepository) -> None:
    with pytest.raises(TaskError, match="no device"):
        await SqlTaskStore(repo.db, repo.secrets).add_task(OUI, "NOPE", "reboot", {}, 1.0)
