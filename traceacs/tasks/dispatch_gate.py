"""The session runner's check before it starts a bulk task: is it this job's turn?

`DispatchGate` is the port the runner calls; `PacedDispatchGate` answers with a
`DispatchPacer` (one per ACS process) and the job's rate from the store. A task of no
bulk job passes at once. A bulk task whose turn is near waits for it inside the
session (the CPE just sees a slower answer); one whose turn is far is deferred (the
runner leaves it queued, due at its turn, and the job's driver wakes the device again).

The rate holds per ACS process: with several processes behind a load balancer, a job's
devices may be dispatched up to ``processes x rate`` per second (connection requests,
sent by the one process driving the job, stay at ``rate``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from traceacs.provisioning.repository import RepositoryError
from traceacs.tasks.model import Task
from traceacs.tasks.pacing import Admission, DispatchPacer

DEFAULT_MAX_WAIT = 2.0
"""Seconds a session may be held for its turn (well inside any CPE's HTTP timeout)."""


class DispatchGate(Protocol):
    async def admit(self, task: Task, now: float) -> Admission:
        """When ``task`` may start (having waited until then), or that it must not yet."""
        ...


class JobRates(Protocol):
    async def job_rate(self, job_id: int) -> float | None: ...


class PacedDispatchGate:
    def __init__(
        self,
        rates: JobRates,
        *,
        pacer: DispatchPacer | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rates = rates
        self.pacer = pacer or DispatchPacer()
        self._max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._known: dict[int, float | None] = {}

    async def _rate(self, job_id: int) -> float | None:
        if job_id not in self._known:
            try:
                self._known[job_id] = await self._rates.job_rate(job_id)
            except RepositoryError:
                return None  # not cached: asked again next time
        return self._known[job_id]

    async def admit(self, task: Task, now: float) -> Admission:
        if task.bulk_id is None:
            return Admission(True, now)
        rate = await self._rate(task.bulk_id)
        if rate is None:  # the job is gone, or the store is unreachable: no pacing
            return Admission(True, now)
        now = max(now, self._clock())
        admission = self.pacer.reserve(task.bulk_id, rate, now, self._max_wait)
        if admission.admitted and admission.at > now:
            await self._sleep(admission.at - now)
        return admission
