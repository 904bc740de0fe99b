"""The console's fleet endpoints: time series, duration histogram, failure groups."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.api.conftest import Api, start_api
from tests.api.fleet import plant_attempt, plant_device
from traceacs.provisioning.device import ProvisioningState
from traceacs.storage import SqlDeviceRepository
from traceacs.storage.fleet_history import SqlFleetHistory

NOW = 1_000_000.0  # the harness clock


async def _fail(repo: SqlDeviceRepository, serial: str, step: str) -> None:
    device = await repo.get_device_by_serial(serial)
    assert device is not None
    await repo.set_state(
        device.oui,
        serial,
        ProvisioningState.FAILED,
        NOW,
        failed_step=step,
        failure_reason="failed",
    )


@pytest.fixture
async def fleet(repo: SqlDeviceRepository) -> AsyncIterator[Api]:
    for serial, model in (
        ("D1", "M-A"),
        ("D2", "M-A"),
        ("D3", "M-B"),
        ("D4", "M-A"),
        ("D5", "M-A"),
    ):
        await plant_device(repo, serial, now=NOW - 7200, model=model)
    # the first minute of the hour: D1 succeeds; the third: D2 fails at push (fault 9007)
    await plant_attempt(repo, "D1", started=NOW - 3600, duration=0.4)
    await plant_attempt(
        repo,
        "D2",
        started=NOW - 3600 + 130,
        duration=3.0,
        result="config_push_failed",
        step="push_config",
    )
    # the last minute: D3 fails verification after 200 s, D4 is still running
    await plant_attempt(
        repo, "D3", started=NOW - 50, duration=200.0, result="verification_failed", step="verify"
    )
    await plant_attempt(repo, "D4", started=NOW - 10, duration=None)
    # D5 failed at push too, but long ago: still a failed device, outside the window
    await plant_attempt(
        repo,
        "D5",
        started=NOW - 90_000,
        duration=1.0,
        result="config_push_failed",
        step="push_config",
    )
    for serial, step in (("D2", "push_config"), ("D3", "verify"), ("D5", "push_config")):
        await _fail(repo, serial, step)
    async with start_api(repo, history=SqlFleetHistory(repo.db)) as api:
        yield api


async def test_timeseries_buckets_the_window(fleet: Api) -> None:
    body = await fleet.get("/api/summary/timeseries?window=3600&bucket=60", token="read")
    assert body["bucket_s"] == 60
    buckets = body["buckets"]
    assert len(buckets) == 61  # [now-3600, now+1) in whole minutes, empty ones included
    assert buckets[0]["start"] == NOW - 3600
    assert (buckets[0]["attempts"], buckets[0]["succeeded"], buckets[0]["failed"]) == (1, 1, 0)
    assert (buckets[2]["attempts"], buckets[2]["failed"], buckets[2]["failure_rate"]) == (1, 1, 1.0)
    assert buckets[1] == {
        "start": NOW - 3540,
        "attempts": 0,
        "finished": 0,
        "succeeded": 0,
        "failed": 0,
        "failure_rate": None,
        "mean_duration_s": None,
    }
    last = buckets[59]
    assert (last["attempts"], last["finished"], last["failed"]) == (2, 1, 1)
    assert last["mean_duration_s"] == 200.0
    assert sum(b["attempts"] for b in buckets) == 4  # D5's old attempt is outside


async def test_timeseries_default_bucket_and_limits(fleet: Api) -> None:
    body = await fleet.get("/api/summary/timeseries?window=3600", token="read")
    assert body["bucket_s"] == 60
    response, error = await fleet.call(
        "GET", "/api/summary/timeseries?window=86400&bucket=1", token="read"
    )
    assert response.status == 400
    assert "1000 buckets" in error["error"]["message"]
    response, _ = await fleet.call("GET", "/api/summary/timeseries?bucket=0", token="read")
    assert response.status == 400


async def test_duration_histogram(fleet: Api) -> None:
    body = await fleet.get("/api/summary/durations?window=3600", token="read")
    counts = {b["le"]: b["count"] for b in body["buckets"]}
    assert counts[0.5] == 1  # D1: 0.4 s
    assert counts[5.0] == 1  # D2: 3 s
    assert counts[300.0] == 1  # D3: 200 s
    assert sum(counts.values()) == 3  # the running attempt has no duration


async def test_failure_groups_and_their_devices(fleet: Api) -> None:
    body = await fleet.get("/api/failures", token="read")
    assert body["total_devices"] == 3
    assert body["items"][0] == {
        "result": "config_push_failed",
        "step": "push_config",
        "model": "M-A",
        "fault_code": 9007,
        "count": 2,
    }
    assert body["items"][1]["model"] == "M-B"
    page = await fleet.get(
        "/api/failures/devices?result=config_push_failed&step=push_config&model=M-A&fault_code=9007",
        token="read",
    )
    assert [d["serial_number"] for d in page["items"]] == ["D2", "D5"]
    none = await fleet.get(
        "/api/failures/devices?result=config_push_failed&step=push_config&model=M-A&missing=fault_code",
        token="read",
    )
    assert none["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        "result=x&step=y&model=z",  # fault_code neither given nor missing
        "result=x&step=y&model=z&fault_code=1&missing=fault_code",  # both
        "result=x&step=y&model=z&fault_code=abc",
        "result=x&step=y&model=z&missing=fault_code,colour",
    ],
)
async def test_failure_group_devices_bad_input(fleet: Api, query: str) -> None:
    response, body = await fleet.call("GET", f"/api/failures/devices?{query}", token="read")
    assert response.status == 400, body


@pytest.mark.parametrize(
    "path", ["/api/summary/timeseries", "/api/summary/durations", "/api/failures"]
)
async def test_fleet_endpoints_need_a_token(fleet: Api, path: str) -> None:
    response, _ = await fleet.call("GET", path, token=None)
    assert response.status == 401
