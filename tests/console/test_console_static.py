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
