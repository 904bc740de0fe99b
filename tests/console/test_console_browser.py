"""The web console in a real headless Chromium, against the real ACS.

The ACS is what `traceacs serve` runs (`open_acs` + `serve`, the embedded trace store
on), over SQLite in ``tmp_path`` and over PostgreSQL (the ``store_url`` fixtures). A
small simulated fleet bootstraps over real CWMP, one CPE reading back values different
from those pushed, one whose manufacturer string and Wi-Fi SSID are HTML. Then a
support engineer's path through the console: sign in with a read token, type the
failed device's serial, open its page, and find the failing step and the mismatching
parameters in the waterfall; and an operator's: re-provision it with a write token (a
read token sees the button disabled, and why) and find that in the audit page.
Screenshots land in ``test-artifacts/console/`` for review (``-postgresql`` in the
name for that engine).

Needs Debian's ``chromium`` (``tests/console/ensure-chromium.sh`` installs it) and the
``playwright`` package; without the browser the test is skipped, unless CI=true.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.serving import serving
from traceacs.assembly import open_acs
from traceacs.auth.tokens import issue_token
from traceacs.config import Settings
from traceacs.profiles.document import profile_to_document
from traceacs.provisioning.repository import AttemptFilter
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import NO_FAULTS, Failure, FaultPlan
from traceacs.simulator.fleet import Fleet, build_fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.storage.api_store import SqlApiStore
from traceacs.storage.repository import SqlDeviceRepository

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
XSS_MANUFACTURER = "<img src=x onerror=alert('manufacturer')>"
XSS_SSID = "<img src=x onerror=alert(1)>"  # 28 characters: a valid SSID
TIMEOUT_MS = 20_000

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail("CI: /usr/bin/chromium is missing (run tests/console/ensure-chromium.sh)")
    pytest.skip(
        "/usr/bin/chromium is missing (tests/console/ensure-chromium.sh installs it)",
        allow_module_level=True,
    )

playwright_api = pytest.importorskip("playwright.async_api")


@dataclass
class RunningAcs:
    engine: str  # sqlite or postgresql
    api_url: str
    repo: SqlDeviceRepository
    token: str
    write_token: str
    mismatch_serial: str
    mismatched: list[str]
    xss_serial: str


def small_fleet() -> Fleet:
    plans = [NO_FAULTS, FaultPlan(failure=Failure.MISMATCH), NO_FAULTS, NO_FAULTS]
    fleet = build_fleet(len(plans), data_model="tr181", plans=plans, seed=11)
    # the last CPE reports HTML as its manufacturer (device-supplied, through Inform)
    last = fleet.cpes[-1]
    html_cpe = SimulatedCpe(
        dataclasses.replace(last.identity, manufacturer=XSS_MANUFACTURER),
        faults=last.faults,
        context=last.context,
    )
    return dataclasses.replace(fleet, cpes=(*fleet.cpes[:-1], html_cpe))


async def load_fleet(repo: SqlDeviceRepository, fleet: Fleet) -> None:
    await store_fleet(repo, fleet, time.time())
    # ... and its customer's profile pushes an SSID that is HTML (read back as such)
    row = fleet.inventory[-1]
    plan = next(p for p in fleet.profiles if p.name == row.service_plan)
    assert plan.wifi is not None
    custom = dataclasses.replace(
        plan,
        name=f"customer:{row.customer_id}",
        wifi=dataclasses.replace(plan.wifi, ssid=XSS_SSID),
    )
    await repo.put_profile_document(custom.name, profile_to_document(custom), "1")


@pytest.fixture
async def acs(tmp_path: Path, store_url: str) -> AsyncIterator[RunningAcs]:
    settings = Settings(
        cwmp_port=0,
        api_port=0,
        data_dir=tmp_path,
        database_url=store_url,
        allow_unauthenticated_cpes=True,
    )
    environ = {"TRACEACS_TRACE_STORE": "on", "OTEL_SERVICE_NAME": "traceacs-test"}
    async with open_acs(settings, environ=environ, sweep_interval=None) as running:
        repo = running.repository
        assert isinstance(repo, SqlDeviceRepository)
        fleet = small_fleet()
        await load_fleet(repo, fleet)
        async with serving(settings, running.factory, repository=repo) as (cwmp_url, api_url):
            runner = FleetRunner(
                fleet.cpes, RunnerConfig(cwmp_url, ramp_seconds=0.2, connection_requests=False)
            )
            await runner.run()
            assert running.telemetry is not None
            # every session has ended: its spans are queued; wait until they are stored
            assert await asyncio.to_thread(running.telemetry.force_flush)
            mismatch = fleet.cpes[1].identity
            [attempt] = await repo.list_attempts(
                AttemptFilter(oui=mismatch.oui, serial_number=mismatch.serial_number)
            )
            assert attempt.result == "verification_failed", attempt
            mismatched = list(attempt.details["mismatched_parameters"])
            assert mismatched
            tokens = SqlApiStore(repo.db)
            token = await issue_token(tokens, "console-test", "read", time.time())
            writer = await issue_token(tokens, "noc-operator", "write", time.time())
            yield RunningAcs(
                engine=store_url.split(":", 1)[0],
                api_url=api_url,
                repo=repo,
                token=token.plaintext,
                write_token=writer.plaintext,
                mismatch_serial=mismatch.serial_number,
                mismatched=mismatched,
                xss_serial=fleet.cpes[-1].identity.serial_number,
            )


@pytest.fixture
async def page(acs: RunningAcs) -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(viewport={"width": 1360, "height": 900})
            tab = await context.new_page()
            tab.set_default_timeout(TIMEOUT_MS)
            yield tab
        finally:
            await browser.close()


async def shot(page: Any, acs: RunningAcs, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if acs.engine == "sqlite" else f"-{acs.engine}"
    await page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)


async def sign_in(page: Any, acs: RunningAcs, token: str | None = None) -> None:
    await page.goto(acs.api_url)
    await page.fill("#token", token or acs.token)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("text=Fleet overview")


async def test_support_engineer_finds_the_failing_step(page: Any, acs: RunningAcs) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    response = await page.goto(acs.api_url)
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp

    # a wrong token is refused with a clear message, and not kept
    await page.fill("#token", "tacs_this-is-not-a-token")
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#login-error:has-text('not valid')")
    assert await page.evaluate("sessionStorage.getItem('traceacs.token')") is None
    await shot(page, acs, "01-login-refused")

    await page.fill("#token", acs.token)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("text=Fleet overview")
    await page.wait_for_selector("figure.chart svg rect.bar-ok")
    await shot(page, acs, "02-overview")

    # type the serial, land on the device page (an exact match opens it)
    await page.fill("#quick-search input", acs.mismatch_serial)
    await page.press("#quick-search input", "Enter")
    waterfall = page.locator("[data-testid=waterfall]")
    await waterfall.wait_for()
    assert await page.locator("[data-testid=serial]").inner_text() == acs.mismatch_serial
    assert await page.locator("[data-testid=failing-step]").inner_text() == "verify"
    listed = await page.locator("[data-testid=mismatched] li").all_inner_texts()
    assert listed == acs.mismatched
    failing_row = waterfall.locator(".wf-row.wf-failing")
    assert await failing_row.count() == 1
    assert await failing_row.get_attribute("data-span") == "cpe.provision.verify"
    # the failing step's attributes are open, and name the mismatching parameters too
    details = await failing_row.locator(".wf-details").inner_text()
    assert "cpe.verify.mismatched_parameters" in details
    assert all(name in details for name in acs.mismatched)
    # its bar sits after push_config's on the shared time axis
    bars = {
        name: await waterfall.locator(f".wf-row[data-span='{name}'] .wf-bar").bounding_box()
        for name in ("cpe.provision.push_config", "cpe.provision.verify")
    }
    assert bars["cpe.provision.verify"]["x"] >= bars["cpe.provision.push_config"]["x"]
    await shot(page, acs, "03-device-failed-verify")

    await page.click("#nav a:has-text('Failures')")
    groups = page.locator("[data-testid=failure-groups]")
    await groups.wait_for()
    row = groups.locator("tr", has_text="verification_failed")
    await shot(page, acs, "04-failures")
    await row.locator("a.count").click()
    await page.wait_for_selector(f"[data-testid=device-list] >> text={acs.mismatch_serial}")

    assert dialogs == []
    assert errors == []


async def test_device_strings_render_as_text(page: Any, acs: RunningAcs) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await sign_in(page, acs)
    await page.goto(f"{acs.api_url}#/device/{acs.xss_serial}")
    identity = page.locator("[data-testid=identity]")
    await identity.wait_for()
    await page.locator("[data-testid=last-values]").wait_for()
    assert XSS_MANUFACTURER in await identity.inner_text()
    values = await page.locator("[data-testid=last-values]").inner_text()
    assert XSS_SSID in values  # read back from the device, shown verbatim
    await page.click("text=settings (secrets masked)")
    assert await page.locator("img[src=x]").count() == 0
    await shot(page, acs, "05-device-html-strings")
    # the device list too
    await page.goto(f"{acs.api_url}#/devices?serial={acs.xss_serial[:-1]}&list=1")
    await page.locator("[data-testid=device-list]").wait_for()
    assert await page.locator("img[src=x]").count() == 0
    assert dialogs == []


async def test_operator_reprovisions_and_finds_it_in_the_audit_log(
    page: Any, acs: RunningAcs
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    device_url = f"{acs.api_url}#/device/{acs.mismatch_serial}"

    # a read token sees the button, disabled, and why
    await sign_in(page, acs)
    await page.goto(device_url)
    button = page.locator("[data-testid=reprovision]")
    await button.wait_for()
    assert await button.is_disabled()
    note = await page.locator("[data-testid=reprovision-note]").inner_text()
    assert "write token" in note
    assert "console-test" in note
    await page.click("#nav a:has-text('Audit')")
    await page.wait_for_selector("text=needs a write token")
    await shot(page, acs, "06-read-token-cannot-reprovision")
    await page.click("#nav button:has-text('Sign out')")

    # a write token re-provisions: the state goes back to new, in the page and the store
    await sign_in(page, acs, acs.write_token)
    await page.goto(device_url)
    await button.wait_for()
    assert await page.locator(".device .page-head .badge").inner_text() == "failed"
    assert await button.is_enabled()
    await button.click()
    await page.wait_for_selector("[data-testid=reprovision-note]:has-text('Done')")
    assert await page.locator(".device .page-head .badge").inner_text() == "new"
    device = await acs.repo.get_device_by_serial(acs.mismatch_serial)
    assert device is not None
    assert device.state.value == "new"
    await shot(page, acs, "07-reprovisioned")

    # ... and the audit page says who did it, to what, when, and the answer, newest
    # first, 50 to a page (55 older writes of another token are on record)
    audit = SqlApiStore(acs.repo.db)
    for i in range(55):
        await audit.record_audit(
            at=1_000_000.0 + i,
            token_id=None,
            token_name="bulk-import",
            method="POST",
            path="/api/inventory",
            target=f"{i} devices",
            status=200,
        )
    await page.click("#nav a:has-text('Audit')")
    log = page.locator("[data-testid=audit-log]")
    await log.wait_for()
    rows = await log.locator("tbody tr").all_inner_texts()
    assert len(rows) == 50
    assert rows[0].split("\t")[1:] == [
        "noc-operator",
        f"POST /api/devices/{acs.mismatch_serial}/reprovision",
        acs.mismatch_serial,
        "200",
    ]
    assert rows[1].split("\t")[1:] == ["bulk-import", "POST /api/inventory", "54 devices", "200"]
    await shot(page, acs, "08-audit-log")
    await page.click("a:has-text('older')")
    await page.wait_for_selector("text=entries 51–56")
    older = await log.locator("tbody tr").all_inner_texts()
    assert [r.split("\t")[3] for r in older] == [f"{i} devices" for i in range(5, -1, -1)]
    assert dialogs == []
    assert errors == []
