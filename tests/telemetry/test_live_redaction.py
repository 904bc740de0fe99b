"""Issue 5's redaction test: known secrets through a full provisioning, grepped everywhere.

A live ACS (OTLP to an in-process receiver AND the embedded trace store, /metrics, the
REST API) provisions simulated CPEs with unique Wi-Fi passphrases, SIP passwords, a
CPE shared secret, connection-request passwords in the inventory and an API token,
with the whole ``traceacs`` logger tree captured at DEBUG. Then every exported span
(attributes, status, events), every log line, every metric (scraped and OTLP) and every
stored trace / attempt row is searched for each secret, and none may appear.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.telemetry.live_acs import live_acs
from tests.telemetry.otlp_spans import received_spans
from tests.telemetry.test_otlp_export import Received
from tests.telemetry.threaded_receiver import otlp_receiver  # noqa: F401 (fixture)
from traceacs.auth.tokens import issue_token
from traceacs.provisioning.profile import ServiceProfile
from traceacs.simulator.faults import NO_FAULTS, Failure, FaultPlan
from traceacs.simulator.fleet import build_fleet
from traceacs.storage.api_store import SqlApiStore
from traceacs.storage.repository import SqlDeviceRepository

WIFI = "wifi-S3CRET-7f3a91e2"
SIP = "sip-S3CRET-c2e8d4b0"
CPE_SECRET = "cpe-S3CRET-19b7e0aa"
CR_PASSWORD = "cr-S3CRET-55aa01fe"
SECRETS = {"wifi": WIFI, "sip": SIP, "cpe": CPE_SECRET, "connection request": CR_PASSWORD}


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if record.exc_info:
            line += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {line} {record.__dict__}")


@pytest.fixture
def logs() -> Iterator[Capture]:
    handler = Capture()
    logger = logging.getLogger("traceacs")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def with_secrets(profile: ServiceProfile) -> ServiceProfile:
    wifi = replace(profile.wifi, passphrase=WIFI) if profile.wifi else None
    lines = tuple(replace(line, password=SIP) for line in profile.voip_lines)
    return replace(profile, wifi=wifi, voip_lines=lines)


async def test_no_secret_reaches_spans_logs_metrics_or_stored_traces(
    tmp_path: Path,
    otlp_receiver: tuple[str, Received],  # noqa: F811
    logs: Capture,
) -> None:
    endpoint, received = otlp_receiver
    plans = [NO_FAULTS] * 4 + [FaultPlan(failure=f) for f in (Failure.SPV_FAULT, Failure.MISMATCH)]
    fleet = build_fleet(len(plans), data_model="tr181", plans=plans, seed=11)
    assert any(r.service_plan != "internet-basic" for r in fleet.inventory)  # VoIP in play
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "TRACEACS_TRACE_STORE": "on",
        "TRACEACS_QUIET_PERIODIC_RATIO": "1",
    }
    async with live_acs(
        tmp_path,
        fleet,
        env,
        profiles=[with_secrets(p) for p in fleet.profiles],
        connection_request_password=CR_PASSWORD,
        allow_unauthenticated_cpes=False,
        cpe_shared_secret=CPE_SECRET,
    ) as live:
        repo = live.acs.repository
        assert isinstance(repo, SqlDeviceRepository)
        token = await issue_token(SqlApiStore(repo.db), "ops", "read", now=1.0)
        secrets = {**SECRETS, "API token": token.plaintext}
        # Digest with one shared username: concurrent CPEs may need a retry.
        stats = await live.run_fleet(cpe_username="cpe", cpe_password=CPE_SECRET, max_attempts=5)
        api_bodies = [
            await live.scrape(f"api/devices/{r.serial_number}", token=token.plaintext)
            for r in fleet.inventory
        ]
        api_bodies.append(await live.scrape("api/attempts", token=token.plaintext))
        await live.flush()
        scraped = await live.scrape()
    # the secrets really went through: CPEs authenticated and got the passphrase
    assert stats.results["completed"] == 5  # the SPV-fault CPE faults
    assert any(
        cpe.value("Device.WiFi.AccessPoint.1.Security.KeyPassphrase") == WIFI for cpe in fleet.cpes
    )

    spans = received_spans(received)
    assert len({s.trace_id for s in spans}) == len(fleet.cpes)
    with received.lock:
        otlp_metrics = [str(m) for m in received.metrics]
    assert any("cpe.provision.count" in m for m in otlp_metrics)
    with sqlite3.connect(tmp_path / "acs.db") as db:
        stored = [
            repr(row)
            for table in ("trace_spans", "trace_summaries", "attempts", "audit_log")
            for row in db.execute(f"SELECT * FROM {table}")
        ]
    assert any("cpe.provision.push_config" in row for row in stored)
    assert len(logs.lines) > 10

    places = {
        "exported spans": [repr(s) for s in spans],
        "log lines": logs.lines,
        "/metrics": [scraped],
        "OTLP metrics": otlp_metrics,
        "stored trace and attempt rows": stored,
        "API answers": api_bodies,
    }
    leaks = [
        f"{what} secret in {where}"
        for where, texts in places.items()
        for what, secret in secrets.items()
        if any(secret in text for text in texts)
    ]
    assert leaks == []
