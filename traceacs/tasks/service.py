"""Queueing a task for an operator: validate, store, wake the device, wait for it.

Shared by the REST API and the CLI. Waking is a connection request to the device's
stored ``ConnectionRequestURL`` with its stored credentials, through the process's rate
limiter (so a script queueing tasks for a whole fleet does not cause a boot storm).
Waiting reads the task back from the store until it is done or failed, or the timeout
passes; the store is the truth, so the wait also sees a session served by another ACS
process. The in-process `TaskSignal` only ends each pause early.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from traceacs.provisioning.device import Device
from traceacs.provisioning.telemetry_port import ProvisioningTelemetry
from traceacs.server.connection_request import (
    ConnectionRequestOutcome,
    ConnectionRequestRateLimiter,
    ConnectionRequestResult,
    send_connection_request,
)
from traceacs.tasks.model import Task, validate_task
from traceacs.tasks.store import TaskStore
from traceacs.tasks.wake_trace import ConnectionRequestTraces

POLL_SECONDS = 0.25


class TaskSignal:
    """Wakes waiters when this process writes a task (a `TaskListener`)."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def __call__(self, task: Task) -> None:
        self._changed.set()

    async def wait(self, timeout: float) -> None:
        """Return at the next task write, or after ``timeout`` seconds."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)


class TaskService:
    def __init__(
        self,
        store: TaskStore,
        *,
        limiter: ConnectionRequestRateLimiter | None = None,
        signal: TaskSignal | None = None,
        clock: Callable[[], float] = time.time,
        connection_request_timeout: float = 10.0,
        telemetry: ProvisioningTelemetry | None = None,
        wakes: ConnectionRequestTraces | None = None,
    ) -> None:
        """``telemetry`` + ``wakes``: each connection request becomes a span, linked from
        the session it causes (`traceacs.tasks.wake_trace`); without them, untraced."""
        self.store = store
        self._telemetry = telemetry
        self.wakes = wakes
        self.limiter = limiter or ConnectionRequestRateLimiter(50.0, burst=50, now=time.monotonic())
        self.signal = signal or TaskSignal()
        self._clock = clock
        self._cr_timeout = connection_request_timeout

    async def add(self, device: Device, name: str, arguments: Mapping[str, Any]) -> Task:
        """Validate and queue; `TaskError` for a bad request or an unknown device."""
        canonical = validate_task(name, arguments)
        return await self.store.add_task(
            device.oui, device.serial_number, name, canonical, self._clock()
        )

    async def wake(
        self,
        device: Device,
        *,
        session: aiohttp.ClientSession | None = None,
        paced: bool = False,
        released_at: float | None = None,
    ) -> ConnectionRequestResult:
        """Ask the device to open a session now (never raises for network trouble).

        ``session``: an HTTP client session to reuse (a bulk job's); else one of its own.
        ``paced``: the caller keeps its own rate (a bulk job), the limiter is not asked;
        ``released_at``: when the caller's pacing released it (the span's start).
        """
        url = device.connection_request_url
        if not url:
            return ConnectionRequestResult(
                ConnectionRequestOutcome.UNREACHABLE, detail="no ConnectionRequestURL known yet"
            )
        if not paced:
            await self.limiter.acquire()
        if session is not None:
            return await self._send(device, url, session, released_at)
        async with aiohttp.ClientSession() as http:
            return await self._send(device, url, http, released_at)

    async def _send(
        self, device: Device, url: str, http: aiohttp.ClientSession, released_at: float | None
    ) -> ConnectionRequestResult:
        started = self._clock() if released_at is None else released_at
        result = await send_connection_request(
            url,
            device.connection_request_username or "",
            device.open_connection_request_password() or "",
            session=http,
            timeout=self._cr_timeout,
        )
        if self.wakes is not None and self._telemetry is not None:
            trace = self.wakes.record(
                device.oui, device.serial_number, result, started, self._clock()
            )
            # Balanced at once: the request's trace is exported, it is no session.
            self._telemetry.session_started()
            self._telemetry.session_finished(trace, None)
        return result

    async def wait(self, task_id: int, timeout: float) -> Task | None:
        """The task once done or failed, or as it is when ``timeout`` runs out."""
        deadline = time.monotonic() + timeout
        while True:
            task = await self.store.get_task(task_id)
            left = deadline - time.monotonic()
            if task is None or task.finished or left <= 0:
                return task
            await self.signal.wait(min(POLL_SECONDS, left))
