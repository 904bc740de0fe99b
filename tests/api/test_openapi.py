"""The OpenAPI document: a valid OpenAPI 3.1 document that matches the router exactly."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from openapi_spec_validator import validate

from tests.api.conftest import Api
from traceacs.server.api.application import ROUTES
from traceacs.server.api.openapi import build_document

METHODS = {"get", "put", "post", "delete", "patch"}


def _router_operations(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api") and route.method != "HEAD":
            found.add((route.method.lower(), path))
    return found


def _document_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def test_document_is_valid_openapi() -> None:
    validate(build_document())


async def test_every_route_is_documented_and_vice_versa(api: Api) -> None:
    served = await api.get("/api/openapi.json", token=None)
    assert served == json.loads(json.dumps(build_document()))
    routes = _router_operations(api.client.app)
    assert routes, "the router walk found no /api routes"
    assert routes == _document_operations(served)
    assert len(routes) == len(ROUTES)


def test_security_scheme_and_public_operation() -> None:
    document = build_document()
    assert document["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "tacs_...",
    }
    assert document["security"] == [{"bearerToken": []}]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            public = operation.get("security") == []
            assert public == (path == "/api/openapi.json"), (method, path)
            if not public:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_every_path_parameter_is_declared() -> None:
    for path, item in build_document()["paths"].items():
        names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)
