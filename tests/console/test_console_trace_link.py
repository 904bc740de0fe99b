"""In the console, the session a connection request caused links to that request.

The ACS as `traceacs serve` runs it (embedded trace store on, the ACS's task services
handed to the API), one simulated CPE answering connection requests. A task queued with
``connection_request=true`` wakes it; in the browser, the woken session's trace shows
the ``cpe.inform`` root's reference as a link, and following it opens the
``cpe.connection_request`` trace.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from tests.console.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    playwright_api,
)
from tests.serving import serving
from tests.tasks.live import CR_PASSWORD
from traceacs.assembly import open_acs
from traceacs.auth.tokens import issue_token
from traceacs.config import Settings
from traceacs.simulator.faults import NO_FAULTS
from traceacs.simulator.fleet import build_fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.storage.api_store import SqlApiStore
from traceacs.storage.repository import SqlDeviceRepository


async def test_the_woken_session_links_to_its_connection_request(tmp_path: Path) -> None:
    settings = Settings(
        cwmp_port=0,
        api_port=0,
        data_dir=tmp_path,
        database_url=f"sqlite://{tmp_path}/acs.db",
        allow_unauthenticated_cpes=True,
    )
    environ = {"TRACEACS_TRACE_STORE": "on", "OTEL_SERVICE_NAME": "traceacs-test"}
    fleet = build_fleet(1, data_model="tr181", plans=[NO_FAULTS], seed=5)
    serial = fleet.cpes[0].identity.serial_number
    async with open_acs(settings, environ=environ, sweep_interval=None) as running:
        repo = running.repository
        assert isinstance(repo, SqlDeviceRepository)
        assert running.telemetry is not None
        await store_fleet(repo, fleet, time.time(), connection_request_password=CR_PASSWORD)
        async with serving(settings, running.factory, repository=repo, tasks=running.tasks) as (
            cwmp_url,
            api_url,
        ):
            cpes = None
            try:
                runner = FleetRunner(
                    fleet.cpes, RunnerConfig(cwmp_url, sessions_per_cpe=None, ramp_seconds=0.0)
                )
                cpes = asyncio.create_task(runner.run())
                deadline = time.monotonic() + 20
                while (device := await repo.get_device_by_serial(serial)) is None or (
                    device.state.value != "provisioned"
                ):
                    assert time.monotonic() < deadline, "not provisioned"
                    await asyncio.sleep(0.05)
                token = (
                    await issue_token(SqlApiStore(repo.db), "t", "write", time.time())
                ).plaintext
                headers = {"Authorization": f"Bearer {token}"}
                body = {"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo."]}
                async with aiohttp.ClientSession(headers=headers) as http:
                    url = f"{api_url}api/devices/{serial}/tasks?connection_request=true&timeout=20"
                    async with http.post(url, json=body) as response:
                        task = await response.json()
                assert task["connection_request"]["outcome"] == "ok", task
                assert task["status"] == "done", task
                assert await asyncio.to_thread(running.telemetry.force_flush)

                async with playwright_api.async_playwright() as pw:
                    browser = await pw.chromium.launch(
                        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
                    )
                    try:
                        page = await browser.new_page()
                        page.set_default_timeout(TIMEOUT_MS)
                        await page.goto(api_url)
                        await page.fill("#token", token)
                        await page.click("#login-form button[type=submit]")
                        await page.wait_for_selector("text=Fleet overview")
                        await page.goto(f"{api_url}#/trace/{task['trace_id']}")
                        root = page.locator(".wf-row[data-span='cpe.inform']")
                        await root.locator(".wf-head").click()
                        link = root.locator("[data-testid=trace-link]")
                        cause = await link.inner_text()
                        assert len(cause) == 32
                        assert cause != task["trace_id"]
                        await link.click()
                        await page.wait_for_selector(".wf-row[data-span='cpe.connection_request']")
                        assert page.url.endswith(f"#/trace/{cause}")
                    finally:
                        await browser.close()
            finally:
                if cpes is not None:
                    cpes.cancel()
                    await asyncio.gather(cpes, return_exceptions=True)
