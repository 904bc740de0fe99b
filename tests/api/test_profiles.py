"""``/api/profiles``: CRUD on the embedded profile source, secrets masked on the way out."""

from __future__ import annotations

from typing import Any

import yaml

from tests.api.conftest import EXTRA_SECRET, SIP_SECRET, WIFI_SECRET, Api


def gold(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": "gold",
        "services": ["internet", "voip"],
        "wifi": {"ssid": "Home", "passphrase": WIFI_SECRET},
        "voip_lines": [{"registrar": "sip.example", "user": "u1", "password": SIP_SECRET}],
        "extra_parameters": [
            {"name": "Device.X_VENDOR.AdminPassword", "value": EXTRA_SECRET},
            {"name": "Device.X_VENDOR.Colour", "value": "blue"},
        ],
    }
    document.update(changes)
    return document


async def _stored(api: Api, name: str) -> dict[str, Any]:
    entry = await api.repo.get_profile_document(name)
    assert entry is not None
    return entry[0]


async def test_put_get_list_delete(api: Api) -> None:
    response, body = await api.call("PUT", "/api/profiles/gold", json=gold())
    assert response.status == 201, body
    assert body == {"name": "gold", "version": "1", "status": "created"}
    assert (await _stored(api, "gold"))["wifi"]["passphrase"] == WIFI_SECRET

    shown = await api.get("/api/profiles/gold", token="read")
    assert shown["wifi"] == {
        "ssid": "Home",
        "passphrase": "[REDACTED]",
        "security": "WPA2-Personal",
        "bands": ["2.4GHz", "5GHz"],
    }
    assert shown["voip_lines"][0]["password"] == "[REDACTED]"
    extras = {e["name"]: e["value"] for e in shown["extra_parameters"]}
    assert extras == {
        "Device.X_VENDOR.AdminPassword": "[REDACTED]",
        "Device.X_VENDOR.Colour": "blue",
    }
    assert shown["version"] == "1"

    listed = await api.get("/api/profiles", token="read")
    assert listed == {"items": [{"name": "gold", "version": "1"}]}

    response, _ = await api.call("DELETE", "/api/profiles/gold")
    assert response.status == 204
    assert await api.repo.get_profile_document("gold") is None
    assert (await api.call("DELETE", "/api/profiles/gold"))[0].status == 404
    assert (await api.call("GET", "/api/profiles/gold", token="read"))[0].status == 404


async def test_put_back_a_masked_document_keeps_the_secrets(api: Api) -> None:
    await api.call("PUT", "/api/profiles/gold", json=gold())
    shown = await api.get("/api/profiles/gold", token="read")
    shown["wifi"]["ssid"] = "Renamed"
    del shown["version"]  # a changed document without a version gets the next one
    response, body = await api.call("PUT", "/api/profiles/gold", json=shown)
    assert response.status == 200, body
    assert body == {"name": "gold", "version": "2", "status": "updated"}
    stored = await _stored(api, "gold")
    assert stored["wifi"] == {
        "ssid": "Renamed",
        "passphrase": WIFI_SECRET,
        "security": "WPA2-Personal",
        "bands": ["2.4GHz", "5GHz"],
    }
    assert stored["voip_lines"][0]["password"] == SIP_SECRET
    assert stored["extra_parameters"][0]["value"] == EXTRA_SECRET
    # same content again: unchanged
    response, body = await api.call("PUT", "/api/profiles/gold", json=shown)
    assert body["status"] == "unchanged"


async def test_mask_without_a_stored_secret_is_refused(api: Api) -> None:
    document = gold(name="new", wifi={"ssid": "x", "passphrase": "[REDACTED]"})
    response, body = await api.call("PUT", "/api/profiles/new", json=document)
    assert response.status == 400
    assert "wifi" in body["error"]["message"]
    assert await api.repo.get_profile_document("new") is None


async def test_invalid_documents_are_400_with_every_problem(api: Api) -> None:
    bad = gold(services=["internet", "tv"], wifi={"ssid": "x", "passphrase": "short"})
    response, body = await api.call("PUT", "/api/profiles/gold", json=bad)
    assert response.status == 400
    problems = body["error"]["problems"]
    assert any(p.startswith("services[1]") for p in problems)
    assert any(p.startswith("wifi.passphrase") for p in problems)
    assert "short" not in str(body)  # a bad passphrase is described, never quoted

    response, body = await api.call("PUT", "/api/profiles/gold", json=gold(name="other"))
    assert response.status == 400
    assert "name" in body["error"]["message"]
    response, body = await api.call("PUT", "/api/profiles/gold", json=["not", "an", "object"])
    assert response.status == 400
    response, body = await api.call(
        "PUT", "/api/profiles/gold", data="{oops", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "invalid JSON" in body["error"]["message"]
    response, body = await api.call(
        "PUT", "/api/profiles/gold", data="name: gold", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    assert await api.repo.list_profile_documents() == []


async def test_import_json_and_yaml_all_or_nothing(api: Api) -> None:
    silver = {"name": "silver", "services": ["internet"]}
    response, body = await api.call("POST", "/api/profiles/import", json=[gold(), silver])
    assert response.status == 200, body
    assert [(i["name"], i["status"]) for i in body["items"]] == [
        ("gold", "created"),
        ("silver", "created"),
    ]
    text = yaml.safe_dump({"profiles": [{"name": "bronze", "services": ["internet"]}, silver]})
    response, body = await api.call(
        "POST", "/api/profiles/import", data=text, headers={"Content-Type": "application/yaml"}
    )
    assert response.status == 200
    assert [(i["name"], i["status"]) for i in body["items"]] == [
        ("bronze", "created"),
        ("silver", "unchanged"),
    ]

    broken = [{"name": "tin", "services": ["internet"]}, {"name": "lead", "services": "nope"}]
    response, body = await api.call("POST", "/api/profiles/import", json=broken)
    assert response.status == 400
    assert any("lead" in p for p in body["error"]["problems"])
    assert await api.repo.get_profile_document("tin") is None  # nothing imported

    response, body = await api.call(
        "POST", "/api/profiles/import", data="a: [1,", headers={"Content-Type": "text/yaml"}
    )
    assert response.status == 400
    assert "YAML" in body["error"]["message"]
