"""Every write is audited with the token, method, path, target and status."""

from __future__ import annotations

from tests.api.conftest import OUI, Api
from tests.api.fleet import plant_device


async def test_writes_are_audited_and_listed(api: Api) -> None:
    await plant_device(api.repo, "SN1", now=1.0)
    await plant_device(api.repo, "SN2", now=1.0)
    api.clock.now = 10.0
    await api.call("POST", "/api/devices/SN1/reprovision")
    api.clock.now = 11.0
    await api.call("DELETE", "/api/devices/SN2")
    api.clock.now = 12.0
    await api.call("DELETE", "/api/devices/NOPE")
    api.clock.now = 13.0
    csv = (
        "serial_number,oui,product_class,customer_id,service_plan,location_id\n"
        f"SN3,{OUI},HG,c,p,l\n"
    )
    await api.call("POST", "/api/inventory", data=csv, headers={"Content-Type": "text/csv"})
    api.clock.now = 14.0
    await api.call("PUT", "/api/profiles/gold", json={"name": "gold", "services": ["internet"]})
    await api.get("/api/devices")  # reads are not audited

    body = await api.get("/api/audit")
    rows = [(e["at"], e["method"], e["path"], e["target"], e["status"]) for e in body["items"]]
    assert rows == [
        (14.0, "PUT", "/api/profiles/gold", "gold", 201),
        (13.0, "POST", "/api/inventory", "1 devices", 200),
        (12.0, "DELETE", "/api/devices/NOPE", "NOPE", 404),
        (11.0, "DELETE", "/api/devices/SN2", "SN2", 204),
        (10.0, "POST", "/api/devices/SN1/reprovision", "SN1", 200),
    ]
    assert {e["token_name"] for e in body["items"]} == {"oss"}
    token_id = body["items"][0]["token_id"]
    paged = await api.get(f"/api/audit?limit=2&offset=1&token_id={token_id}")
    assert [e["at"] for e in paged["items"]] == [13.0, 12.0]
    assert (await api.get("/api/audit?token_id=999"))["items"] == []
    response, _ = await api.call("GET", "/api/audit?token_id=x")
    assert response.status == 400
