"""Creating and driving bulk jobs: the search, the paced release, the wake-ups.

`BulkTaskService.start` validates the task body and the rate, finds every device the
filters match (the same `DeviceFilter` as ``GET /api/devices``), and stores the job with
one task per device, each due at its release time (`pacing.release_times`). With
``connection_request`` it then drives the job in the background: each device is sent
a connection request at its release time; afterwards, every ``sweep_interval``, tasks
that are due but still queued (deferred by the dispatch gate, a session that broke, a
connection request that failed) are woken again at the job's rate, a few times at
most, until the job is finished or ``grace`` seconds after its last release.

Devices that never answer keep their task: it runs (still paced) in their next
periodic session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import fields, replace

import aiohttp

from traceacs.provisioning.device import Device
from traceacs.provisioning.repository import DeviceFilter, DeviceRepository, RepositoryError
from traceacs.tasks.bulk import BulkJob, BulkRequest, BulkStore
from traceacs.tasks.model import Task, TaskError, validate_task
from traceacs.tasks.pacing import check_rate, release_times
from traceacs.tasks.service import TaskService

log = logging.getLogger("traceacs.tasks.bulk")

PAGE = 1000
MAX_DEVICES = 1_000_000
MAX_WAKES = 3
"""Connection requests per task at most (the first one and two re-wakes)."""


class BulkTaskService:
    def __init__(
        self,
        store: BulkStore,
        repository: DeviceRepository,
        tasks: TaskService,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        sweep_interval: float = 1.0,
        grace: float = 60.0,
        concurrency: int = 64,
    ) -> None:
        self.store = store
        self.repository = repository
        self.tasks = tasks
        self._clock = clock
        self._sleep = sleep
        self._sweep_interval = sweep_interval
        self._grace = grace
        self._concurrency = concurrency
        self._running: set[asyncio.Task[None]] = set()

    async def start(self, request: BulkRequest, filters: DeviceFilter) -> BulkJob:
        """Store the job and its tasks (`TaskError` for a bad body or rate)."""
        try:
            rate = check_rate(request.rate)
        except ValueError as exc:
            raise TaskError(str(exc)) from None
        request = replace(request, arguments=validate_task(request.name, request.arguments))
        request = replace(request, rate=rate)
        devices = await self.matching(filters)
        now = self._clock()
        job = await self.store.create_job(
            request,
            [(d.oui, d.serial_number) for d in devices],
            release_times(len(devices), rate, now),
            now,
        )
        log.info("bulk job %d: %s for %d device(s) at %g/s", job.id, job.name, job.matched, rate)
        return job

    async def matching(self, filters: DeviceFilter) -> list[Device]:
        devices: list[Device] = []
        while True:
            page = await self.repository.list_devices(
                filters, sort_by="serial_number", limit=PAGE, offset=len(devices)
            )
            devices.extend(page)
            if len(page) < PAGE:
                return devices
            if len(devices) >= MAX_DEVICES:
                raise TaskError(f"the filters match more than {MAX_DEVICES} devices")

    def launch(self, job: BulkJob) -> asyncio.Task[None]:
        """Drive ``job`` in the background (see `drive`); `close` stops it."""
        task = asyncio.get_running_loop().create_task(self.drive(job))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
        for task in list(self._running):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def drive(self, job: BulkJob, *, follow: bool = True) -> None:
        """Wake each device at its release time, then (``follow``) re-wake what is left
        due until the job is finished or its grace time is over."""
        if not job.connection_request or job.matched == 0:
            return
        wakes: dict[int, tuple[int, float]] = {}  # task id -> (wakes sent, due time then)
        failed: set[int] = set()  # tasks whose last connection request failed
        limit = asyncio.Semaphore(self._concurrency)
        pending: set[asyncio.Task[None]] = set()
        interval = 1.0 / job.rate
        last = float("-inf")
        async with aiohttp.ClientSession() as http:
            try:
                deadline = job.ends_at + self._grace
                horizon = deadline  # the first pass takes every task, each at its time
                while self._clock() < deadline:
                    try:
                        due = await self.store.due_tasks_of(job.id, horizon, limit=job.matched)
                    except RepositoryError as exc:  # try again at the next sweep
                        log.warning("bulk job %d: %s", job.id, type(exc).__name__)
                        await self._sleep(self._sweep_interval)
                        continue
                    horizon = self._clock()
                    to_wake = [
                        t
                        for t in due
                        if t.id not in wakes
                        or (
                            wakes[t.id][0] < MAX_WAKES
                            and (t.id in failed or wakes[t.id][1] != t.next_attempt_at)
                        )
                    ]
                    for task in to_wake:
                        device = await self._device(task, failed)
                        if device is None:
                            continue
                        await limit.acquire()  # a free sender first, then the turn
                        # Never catch up: each release at least 1/rate after the last one
                        # as measured, so a stalled loop does not send a burst after it.
                        at = max(task.next_attempt_at, last + interval)
                        while (now := self._clock()) < at:
                            await self._sleep(at - now)
                        last = now
                        count = wakes.get(task.id, (0, 0.0))[0]
                        wakes[task.id] = (count + 1, task.next_attempt_at)
                        failed.discard(task.id)
                        sent = asyncio.create_task(
                            self._wake(task, device, now, http, limit, failed)
                        )
                        pending.add(sent)
                        sent.add_done_callback(pending.discard)
                    if not follow:
                        break
                    try:
                        current = await self.store.get_job(job.id)
                    except RepositoryError:
                        current = job
                    if current is None or current.progress.queued == 0:
                        break  # running tasks finish in their sessions: no wake needed
                    await self._sleep(self._sweep_interval)
                    horizon = self._clock()
            finally:
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)

    async def _device(self, task: Task, failed: set[int]) -> Device | None:
        try:
            return await self.repository.get_device(task.oui, task.serial_number)
        except RepositoryError as exc:
            failed.add(task.id)
            log.warning("bulk wake-up skipped: %s", type(exc).__name__)
            return None

    async def _wake(
        self,
        task: Task,
        device: Device,
        released_at: float,
        http: aiohttp.ClientSession,
        limit: asyncio.Semaphore,
        failed: set[int],
    ) -> None:
        try:
            result = await self.tasks.wake(
                device, session=http, paced=True, released_at=released_at
            )
            if not result.ok:
                failed.add(task.id)
                log.debug("bulk wake-up of a device: %s", result.outcome.value)
        finally:
            limit.release()


def device_filter_json(filters: DeviceFilter) -> dict[str, str]:
    """The conditions that are set, as text (for the job's record)."""
    out: dict[str, str] = {}
    for item in fields(filters):
        value = getattr(filters, item.name)
        if value is not None:
            out[item.name] = str(getattr(value, "value", value))
    return out
