"""Helpers for tests that run a simulated fleet through a fault: a fleet in the
background, a wait on an observable condition, and the store's invariants."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from bench.crash_loop import CONSISTENCY_QUERIES, FINAL_QUERIES
from traceacs.cwmp import events as ev
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.runner import FleetRunner, RunnerConfig, faulted, http_error
from traceacs.storage import SqlDeviceRepository

DEADLINE = 60.0
"""Safety net of every wait (never a synchronisation)."""


def retrying_fleet(
    cpes: Sequence[SimulatedCpe], url: str, *, sessions: int = 1, max_attempts: int = 10_000
) -> FleetRunner:
    """CPEs that retry (TR-069 back-off, scaled down) until their sessions complete, or
    until ``max_attempts`` failed in a row; with ``sessions=2`` each also sends one
    periodic Inform after provisioning."""
    return FleetRunner(
        cpes,
        RunnerConfig(
            url,
            connection_requests=False,
            sessions_per_cpe=sessions,
            periodic_interval=0.05 if sessions > 1 else None,
            jitter=0.0,
            ramp_seconds=2.0,
            retry_scale=0.002,
            max_attempts=max_attempts,
            request_timeout=10.0,
        ),
        seed=3,
    )


def periodic_round(cpes: Sequence[SimulatedCpe], url: str, *, max_attempts: int = 3) -> FleetRunner:
    """Each CPE's next periodic Inform: one session each, retried like `retrying_fleet`
    but only ``max_attempts`` times, so a fault that never clears ends the run.

    Started after a fault has cleared, it is the session every device is certain to
    have once the fault is over, however long the fault's sessions took on a slow host.
    """
    for cpe in cpes:
        cpe.queue_event(ev.PERIODIC)
    return retrying_fleet(cpes, url, sessions=1, max_attempts=max_attempts)


def refusals(runner: FleetRunner) -> int:
    """Sessions the ACS refused with "retry later" (fault 8005 or HTTP 503)."""
    results = runner.stats.results
    return results[faulted(8005)] + results[http_error(503)]


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def store_violations(repo: SqlDeviceRepository) -> dict[str, int]:
    """Every invariant of the crash loop, counted in the store: all must be 0."""
    queries = {**CONSISTENCY_QUERIES, **FINAL_QUERIES}
    return {name: int(await repo.db.fetchval(sql)) for name, sql in queries.items()}
