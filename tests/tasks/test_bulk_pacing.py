"""Bulk pacing without I/O: release times, the dispatch pacer, the gate, the runner's
deferral, all with time passed in (a fake clock and a fake sleep)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.tasks.test_task_session import INFORM, MemoryStore, Telemetry
from traceacs.cwmp import messages as m
from traceacs.provisioning.trace_recorder import RandomIds
from traceacs.tasks.dispatch_gate import PacedDispatchGate
from traceacs.tasks.model import TaskStatus
from traceacs.tasks.pacing import DispatchPacer, check_rate, release_times
from traceacs.tasks.runner import TaskSession


def test_release_times_are_one_interval_apart() -> None:
    assert release_times(4, 2.0, 100.0) == [100.0, 100.5, 101.0, 101.5]
    assert release_times(0, 2.0, 100.0) == []
    for bad in (0, -1, float("nan"), float("inf"), 1e9):
        with pytest.raises(ValueError, match="rate"):
            check_rate(bad)


def test_pacer_spaces_dispatches_per_job_and_refuses_far_turns() -> None:
    pacer = DispatchPacer()
    # Ten sessions of job 1 arrive at the same instant: turns 0.1 s apart.
    turns = [pacer.reserve(1, 10.0, 50.0, max_wait=0.45) for _ in range(6)]
    assert [t.admitted for t in turns] == [True] * 5 + [False]
    assert [t.at for t in turns[:5]] == pytest.approx([50.0, 50.1, 50.2, 50.3, 50.4])
    assert turns[5].at == pytest.approx(50.5)  # refused: says when, takes nothing
    assert pacer.reserve(1, 10.0, 50.05, max_wait=1.0).at == pytest.approx(50.5)
    # Another job has its own spacing; a late arrival needs no wait.
    assert pacer.reserve(2, 10.0, 50.0, max_wait=0.0).at == 50.0
    assert pacer.reserve(1, 10.0, 99.0, max_wait=0.0).at == 99.0


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Rates:
    def __init__(self, rates: dict[int, float]) -> None:
        self.rates = rates
        self.asked = 0

    async def job_rate(self, job_id: int) -> float | None:
        self.asked += 1
        return self.rates.get(job_id)


async def test_gate_waits_for_the_turn_and_passes_other_tasks() -> None:
    clock = FakeClock(1000.0)
    rates = Rates({7: 4.0})
    gate = PacedDispatchGate(rates, max_wait=0.6, clock=clock, sleep=clock.sleep)
    store = MemoryStore()
    plain = store.queue("reboot")
    bulk = replace(store.queue("reboot"), bulk_id=7)
    gone = replace(store.queue("reboot"), bulk_id=8)

    assert (await gate.admit(plain, 1000.0)).at == 1000.0
    first = await gate.admit(bulk, 1000.0)
    second = await gate.admit(bulk, clock.now)
    third = await gate.admit(bulk, clock.now)
    assert (first.at, second.at, third.at) == (1000.0, 1000.25, 1000.5)
    assert clock.slept == [0.25, 0.25]  # each waited for its own turn
    assert (await gate.admit(gone, clock.now)).admitted  # no such job: unpaced
    assert rates.asked == 2  # rates are cached per job


async def test_runner_defers_a_bulk_task_whose_turn_is_far() -> None:
    clock = FakeClock(500.0)
    gate = PacedDispatchGate(Rates({3: 1.0}), max_wait=0.5, clock=clock, sleep=clock.sleep)
    store = MemoryStore()
    first = replace(store.queue("reboot"), bulk_id=3)
    store.tasks[first.id] = first
    # Another device's session took job 3's turn a moment ago.
    other = replace(first, id=99, serial_number="S2")
    assert (await gate.admit(other, 500.0)).admitted

    runner = TaskSession("sid", store, telemetry=Telemetry(), ids=RandomIds(), gate=gate)
    await runner.on_inform(INFORM, 500.0)
    assert await runner.next_acs_request(500.0) is None  # not now: deferred
    deferred = store.tasks[first.id]
    assert deferred.status is TaskStatus.QUEUED
    assert deferred.attempts == 0
    assert deferred.next_attempt_at == 501.0  # due at its turn; the job's driver wakes it

    again = TaskSession("sid2", store, telemetry=Telemetry(), ids=RandomIds(), gate=gate)
    clock.now = 501.0
    await again.on_inform(INFORM, 501.0)
    assert isinstance(await again.next_acs_request(501.0), m.Reboot)
