"""Presets CRUD and device tags over the API: answers valid against the OpenAPI
document (the harness checks every call), refusals, the audit trail."""

from __future__ import annotations

from tests.api.conftest import WIFI_SECRET, Api
from tests.api.fleet import plant_device

INTERVAL = "Device.ManagementServer.PeriodicInformInterval"


async def test_tags_on_devices_and_the_tag_filter(api: Api) -> None:
    for serial in ("A1", "A2"):
        await plant_device(api.repo, serial, now=1.0)
    response, body = await api.call("PUT", "/api/devices/A1/tags/vip")
    assert (response.status, body) == (200, {"serial_number": "A1", "tags": ["vip"]})
    response, body = await api.call("PUT", "/api/devices/A1/tags/vip")
    assert body["tags"] == ["vip"]  # idempotent
    await api.call("PUT", "/api/devices/A1/tags/east")
    assert (await api.get("/api/devices/A1"))["tags"] == ["east", "vip"]
    listing = await api.get("/api/devices?tag=vip")
    assert [(d["serial_number"], d["tags"]) for d in listing["items"]] == [("A1", ["east", "vip"])]
    assert listing["total"] == 1
    assert [d["tags"] for d in (await api.get("/api/devices"))["items"]] == [["east", "vip"], []]

    response, body = await api.call("DELETE", "/api/devices/A1/tags/vip")
    assert (response.status, body["tags"]) == (200, ["east"])
    assert (await api.get("/api/devices?tag=vip"))["total"] == 0
    response, body = await api.call("PUT", "/api/devices/A1/tags/not%20ok")
    assert response.status == 400
    assert "tag must be" in body["error"]["message"]
    response, _ = await api.call("PUT", "/api/devices/NOPE/tags/vip")
    assert response.status == 404
    response, _ = await api.call("PUT", "/api/devices/A1/tags/x", token="read")
    assert response.status == 403
    audit = [(e["method"], e["path"], e["status"]) for e in (await api.get("/api/audit"))["items"]]
    assert ("DELETE", "/api/devices/A1/tags/vip", 200) in audit


async def test_preset_crud_with_revisions(api: Api) -> None:
    body = {"weight": 10, "condition": {"tag": "vip"}, "parameterValues": [[INTERVAL, 900]]}
    api.clock.now = 50.0
    response, preset = await api.call("PUT", "/api/presets/vip-interval", json=body)
    assert response.status == 201, preset
    assert preset["revision"] == 1
    assert preset["parameterValues"] == [[INTERVAL, 900, "unsignedInt"]]
    response, again = await api.call("PUT", "/api/presets/vip-interval", json=body)
    assert (response.status, again["revision"]) == (200, 1)
    body["parameterValues"] = [[INTERVAL, 1200]]
    response, changed = await api.call("PUT", "/api/presets/vip-interval", json=body)
    assert (response.status, changed["revision"]) == (200, 2)
    await api.call("PUT", "/api/presets/reboot-all", json={"tasks": [{"name": "reboot"}]})
    names = [p["name"] for p in (await api.get("/api/presets", token="read"))["items"]]
    assert names == ["vip-interval", "reboot-all"]  # highest weight first
    assert (await api.get("/api/presets/vip-interval"))["revision"] == 2

    key = "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"
    secret = {"parameterValues": [[key, WIFI_SECRET]], "tasks": [
        {"name": "setParameterValues", "parameterValues": [[key, WIFI_SECRET]]}
    ]}  # fmt: skip
    response, stored = await api.call("PUT", "/api/presets/wifi", json=secret)
    assert response.status == 201
    assert stored["parameterValues"] == [[key, "[REDACTED]", "string"]]
    assert stored["tasks"][0]["parameterValues"] == [[key, "[REDACTED]", "string"]]
    await api.get("/api/presets")  # the harness checks no body carried the secret
    await api.get("/api/presets/wifi")

    response, error = await api.call("PUT", "/api/presets/bad", json={"weight": 1})
    assert response.status == 400
    assert "parameterValues and/or tasks" in error["error"]["message"]
    response, _ = await api.call("PUT", "/api/presets/bad", json=[1])
    assert response.status == 400
    response, _ = await api.call("GET", "/api/presets/bad")
    assert response.status == 404
    response, _ = await api.call("DELETE", "/api/presets/vip-interval")
    assert response.status == 204
    response, _ = await api.call("DELETE", "/api/presets/vip-interval")
    assert response.status == 404
    response, _ = await api.call("PUT", "/api/presets/x", json=body, token="read")
    assert response.status == 403
