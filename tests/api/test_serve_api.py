"""`traceacs.app.serve` with a repository serves the API on ``api_port`` beside CWMP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.serving import serving
from traceacs.app import serve
from traceacs.auth.tokens import issue_token
from traceacs.config import Settings
from traceacs.storage import open_repository
from traceacs.storage.api_store import SqlApiStore


async def test_serve_starts_the_api_next_to_cwmp(tmp_path: Path) -> None:
    settings = Settings(
        cwmp_port=0,
        api_port=0,
        allow_unauthenticated_cpes=True,
        database_url=f"sqlite://{tmp_path}/serve.db",
        max_sessions=42,
    )
    repo = await open_repository(settings.database_url)
    token = await issue_token(SqlApiStore(repo.db), "ops", "read", now=1.0)
    try:
        async with serving(settings, repository=repo) as (cwmp_url, api_url):
            assert api_url != cwmp_url
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{api_url}api/openapi.json") as response:
                    assert response.status == 200
                async with http.get(f"{api_url}api/summary") as response:
                    assert response.status == 401
                headers = {"Authorization": f"Bearer {token.plaintext}"}
                async with http.get(f"{api_url}api/summary", headers=headers) as response:
                    assert response.status == 200
                    body = await response.json()
                # live numbers from the CWMP endpoint and the settings
                assert body["sessions"] == {"active": 0, "capacity": 42}
                async with http.get(f"{cwmp_url}api/summary") as response:
                    assert response.status == 405  # the CWMP port only takes POSTs
    finally:
        await repo.close()


async def test_serve_without_repository_serves_no_api(tmp_path: Path) -> None:
    settings = Settings(cwmp_port=0, api_port=0, allow_unauthenticated_cpes=True)
    stop = asyncio.Event()
    api_urls: list[str] = []
    ready: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(settings, stop=stop, on_ready=ready.set_result, on_api_ready=api_urls.extend)
    )
    try:
        await asyncio.wait_for(asyncio.shield(ready), timeout=30)
        assert api_urls == []
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
