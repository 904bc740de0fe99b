"""The console's files as served by the API app: public, allow-listed, CSP-protected."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Api
from traceacs.server.console import ASSETS


async def test_index_is_public_with_a_strict_policy(api: Api) -> None:
    response = await api.client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = await response.text()
    # no inline script: every <script> has a src on this origin
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts
    assert all('src="/console/' in tag for tag in scripts)
    assert "<script>" not in html


@pytest.mark.parametrize("name", sorted(ASSETS))
async def test_every_asset_is_served_with_its_type(api: Api, name: str) -> None:
    response = await api.client.get(f"/console/{name}")
    assert response.status == 200
    assert response.content_type == ASSETS[name]
    assert "Content-Security-Policy" in response.headers


async def test_scripts_never_write_markup(api: Api) -> None:
    """Data reaches the page as text nodes only (the XSS browser test checks behaviour)."""
    for name in (n for n in ASSETS if n.endswith(".js")):
        source = await (await api.client.get(f"/console/{name}")).text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, (name, sink)


@pytest.mark.parametrize("path", ["/console/nope.js", "/console/..%2Fapi%2F__init__.py"])
async def test_unknown_files_are_404(api: Api, path: str) -> None:
    response = await api.client.get(path)
    assert response.status == 404


def _path_of(literal: str) -> str:
    """``/api/devices/${encodeURIComponent(s)}/reprovision${query(...)}`` as
    ``/api/devices/X/reprovision``: a ``${...}`` after ``/`` is a path segment's value,
    one elsewhere (or a ``?``) starts the query string."""
    out, i = "", 0
    while i < len(literal) and literal[i] != "?":
        if literal.startswith("${", i):
            if not out.endswith("/"):
                break
            depth, i = 1, i + 2
            while depth:
                depth += {"{": 1, "}": -1}.get(literal[i], 0)
                i += 1
            out += "X"
            continue
        out += literal[i]
        i += 1
    return out


async def test_the_console_calls_documented_api_paths_only(api: Api) -> None:
    """What the console does, an OSS can do: every ``/api/...`` the scripts name is in
    the OpenAPI document (the device page's ``${path}/attempts`` and ``/trace`` are
    built from ``/api/devices/{serial}`` and documented alike)."""
    from tests.api.openapi_check import operation_for

    source = await (await api.client.get("/console/console.js")).text()
    literals = re.findall(r"[`\"](/api/[^`\"]*)[`\"]", source)
    assert len(literals) >= 10
    for literal in literals:
        path = _path_of(literal)
        method = "POST" if path.endswith("/reprovision") else "GET"
        assert operation_for(method, path) is not None, literal
