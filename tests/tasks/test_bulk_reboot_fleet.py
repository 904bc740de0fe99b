"""A fleet-wide reboot that is not a boot storm: 1,000 simulated CPEs over HTTP.

The real ACS (CWMP endpoint, task runner with its dispatch gate, REST API) and a
simulated fleet answering connection requests. One ``POST /api/tasks/bulk`` reboots
every device at 200 devices/s. Checked from recorded data, not from sleeps: every
device informed "M Reboot" + "1 BOOT" exactly once; the ACS sent exactly one Reboot RPC
per device; and the Reboot RPCs' recorded dispatch times (their spans' start) never
put more than ``rate`` dispatches in any one-second window; the connection requests
(their ``cpe.connection_request`` spans) neither, and each woken session links to
its connection request.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from tests.api.openapi_check import check_response
from tests.tasks.live import live
from tests.telemetry.conftest import make_harness
from traceacs.simulator.faults import NO_FAULTS
from traceacs.simulator.fleet import build_fleet

FLEET = 1000
RATE = 200
WINDOW_NS = 1_000_000_000
EPSILON_NS = 100_000
"""Float resolution: times are epoch seconds in doubles (~0.24 µs apart at today's
epoch), summed over 200 intervals per window; 100 µs is 2 % of one 5 ms interval."""


def most_in_any_window(starts_ns: list[int]) -> int:
    """The most timestamps that fall in any half-open one-second window."""
    times = sorted(starts_ns)
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= WINDOW_NS - EPSILON_NS:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_most_in_any_window_counts_a_burst() -> None:
    spaced = [i * (WINDOW_NS // 4) for i in range(12)]
    assert most_in_any_window(spaced) == 4
    assert most_in_any_window([*spaced, 10]) == 5


def _starts(spans: list[ReadableSpan], name: str) -> list[int]:
    return [s.start_time for s in spans if s.name == name and s.start_time is not None]


async def test_bulk_reboot_of_a_thousand_cpes_respects_the_rate(tmp_path: Path) -> None:
    fleet = build_fleet(FLEET, data_model="tr181", plans=[NO_FAULTS] * FLEET, seed=7)
    harness = make_harness()
    try:
        async with live(
            tmp_path, fleet, telemetry=harness.telemetry, ramp_seconds=15.0, boot_timeout=240
        ) as acs:
            harness.spans.clear()
            after = len(acs.informs.events)
            path = f"api/tasks/bulk?oui={fleet.cpes[0].identity.oui}&rate={RATE}"
            status, job = await acs.api(
                "POST", path + "&connection_request=true", json={"name": "reboot"}
            )
            check_response("POST", "/api/tasks/bulk", status, job)
            assert status == 202, job
            assert (job["matched"], job["queued"], job["rate"]) == (FLEET, FLEET, RATE)
            assert job["ends_at"] - job["starts_at"] == pytest.approx((FLEET - 1) / RATE)

            deadline = time.monotonic() + 300  # generous: CI machines are shared
            while True:
                status, job = await acs.api("GET", f"api/tasks/bulk/{job['id']}")
                check_response("GET", f"/api/tasks/bulk/{job['id']}", status, job)
                if job["finished"]:
                    break
                assert time.monotonic() < deadline, job
                await asyncio.sleep(0.2)
            assert (job["done"], job["failed"]) == (FLEET, 0), job

            def all_booted() -> bool:
                booted = {s for s, codes in acs.informs.events[after:] if "M Reboot" in codes}
                return len(booted) == FLEET

            async with acs.informs.changed:
                await asyncio.wait_for(acs.informs.changed.wait_for(all_booted), 60)
            sessions = acs.informs.events[after:]
            reboots = Counter(s for s, codes in sessions if "M Reboot" in codes)
            boots = Counter(s for s, codes in sessions if "1 BOOT" in codes)
            serials = {c.identity.serial_number for c in fleet.cpes}
            assert set(reboots) == serials
            assert set(reboots.values()) == {1}
            assert boots == reboots  # one BOOT each, the one that came with M Reboot

            spans = harness.finished_spans()
            dispatched = _starts(spans, "cwmp.rpc Reboot")
            assert len(dispatched) == FLEET  # one Reboot RPC per device, no repeat
            assert most_in_any_window(dispatched) <= RATE
            woken = _starts(spans, "cpe.connection_request")
            assert len(woken) >= FLEET
            assert most_in_any_window(woken) <= RATE
            requests = {
                s.context.span_id
                for s in spans
                if s.name == "cpe.connection_request" and s.context is not None
            }
            linked = [
                s for s in spans if s.name == "cpe.inform" and s.links
                and s.links[0].context.span_id in requests
            ]  # fmt: skip
            assert len(linked) >= FLEET  # each woken session points at its request
            span = max(dispatched) - min(dispatched)
            assert span >= (FLEET - 1) / RATE * 1e9 - EPSILON_NS  # paced, not bunched
    finally:
        harness.telemetry.shutdown()
