"""``POST /api/tasks/bulk`` and ``GET /api/tasks/bulk/{id}`` over a real store: the search,
the release times, refusals, the audit entry, answers valid against the OpenAPI document
(checked by the API harness on every call)."""

from __future__ import annotations

import pytest

from tests.api.conftest import OUI, Api
from tests.api.fleet import plant_device
from traceacs.storage.tasks import SqlTaskStore


async def test_bulk_job_queues_one_paced_task_per_matching_device(api: Api) -> None:
    for serial, model in (("A1", "HG8245H"), ("A2", "HG8245H"), ("A3", "HG8245H"), ("B1", "X")):
        await plant_device(api.repo, serial, now=1.0, model=model)
    api.clock.now = 5000.0
    response, job = await api.call(
        "POST", "/api/tasks/bulk?model=HG8245H&rate=4", json={"name": "reboot"}
    )
    assert response.status == 202, job
    assert (job["name"], job["matched"], job["queued"], job["rate"]) == ("reboot", 3, 3, 4.0)
    assert job["filters"] == {"model": "HG8245H"}
    assert job["connection_request"] is False
    assert (job["starts_at"], job["ends_at"]) == (5000.0, 5000.5)

    store = SqlTaskStore(api.repo.db, api.repo.secrets)
    released = {}
    for serial in ("A1", "A2", "A3"):
        (task,) = await store.device_tasks(OUI, serial)
        assert (task.name, task.bulk_id) == ("reboot", job["id"])
        released[serial] = task.next_attempt_at
    assert released == {"A1": 5000.0, "A2": 5000.25, "A3": 5000.5}  # by serial, 1/rate apart
    assert await store.device_tasks(OUI, "B1") == []
    assert await store.due_tasks(OUI, "A3", 5000.4) == []  # not released yet

    shown = await api.get(f"/api/tasks/bulk/{job['id']}", token="read")
    assert (shown["matched"], shown["queued"], shown["finished"]) == (3, 3, False)
    (task,) = (await api.get("/api/devices/A2/tasks"))["items"]
    assert task["bulk_id"] == job["id"]

    audit = (await api.get("/api/audit"))["items"][0]
    assert (audit["method"], audit["path"], audit["status"]) == ("POST", "/api/tasks/bulk", 202)
    assert audit["target"] == f"bulk job {job['id']}: reboot x 3"


@pytest.mark.parametrize(
    ("query", "body", "message"),
    [
        ("", {"name": "reboot"}, "no filter"),
        ("?model=X&rate=0", {"name": "reboot"}, "rate"),
        ("?model=X&rate=fast", {"name": "reboot"}, "rate"),
        ("?model=X&rate=1e9", {"name": "reboot"}, "rate"),
        ("?model=X", {"name": "explode"}, "unknown task"),
        ("?model=X", {"name": "scheduleInform"}, "delaySeconds"),
        ("?model=X", ["reboot"], "task"),
        ("?model=X&state=lost", {"name": "reboot"}, "state"),
        ("?model=X&connection_request=maybe", {"name": "reboot"}, "connection_request"),
    ],
)
async def test_bad_bulk_requests_are_refused_and_store_nothing(
    api: Api, query: str, body: object, message: str
) -> None:
    await plant_device(api.repo, "A1", now=1.0, model="X")
    response, answer = await api.call("POST", "/api/tasks/bulk" + query, json=body)
    assert response.status == 400, answer
    assert message in answer["error"]["message"]
    assert await SqlTaskStore(api.repo.db, api.repo.secrets).device_tasks(OUI, "A1") == []


async def test_whole_fleet_needs_all_and_reads_need_a_job(api: Api) -> None:
    await plant_device(api.repo, "A1", now=1.0)
    response, job = await api.call(
        "POST", "/api/tasks/bulk?all=true&rate=50", json={"name": "reboot"}
    )
    assert (response.status, job["matched"], job["filters"]) == (202, 1, {})
    response, _ = await api.call("POST", "/api/tasks/bulk?model=X", json={"name": "reboot"},
                                 token="read")  # fmt: skip
    assert response.status == 403
    for missing in ("999", "x"):
        response, answer = await api.call("GET", f"/api/tasks/bulk/{missing}")
        assert response.status == 404, answer
    response, empty = await api.call("POST", "/api/tasks/bulk?model=none", json={"name": "reboot"})
    assert (response.status, empty["matched"], empty["finished"]) == (202, 0, True)
