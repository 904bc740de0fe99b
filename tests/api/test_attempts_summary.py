"""``/api/attempts`` across the fleet, one attempt by id, and the fleet summary."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, start_api
from tests.api.fleet import plant_attempt, plant_device
from traceacs.storage import SqlDeviceRepository


async def _fleet(api: Api) -> None:
    await plant_device(api.repo, "SN1", now=1.0, model="M1", plan="gold")
    await plant_device(api.repo, "SN2", now=1.0, model="M2", plan="silver")
    await plant_attempt(api.repo, "SN1", started=100.0, duration=2.0)
    await plant_attempt(
        api.repo, "SN2", started=200.0, duration=3.0, result="push_failed", step="push_config"
    )
    await plant_attempt(
        api.repo, "SN1", started=300.0, duration=4.0, result="verification_failed", step="verify"
    )
    await plant_attempt(api.repo, "SN2", started=400.0, duration=None)


async def _ids(api: Api, query: str) -> list[float]:
    body = await api.get(f"/api/attempts?{query}", token="read")
    return [a["started_at"] for a in body["items"]]


async def test_attempt_filters(api: Api) -> None:
    await _fleet(api)
    assert await _ids(api, "") == [400.0, 300.0, 200.0, 100.0]
    assert await _ids(api, "result=push_failed") == [200.0]
    assert await _ids(api, "step=verify") == [300.0]
    assert await _ids(api, "model=M1") == [300.0, 100.0]
    assert await _ids(api, "serial=SN2") == [400.0, 200.0]
    assert await _ids(api, "from=200&to=400") == [300.0, 200.0]
    assert await _ids(api, "from=1970-01-01T00:05:00Z") == [400.0, 300.0]
    assert await _ids(api, "state=in_progress") == [400.0]
    assert await _ids(api, "state=finished&limit=1&offset=1") == [200.0]


@pytest.mark.parametrize(
    "query", ["from=yesterday", "to=nan", "from=500&to=100", "limit=0", "state=x"]
)
async def test_bad_attempt_queries(api: Api, query: str) -> None:
    response, body = await api.call("GET", f"/api/attempts?{query}", token="read")
    assert response.status == 400
    assert body["error"]["status"] == 400


async def test_one_attempt_with_trace_id(api: Api) -> None:
    await _fleet(api)
    [latest_failed] = (await api.get("/api/attempts?result=verification_failed", token="read"))[
        "items"
    ]
    body = await api.get(f"/api/attempts/{latest_failed['id']}", token="read")
    assert body == latest_failed
    assert body["trace_id"] == f"{300:032x}"
    assert body["details"] == {"mismatched_parameters": ["Device.WiFi.SSID.1.SSID"]}
    assert (await api.call("GET", "/api/attempts/99999", token="read"))[0].status == 404
    assert (await api.call("GET", "/api/attempts/abc", token="read"))[0].status == 400


async def test_summary_counts_rates_durations(api: Api) -> None:
    await _fleet(api)
    api.clock.now = 450.0
    body = await api.get("/api/summary?window=300", token="read")  # attempts from t=150
    assert body["window_s"] == 300
    assert (body["attempts"], body["finished"], body["in_progress"], body["failed"]) == (3, 2, 1, 2)
    assert body["failure_rate"] == 1.0
    assert body["by_result"] == {"push_failed": 1, "verification_failed": 1}
    assert body["by_model"]["M1"]["by_result"] == {"verification_failed": 1}
    assert body["by_plan"]["silver"]["in_progress"] == 1
    assert body["duration_s"]["count"] == 2
    assert body["duration_s"]["mean"] == pytest.approx(3.5)
    assert body["duration_s"]["p50"] == pytest.approx(3.0)
    assert body["duration_s"]["p99"] == pytest.approx(4.0)
    assert body["sessions"] == {"active": None, "capacity": None}
    # 2 of 2 failed, but fewer than 20 attempts: the failure-rate alert holds back
    assert body["firing"] == ["CPEConfigVerificationMismatch"]

    whole = await api.get("/api/summary?window=1000", token="read")
    assert whole["finished"] == 3
    assert whole["by_result"]["success"] == 1
    assert whole["failure_rate"] == pytest.approx(2 / 3)


async def test_summary_alerts(repo: SqlDeviceRepository) -> None:
    sessions = {"active": 12}
    context: dict[str, Any] = {
        "active_sessions": lambda: sessions["active"],
        "capacity": lambda: 10,
    }
    async with start_api(repo, **context) as api:
        for i in range(20):
            await plant_device(api.repo, f"SN{i:02d}", now=1.0)
            failed = i < 2  # 2 of 20 = 10 % > 5 %
            await plant_attempt(
                api.repo,
                f"SN{i:02d}",
                started=100.0 + i,
                duration=90.0,
                result="push_failed" if failed else "success",
                step="push_config" if failed else None,
            )
        api.clock.now = 500.0
        body = await api.get("/api/summary", token="read")
        assert body["sessions"] == {"active": 12, "capacity": 10}
        assert body["firing"] == [
            "CPEProvisioningFailureRateHigh",
            "CPEProvisioningSlow",
            "CPEProvisioningSessionsOverCapacity",
        ]
        sessions["active"] = 3
        body = await api.get("/api/summary", token="read")
        assert "CPEProvisioningSessionsOverCapacity" not in body["firing"]


@pytest.mark.parametrize("window", ["0", "-5", "abc", str(10**9)])
async def test_bad_summary_window(api: Api, window: str) -> None:
    response, _ = await api.call("GET", f"/api/summary?window={window}", token="read")
    assert response.status == 400
