"""The bulk driver without a network: connection requests at the release times, re-wakes
of deferred tasks, nothing for finished ones; a fake clock and sleep (no real time)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from tests.tasks.test_bulk_pacing import FakeClock
from traceacs.provisioning.device import Device
from traceacs.server.connection_request import ConnectionRequestOutcome, ConnectionRequestResult
from traceacs.tasks.bulk import BulkJob, BulkProgress
from traceacs.tasks.bulk_service import BulkTaskService
from traceacs.tasks.model import Task, TaskStatus


class YieldingClock(FakeClock):
    """A fake clock whose sleep first lets started tasks run (at the current time)."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)
        await super().sleep(seconds)


def _task(i: int, at: float) -> Task:
    return Task(i, "00D09E", f"S{i}", "reboot", {}, TaskStatus.QUEUED, 0, 0.0, 0.0, at, bulk_id=1)


class Store:
    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = {t.id: t for t in tasks}

    async def due_tasks_of(self, job_id: int, now: float, *, limit: int) -> list[Task]:
        due = [
            t
            for t in self.tasks.values()
            if t.status is TaskStatus.QUEUED and t.next_attempt_at <= now
        ]
        return sorted(due, key=lambda t: (t.next_attempt_at, t.id))[:limit]

    async def get_job(self, job_id: int) -> BulkJob:
        queued = sum(t.status is TaskStatus.QUEUED for t in self.tasks.values())
        return replace(JOB, progress=BulkProgress(queued=queued))


class Devices:
    async def get_device(self, oui: str, serial: str) -> Any:
        return serial  # the fake wake only needs something to name


class Wakes:
    def __init__(self, clock: FakeClock, store: Store, answers: dict[str, bool]) -> None:
        self.clock, self.store, self.answers = clock, store, answers
        self.sent: list[tuple[str, float]] = []

    async def wake(
        self, device: Device, *, session: Any, paced: bool, released_at: float
    ) -> ConnectionRequestResult:
        assert paced  # the job keeps its own rate
        serial = str(device)
        self.sent.append((serial, released_at))
        task = next(t for t in self.store.tasks.values() if t.serial_number == serial)
        if serial == "S1" and len(self.sent) < 4:
            # The first session found the gate busy: deferred to a later turn.
            self.store.tasks[task.id] = task.deferred(self.clock.now + 0.5, self.clock.now)
        elif self.answers.get(serial, True):
            self.store.tasks[task.id] = replace(task, status=TaskStatus.DONE)
        outcome = ConnectionRequestOutcome.OK if self.answers.get(serial, True) else (
            ConnectionRequestOutcome.TIMEOUT
        )  # fmt: skip
        return ConnectionRequestResult(outcome)


JOB = BulkJob(1, "reboot", {}, {}, 4.0, True, 3, 0.0, 100.0)


async def test_wakes_each_device_at_its_time_and_again_when_deferred() -> None:
    clock = YieldingClock(100.0)
    store = Store([_task(0, 100.0), _task(1, 100.25), _task(2, 100.5)])
    wakes = Wakes(clock, store, {"S2": False})
    service = BulkTaskService(
        store,  # type: ignore[arg-type]
        Devices(),  # type: ignore[arg-type]
        wakes,  # type: ignore[arg-type]
        clock=clock,
        sleep=clock.sleep,
        sweep_interval=1.0,
        grace=10.0,
    )
    await service.drive(JOB)
    first_pass = wakes.sent[:3]
    assert first_pass == [("S0", 100.0), ("S1", 100.25), ("S2", 100.5)]
    # Next sweep (1 s later): the failed one and the deferred one, still 1/rate apart;
    # the one after: the failed one for its third and last time. S0 is done: left alone.
    assert wakes.sent[3:] == [("S2", 101.5), ("S1", 101.75), ("S2", 102.75)]
    assert store.tasks[1].status is TaskStatus.DONE
    assert JOB.ends_at + 10.0 <= clock.now <= JOB.ends_at + 11.0  # gave up at the deadline
