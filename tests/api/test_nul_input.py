"""NUL characters in any input are a 400 naming where, on SQLite and PostgreSQL alike.

Found by the schemathesis run on PostgreSQL, which cannot store or compare a NUL: a
``?oui=%00`` or a ``"\\u0000"`` inside a profile reached the database and came back
as a 500 there, while SQLite took it. Each case here was a 500 (PostgreSQL) or a
silent success (SQLite) before the API refused NULs.
"""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import OUI, Api
from tests.api.fleet import plant_device


@pytest.mark.parametrize(
    ("method", "path", "named"),
    [
        ("GET", "/api/devices?oui=%00", "oui"),
        ("GET", "/api/devices?serial=SN%001", "serial"),
        ("GET", "/api/devices/SN1?oui=00D0%009E", "oui"),
        ("POST", "/api/devices/SN1/reprovision?oui=%00", "oui"),
        ("GET", "/api/devices/SN%001", "serial"),
        ("GET", "/api/profiles/gold%00", "name"),
        ("GET", "/api/attempts?model=x%00", "model"),
    ],
)
async def test_nul_in_the_url_is_refused(api: Api, method: str, path: str, named: str) -> None:
    await plant_device(api.repo, "SN1", now=1.0)
    response, body = await api.call(method, path)
    assert response.status == 400, body
    assert body["error"]["message"] == f"{named} must not contain NUL characters"
    device = await api.repo.get_device(OUI, "SN1")
    assert device is not None  # nothing was done to the device


async def test_nul_in_a_profile_is_refused_and_nothing_is_stored(api: Api) -> None:
    document = {"name": "gold", "services": ["internet"], "target_firmware": "fw\u00001"}
    response, body = await api.call("PUT", "/api/profiles/gold", json=document)
    assert response.status == 400, body
    response, body = await api.call(
        "POST",
        "/api/profiles/import",
        data='- name: "si\\0lver"\n  services: [internet]\n',
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status == 400, body
    assert "NUL" in body["error"]["message"]
    assert await api.repo.list_profile_documents() == []


async def test_nul_in_an_inventory_row_is_a_row_problem(api: Api) -> None:
    rows = [
        {
            "serial_number": "SN1",
            "oui": OUI,
            "product_class": "HG",
            "customer_id": "c\u00001",
            "service_plan": "gold",
            "location_id": "l1",
        }
    ]
    response, body = await api.call(
        "POST",
        "/api/inventory",
        data=json.dumps(rows),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 400, body
    assert body["error"]["rows"] == [
        {"where": "[0]", "field": "customer_id", "message": "must not contain NUL characters"}
    ]
    assert await api.repo.count_devices() == 0
