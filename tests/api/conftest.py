"""An API over a real store, served on 127.0.0.1 by aiohttp's test server, with one
read and one write token.

The store is SQLite in ``tmp_path`` and PostgreSQL (a fresh database per module, a
fresh schema per test: the fixtures of ``tests/storage/conftest.py``), so every API
test runs on both engines; without a PostgreSQL server the PostgreSQL cases skip with
the reason, and fail under ``CI=true``.

Every response body any test receives is recorded; after each test the fixture checks
that none of the secrets planted in the store (Wi-Fi key, SIP and connection-request
passwords, secret last values, the tokens themselves) ever left the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from tests.api.openapi_check import check_response
from tests.storage.conftest import pg_database, pg_user, store_url
from traceacs.auth.tokens import issue_token
from traceacs.server.api import ApiContext, make_api_application
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.storage.api_store import SqlApiStore
from traceacs.storage.fleet_stats import SqlFleetStats
from traceacs.storage.secret_box import SecretBox, new_key

OUI = "00D09E"
WIFI_SECRET = "wifi-secret-passphrase-1"
SIP_SECRET = "sip-secret-pw-2"
CR_SECRET = "cr-secret-pw-3"
VALUE_SECRET = "lv-secret-value-4"
EXTRA_SECRET = "extra-secret-value-5"
PLANTED_SECRETS = (WIFI_SECRET, SIP_SECRET, CR_SECRET, VALUE_SECRET, EXTRA_SECRET)


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    """A client with tokens; every request is made through `call`."""

    client: TestClient[Any, Any]
    repo: SqlDeviceRepository
    store: SqlApiStore
    clock: Clock
    read_token: str
    write_token: str
    bodies: list[str] = field(default_factory=list)

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = "write",  # noqa: S107 - a role name or a test token
        **kwargs: Any,
    ) -> tuple[ClientResponse, Any]:
        """(response, decoded JSON body or None); ``token`` is read, write, a raw token or None."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            raw = {"read": self.read_token, "write": self.write_token}.get(token, token)
            headers["Authorization"] = f"Bearer {raw}"
        response = await self.client.request(method, path, headers=headers, **kwargs)
        text = await response.text()
        self.bodies.append(text)
        body = None
        if text:
            assert response.content_type == "application/json", text
            body = await response.json()
        check_response(method, response.url.path, response.status, body)
        return response, body

    async def get(self, path: str, **kwargs: Any) -> Any:
        """GET expecting 200; the decoded body."""
        response, body = await self.call("GET", path, **kwargs)
        assert response.status == 200, body
        return body


__all__ = ["pg_database", "pg_user", "store_url"]  # fixtures, used by name


@pytest.fixture
async def repo(store_url: str) -> AsyncIterator[SqlDeviceRepository]:
    # Sealed as `serve` opens it: the API must answer the same over sealed columns.
    repository = await open_repository(store_url, secrets=SecretBox(new_key()))
    try:
        yield repository
    finally:
        await repository.close()


@asynccontextmanager
async def start_api(repo: SqlDeviceRepository, **context: Any) -> AsyncIterator[Api]:
    """Serve an API over ``repo`` (``context`` overrides `ApiContext` fields)."""
    store = SqlApiStore(repo.db)
    clock = Clock()
    read = await issue_token(store, "dashboard", "read", clock())
    write = await issue_token(store, "oss", "write", clock())
    fields: dict[str, Any] = {
        "repository": repo,
        "tokens": store,
        "audit": store,
        "stats": SqlFleetStats(repo.db),
        "profiles": repo,
        "clock": clock,
        **context,
    }
    app = make_api_application(ApiContext(**fields))
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    harness = Api(client, repo, store, clock, read.plaintext, write.plaintext)
    try:
        yield harness
    finally:
        await client.close()
    leaked = [
        secret
        for secret in (*PLANTED_SECRETS, read.plaintext, write.plaintext)
        for body in harness.bodies
        if secret in body
    ]
    assert not leaked, f"secrets in response bodies: {len(leaked)}"


@pytest.fixture
async def api(repo: SqlDeviceRepository) -> AsyncIterator[Api]:
    async with start_api(repo) as harness:
        yield harness
