"""The BSS down, then slow, behind a whole ACS: CWMP sessions, workflow and store.

`tests/profiles/test_http_source.py` covers the HTTP source's retries and breaker on
their own; here the question is what provisioning does with them: a dead BSS is its own
result class (``bss_unavailable``, never ``no_profile``), the breaker opens and stops
asking it, devices provision once it is back, and a slow BSS costs a bounded wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.profiles.fake_bss import FakeBss
from tests.reliability.harness import RealAcs, real_acs
from traceacs.cwmp import events as ev
from traceacs.profiles.circuit_breaker import CircuitBreaker, CircuitState
from traceacs.profiles.http import HttpProfileSource, RetryPolicy
from traceacs.provisioning.device import ProvisioningState
from traceacs.provisioning.repository import AttemptFilter
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.runner import FleetRunner, RunnerConfig

THRESHOLD = 3
RESET_S = 30.0


class Clock:
    """The breaker's clock, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _no_sleep(_: float) -> None:
    """Back-off between BSS retries is asked for, not waited (the HTTP source tests
    check the delays); the client timeout stays real: it is what bounds a slow BSS."""


@pytest.fixture
async def bss() -> AsyncIterator[FakeBss]:
    server = FakeBss()
    await server.start()
    yield server
    await server.stop()


async def session(acs: RealAcs, cpe: SimulatedCpe) -> None:
    runner = FleetRunner([cpe], RunnerConfig(acs.url, connection_requests=False))
    assert await runner.run_session(cpe), runner.stats.results


async def last_attempt(acs: RealAcs, cpe: SimulatedCpe) -> tuple[str | None, dict[str, object]]:
    attempts = await acs.repo.list_attempts(
        AttemptFilter(serial_number=cpe.identity.serial_number), limit=1
    )
    return attempts[0].result, dict(attempts[0].details)


async def test_bss_down_opens_the_breaker_and_provisioning_resumes(
    tmp_path: Path, bss: FakeBss
) -> None:
    clock = Clock()
    source = HttpProfileSource(
        bss.base_url,
        timeout=0.5,
        retry=RetryPolicy(attempts=2),
        breaker=CircuitBreaker(failure_threshold=THRESHOLD, reset_timeout=RESET_S),
        sleep=_no_sleep,
        clock=clock,
    )
    async with source, real_acs(tmp_path, devices=8, profiles=source) as acs:
        cpes = acs.fleet.cpes
        bss.mode = "status:503"
        for cpe in cpes[:THRESHOLD]:
            await session(acs, cpe)
            assert await last_attempt(acs, cpe) == ("bss_unavailable", {"bss_error": "http_status"})
            device = await acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
            assert device is not None
            assert device.state is ProvisioningState.FAILED
            assert device.failure_reason == "Service profile source unavailable (http_status)"
        assert source.breaker.state(clock.now) is CircuitState.OPEN

        # Open: the next device fails fast, the BSS is not asked at all.
        asked = len(bss.requests)
        await session(acs, cpes[THRESHOLD])
        assert await last_attempt(acs, cpes[THRESHOLD]) == (
            "bss_unavailable",
            {"bss_error": "circuit_open"},
        )
        assert len(bss.requests) == asked

        # The BSS is back; after the reset timeout one probe closes the breaker.
        bss.mode = "healthy"
        clock.now += RESET_S + 1
        for cpe in cpes[: THRESHOLD + 1]:
            cpe.queue_event(ev.PERIODIC)  # their next Inform retries the failed ones
            await session(acs, cpe)
            assert (await last_attempt(acs, cpe))[0] == "success"
        assert source.breaker.state(clock.now) is CircuitState.CLOSED

        # A slow BSS: the client timeout bounds the wait; same result class.
        bss.mode = "slow"
        await session(acs, cpes[5])
        assert await last_attempt(acs, cpes[5]) == ("bss_unavailable", {"bss_error": "timeout"})
        bss.release.set()
        bss.mode = "healthy"
        await acs.healthy_session()
