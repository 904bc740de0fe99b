"""``POST /api/inventory``: CSV or JSON, all or nothing, every bad row reported."""

from __future__ import annotations

import json

from tests.api.conftest import CR_SECRET, OUI, Api

HEADER = (
    "serial_number,oui,product_class,customer_id,service_plan,location_id,mac,"
    "connection_request_password\n"
)


def _csv(*rows: str) -> str:
    return HEADER + "".join(f"{row}\n" for row in rows)


async def _count(api: Api) -> int:
    return await api.repo.count_devices()


async def test_csv_import_creates_then_updates(api: Api) -> None:
    body = _csv(
        f"SN1,{OUI},HG,c1,gold,l1,AA:BB:CC:00:00:01,{CR_SECRET}",
        f"SN2,{OUI},HG,c2,gold,l1,,",
    )
    response, result = await api.call(
        "POST", "/api/inventory", data=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status == 200, result
    assert result == {"created": 2, "updated": 0, "total": 2}
    device = await api.repo.get_device(OUI, "SN1")
    assert device is not None
    assert device.connection_request_password == CR_SECRET
    assert device.mac == "AA:BB:CC:00:00:01"

    response, result = await api.call(
        "POST",
        "/api/inventory",
        data=_csv(f"SN1,{OUI},HG,c1,silver,l1,,"),
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    assert result == {"created": 0, "updated": 1, "total": 1}
    assert (await api.repo.get_device(OUI, "SN1")).service_plan == "silver"  # type: ignore[union-attr]


async def test_csv_with_bad_rows_imports_nothing_and_names_every_row(api: Api) -> None:
    body = _csv(
        f"SN1,{OUI},HG,c1,gold,l1,,",
        f"SN2,XYZ,HG,c2,gold,l1,,{CR_SECRET}",  # bad OUI (the password must not echo)
        f"SN3,{OUI},HG,,gold,l1,,",  # no customer
        f"SN1,{OUI},HG,c1,gold,l1,,",  # duplicate of the first row
    )
    response, result = await api.call(
        "POST", "/api/inventory", data=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status == 400
    error = result["error"]
    assert "nothing imported" in error["message"]
    fields = {(row["where"], row["field"]) for row in error["rows"]}
    assert ("line 3", "oui") in fields
    assert ("line 4", "customer_id") in fields
    assert ("line 5", "serial_number") in fields
    assert await _count(api) == 0


async def test_csv_header_problems(api: Api) -> None:
    response, result = await api.call(
        "POST",
        "/api/inventory",
        data="serial_number,oui,colour\nSN1,00D09E,red\n",
        headers={"Content-Type": "text/csv"},
    )
    assert response.status == 400
    messages = " ".join(row["message"] for row in result["error"]["rows"])
    assert "missing column" in messages
    assert "colour" in messages


async def test_json_import(api: Api) -> None:
    rows = [
        {
            "serial_number": f"SN{i}",
            "oui": OUI,
            "product_class": "HG",
            "customer_id": f"c{i}",
            "service_plan": "gold",
            "location_id": "l1",
        }
        for i in range(3)
    ]
    response, result = await api.call("POST", "/api/inventory", json={"devices": rows})
    assert response.status == 200
    assert result["created"] == 3
    rows.append({"serial_number": "SN9", "oui": OUI, "colour": "red"})
    response, result = await api.call("POST", "/api/inventory", json=rows)
    assert response.status == 400
    assert {row["where"] for row in result["error"]["rows"]} == {"[3]"}
    assert await _count(api) == 3


async def test_bad_json_body_and_media_type(api: Api) -> None:
    response, result = await api.call(
        "POST", "/api/inventory", data="[{", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "JSON" in json.dumps(result)
    response, result = await api.call(
        "POST", "/api/inventory", data="x", headers={"Content-Type": "application/xml"}
    )
    assert response.status == 415
    response, result = await api.call(
        "POST", "/api/inventory", data=b"\xff\xfe", headers={"Content-Type": "text/csv"}
    )
    assert response.status == 400
    response, result = await api.call(
        "POST", "/api/inventory", data="", headers={"Content-Type": "text/csv"}
    )
    assert response.status == 400
    assert await _count(api) == 0
