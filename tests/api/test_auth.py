"""Bearer tokens: none, bad, revoked, read on write; the OpenAPI document is public."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.fleet import plant_device


def assert_error(body: object, status: int) -> str:
    assert isinstance(body, dict)
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    message = body["error"]["message"]
    assert isinstance(message, str)
    assert message
    assert "Traceback" not in message
    return message


async def test_no_token_is_401_with_a_challenge(api: Api) -> None:
    response, body = await api.call("GET", "/api/devices", token=None)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in assert_error(body, 401)


async def test_wrong_scheme_and_unknown_token_are_401(api: Api) -> None:
    response, body = await api.call(
        "GET", "/api/devices", token=None, headers={"Authorization": f"Basic {api.read_token}"}
    )
    assert response.status == 401
    for bad in ("tacs_not-a-real-token", api.read_token + "x", "garbage", api.read_token[:-1]):
        response, body = await api.call("GET", "/api/devices", token=bad)
        assert response.status == 401, bad
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert_error(body, 401)


async def test_revoked_token_is_401(api: Api) -> None:
    assert (await api.call("GET", "/api/devices", token="read"))[0].status == 200
    [read] = [t for t in await api.store.list_tokens() if t.role == "read"]
    assert await api.store.revoke_token(read.id, now=api.clock())
    response, body = await api.call("GET", "/api/devices", token="read")
    assert response.status == 401
    assert_error(body, 401)


async def test_read_token_cannot_write_and_the_refusal_is_audited(api: Api) -> None:
    await plant_device(api.repo, "SN1", now=1.0)
    for method, path in (
        ("DELETE", "/api/devices/SN1"),
        ("POST", "/api/devices/SN1/reprovision"),
        ("POST", "/api/inventory"),
        ("PUT", "/api/profiles/gold"),
        ("DELETE", "/api/profiles/gold"),
        ("POST", "/api/profiles/import"),
    ):
        response, body = await api.call(method, path, token="read")
        assert response.status == 403, (method, path)
        assert "write" in assert_error(body, 403)
    assert await api.repo.get_device_by_serial("SN1") is not None  # nothing was deleted
    entries = await api.store.list_audit()
    assert len(entries) == 6
    assert {(e.token_name, e.status) for e in entries} == {("dashboard", 403)}


async def test_read_token_cannot_see_the_audit_log_but_write_can(api: Api) -> None:
    response, body = await api.call("GET", "/api/audit", token="read")
    assert response.status == 403
    assert_error(body, 403)
    assert (await api.call("GET", "/api/audit", token="write"))[0].status == 200


async def test_write_token_may_read(api: Api) -> None:
    body = await api.get("/api/devices", token="write")
    assert body["total"] == 0


async def test_openapi_document_needs_no_token(api: Api) -> None:
    body = await api.get("/api/openapi.json", token=None)
    assert body["openapi"].startswith("3.")


async def test_unknown_path_and_method_are_json_errors(api: Api) -> None:
    response, body = await api.call("GET", "/api/nothing-here")
    assert response.status == 404
    assert_error(body, 404)
    response, body = await api.call("PATCH", "/api/devices")
    assert response.status == 405
    assert_error(body, 405)
    assert "GET" in response.headers["Allow"]


async def test_a_client_can_ask_which_token_it_holds(api: Api) -> None:
    read = await api.get("/api/token", token="read")
    write = await api.get("/api/token", token="write")
    assert (read["name"], read["role"]) == ("dashboard", "read")
    assert (write["name"], write["role"]) == ("oss", "write")
    assert read["id"] != write["id"]
    assert (await api.call("GET", "/api/token", token=None))[0].status == 401
