"""The OpenAPI document, loaded by schemathesis and fuzzed against the running API.

Every documented operation is called with examples, boundary values and random
(valid and invalid) inputs by a write token, against the API that ``traceacs serve``
runs (`build_api_app`), on an ephemeral port, over a SQLite and a PostgreSQL store
seeded with a device that failed verification, its attempts and trace, a profile and
a task. Each response must not be a 5xx, and must have a documented status code,
content type, headers and a body valid against the document's schema. Generation is
derandomized and bounded, so a CI run is repeatable and short.

Not checked: that invalid input is always refused (schemathesis's
``negative_data_rejection``). The API deliberately reads an empty query parameter
(``?sort=``, ``?limit=``) as absent, as an HTML form sends it, where the schema's
pattern or type would call it invalid.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import OUI, Clock
from tests.api.fleet import plant_attempt, plant_device
from tests.api.live_server import LiveApi, serve_live_api
from tests.api.test_traces import failed_verify_trace
from tests.storage.conftest import pg_database, pg_user
from traceacs.server.api.openapi import EXAMPLES, build_document
from traceacs.storage import SqlDeviceRepository
from traceacs.storage.tasks import SqlTaskStore
from traceacs.storage.traces import SqlTraceStore
from traceacs.tasks.service import TaskService

DOCUMENT: Final = build_document()
validate(DOCUMENT)  # a broken document fails collection, before any fuzzing
schema = schemathesis.openapi.from_dict(DOCUMENT)

CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NOW: Final = 1_700_000_000.0
__all__ = ["pg_database", "pg_user"]  # fixtures, used by name
# CI runs a bounded, repeatable sample; TRACEACS_FUZZ_EXAMPLES=500 digs deeper (and
# differently each run) by hand.
DEEPER: Final = os.environ.get("TRACEACS_FUZZ_EXAMPLES")


async def seed(repo: SqlDeviceRepository) -> None:
    """What the document's examples name: so examples hit real rows, not only 404s."""
    serial = EXAMPLES["serial"]
    await plant_device(repo, serial, now=NOW - 600)
    await plant_device(repo, "CP2045A0124", now=NOW - 600)
    await plant_attempt(repo, serial, started=NOW - 300, duration=2.0)
    await plant_attempt(
        repo, serial, started=NOW - 60, duration=3.5, result="verification_failed", step="verify"
    )
    await SqlTraceStore(repo.db).write_spans(
        failed_verify_trace(EXAMPLES["trace_id"], serial, oui=OUI, start=int(NOW - 60) * 10**9)
    )
    name = EXAMPLES["profile"]
    await repo.put_profile_document(name, {"name": name, "services": ["internet"]}, "3")
    device = await repo.get_device(OUI, serial)
    assert device is not None
    await TaskService(SqlTaskStore(repo.db, repo.secrets), clock=lambda: NOW).add(
        device, "reboot", {}
    )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def live_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    """The API on each engine (PostgreSQL: a fresh database for this module)."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite://{data_dir}/fuzz.db"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
    with serve_live_api(url, data_dir, seed, Clock(NOW)) as live:
        yield live


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@schema.parametrize()
@settings(
    max_examples=int(DEEPER or 25),
    derandomize=DEEPER is None,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_live_api_keeps_its_documented_promises(
    case: Any, live_api: LiveApi, http: requests.Session
) -> None:
    if "timeout" in (case.query or {}):
        case.query["timeout"] = 0  # a task's wait for a device that never calls in
    case.call_and_validate(
        base_url=live_api.base_url,
        session=http,
        headers={"Authorization": f"Bearer {live_api.write_token}"},
        checks=CHECKS,
        timeout=30,
    )
