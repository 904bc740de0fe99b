"""``/api/devices``: search with filters, paging and sorting; show, delete, re-provision."""

from __future__ import annotations

import pytest

from tests.api.conftest import OUI, VALUE_SECRET, Api
from tests.api.fleet import entry, plant_attempt, plant_device
from traceacs.provisioning.device import ProvisioningState


async def _serials(api: Api, query: str) -> list[str]:
    body = await api.get(f"/api/devices?{query}", token="read")
    return [d["serial_number"] for d in body["items"]]


async def test_filters(api: Api) -> None:
    await plant_device(
        api.repo, "AB100", now=1.0, model="M1", firmware="1.0", mac="aa:bb:cc:dd:ee:01"
    )
    await plant_device(api.repo, "AB200", now=2.0, model="M2", firmware="2.0", plan="gold")
    await plant_device(api.repo, "CD300", now=3.0, model="M1", firmware="2.0")
    await api.repo.set_state(OUI, "CD300", ProvisioningState.FAILED, 4.0, failed_step="verify")

    assert await _serials(api, "") == ["AB100", "AB200", "CD300"]
    assert await _serials(api, "serial=AB") == ["AB100", "AB200"]
    assert await _serials(api, "serial=AB100") == ["AB100"]
    assert await _serials(api, "mac=AA:BB:CC:DD:EE:01") == ["AB100"]
    assert await _serials(api, "customer_id=cust-AB200") == ["AB200"]
    assert await _serials(api, "model=M1") == ["AB100", "CD300"]
    assert await _serials(api, "firmware=2.0") == ["AB200", "CD300"]
    assert await _serials(api, "state=failed") == ["CD300"]
    assert await _serials(api, "failed_step=verify") == ["CD300"]
    assert await _serials(api, "plan=gold") == ["AB200"]
    assert await _serials(api, "model=M1&firmware=2.0") == ["CD300"]
    body = await api.get("/api/devices?model=M1", token="read")
    assert body["total"] == 2
    assert "last_values" not in body["items"][0]  # the list is a summary


async def test_paging_and_sorting_by_the_database(api: Api) -> None:
    for i, serial in enumerate(["S3", "S1", "S5", "S2", "S4"]):
        await plant_device(api.repo, serial, now=float(10 - i))
    page1 = await api.get("/api/devices?limit=2", token="read")
    page2 = await api.get("/api/devices?limit=2&offset=2", token="read")
    page3 = await api.get("/api/devices?limit=2&offset=4", token="read")
    assert [d["serial_number"] for d in page1["items"] + page2["items"] + page3["items"]] == [
        "S1",
        "S2",
        "S3",
        "S4",
        "S5",
    ]
    assert (page1["total"], page1["limit"], page2["offset"]) == (5, 2, 2)
    assert await _serials(api, "sort=-serial_number&limit=2") == ["S5", "S4"]
    # last_inform_at: S3 informed last (10), S4 first (6)
    assert await _serials(api, "sort=last_inform_at") == ["S4", "S2", "S5", "S1", "S3"]
    assert await _serials(api, "sort=-last_inform_at&limit=1") == ["S3"]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "offset=-1",
        "offset=1.5",
        "sort=password",
        "sort=-",
        "state=broken",
    ],
)
async def test_bad_query_parameters_are_400(api: Api, query: str) -> None:
    response, body = await api.call("GET", f"/api/devices?{query}", token="read")
    assert response.status == 400
    name = query.split("=")[0]
    assert name in body["error"]["message"]


async def test_show_device_with_last_attempt_and_no_secrets(api: Api) -> None:
    await plant_device(api.repo, "SN1", now=100.0)
    await plant_attempt(api.repo, "SN1", started=200.0, duration=5.0, result="success")
    await plant_attempt(
        api.repo, "SN1", started=300.0, duration=7.0, result="verification_failed", step="verify"
    )
    body = await api.get("/api/devices/SN1", token="read")
    assert body["serial_number"] == "SN1"
    assert body["oui"] == OUI
    assert body["state"] == "failed"
    assert body["failed_step"] == "verify"
    assert body["has_connection_request_password"] is True
    assert "connection_request_password" not in body
    values = body["last_values"]
    assert values["Device.WiFi.SSID.1.SSID"] == "home"
    assert values["Device.WiFi.AccessPoint.1.Security.KeyPassphrase"] == "[REDACTED]"
    last = body["last_attempt"]
    assert (last["result"], last["failing_step"], last["fault_code"]) == (
        "verification_failed",
        "verify",
        9007,
    )
    assert last["duration_s"] == pytest.approx(7.0)
    assert last["trace_id"] == f"{300:032x}"
    assert VALUE_SECRET not in str(body)


async def test_device_without_attempts_has_null_last_attempt(api: Api) -> None:
    await api.repo.import_devices([entry("SN1")], now=1.0)
    body = await api.get("/api/devices/SN1", token="read")
    assert body["last_attempt"] is None
    assert body["has_connection_request_password"] is False


async def test_unknown_device_is_404_everywhere(api: Api) -> None:
    for method, path in (
        ("GET", "/api/devices/NOPE"),
        ("DELETE", "/api/devices/NOPE"),
        ("POST", "/api/devices/NOPE/reprovision"),
        ("GET", "/api/devices/NOPE/attempts"),
    ):
        response, body = await api.call(method, path)
        assert response.status == 404, (method, path)
        assert "NOPE" in body["error"]["message"]


async def test_shared_serial_is_409_until_the_oui_is_given(api: Api) -> None:
    await api.repo.import_devices([entry("SN1"), entry("SN1", oui="AABBCC")], now=1.0)
    response, body = await api.call("GET", "/api/devices/SN1", token="read")
    assert response.status == 409
    assert "OUI" in body["error"]["message"]
    body = await api.get("/api/devices/SN1?oui=aabbcc", token="read")
    assert body["oui"] == "AABBCC"


async def test_delete_device(api: Api) -> None:
    await plant_device(api.repo, "SN1", now=1.0)
    await plant_attempt(api.repo, "SN1", started=2.0, duration=1.0)
    response, body = await api.call("DELETE", "/api/devices/SN1")
    assert response.status == 204
    assert body is None
    assert await api.repo.get_device(OUI, "SN1") is None
    assert (await api.call("DELETE", "/api/devices/SN1"))[0].status == 404


async def test_reprovision_sets_state_new(api: Api) -> None:
    await plant_device(api.repo, "SN1", now=1.0)
    await plant_attempt(
        api.repo, "SN1", started=2.0, duration=1.0, result="push_failed", step="push_config"
    )
    assert (await api.repo.get_device(OUI, "SN1")).state is ProvisioningState.FAILED  # type: ignore[union-attr]
    api.clock.now = 50.0
    response, body = await api.call("POST", "/api/devices/SN1/reprovision")
    assert response.status == 200
    assert body["state"] == "new"
    assert body["failed_step"] is None
    device = await api.repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.state is ProvisioningState.NEW
    assert device.updated_at == 50.0


async def test_device_attempts_newest_first_and_paged(api: Api) -> None:
    await plant_device(api.repo, "SN1", now=1.0)
    await plant_device(api.repo, "SN2", now=1.0)
    for started in (10.0, 20.0, 30.0):
        await plant_attempt(api.repo, "SN1", started=started, duration=1.0)
    await plant_attempt(api.repo, "SN2", started=40.0, duration=1.0)
    body = await api.get("/api/devices/SN1/attempts", token="read")
    assert [a["started_at"] for a in body["items"]] == [30.0, 20.0, 10.0]
    body = await api.get("/api/devices/SN1/attempts?limit=1&offset=1", token="read")
    assert [a["started_at"] for a in body["items"]] == [20.0]
    response, _ = await api.call("GET", "/api/devices/SN1/attempts?limit=-3", token="read")
    assert response.status == 400
