"""`traceacs serve` with TLS on the CWMP and API ports, verified against a local CA.

A real `traceacs serve` subprocess gets a server certificate signed by a throwaway CA
(`tests.server.local_ca`); the clients trust only that CA file. Simulated CPEs provision
over https with Basic authentication (which TLS makes acceptable), an API client reads
the results over https, plain HTTP on a TLS port gets no answer, and a client that
does not trust the CA is refused before it sends a byte of its password.
"""

from __future__ import annotations

import asyncio
import re
import signal
import ssl
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.server.local_ca import LocalCa, make_local_ca
from tests.server.test_serve_command import clean_env, read_until
from traceacs.auth.tokens import issue_token
from traceacs.commands.inventory_file import parse_inventory, read_inventory_text
from traceacs.config import default_database_url
from traceacs.profiles.embedded import import_profiles
from traceacs.simulator.fleet import Fleet, build_fleet, write_inventory
from traceacs.simulator.runner import COMPLETED, DROPPED, FleetRunner, RunnerConfig
from traceacs.storage import open_repository
from traceacs.storage.api_store import SqlApiStore

CWMP_LISTENING = re.compile(rb"CWMP endpoint listening on (https://127\.0\.0\.1:\d+/)")
API_LISTENING = re.compile(rb"API listening on (https://127\.0\.0\.1:\d+/)")
SHARED_SECRET = "tls-fleet-secret"


@dataclass
class TlsServer:
    ca: LocalCa
    cwmp_url: str
    api_url: str
    token: str
    fleet: Fleet
    process: asyncio.subprocess.Process


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[TlsServer]:
    ca = make_local_ca(tmp_path / "pki")
    data_dir = tmp_path / "data"
    fleet = build_fleet(3, data_model="mixed", seed=7)
    profiles = write_inventory(fleet, tmp_path / "inventory.csv")
    repo = await open_repository(default_database_url(data_dir))
    try:
        entries = parse_inventory(read_inventory_text(tmp_path / "inventory.csv"), "csv")
        await repo.import_devices(entries, time.time())
        await import_profiles(repo, profiles)
        token = await issue_token(SqlApiStore(repo.db), "tls-test", "read", now=time.time())
    finally:
        await repo.close()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "traceacs.cli", "serve",
        "--cwmp-port", "0", "--api-port", "0", "--bind", "127.0.0.1", "--cpe-auth", "basic",
        "--tls-cert", str(ca.server_cert), "--tls-key", str(ca.server_key),
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(tmp_path, TRACEACS_CPE_SHARED_SECRET=SHARED_SECRET),
    )  # fmt: skip
    assert process.stderr is not None
    try:
        cwmp, _ = await read_until(process.stderr, CWMP_LISTENING)
        api, _ = await read_until(process.stderr, API_LISTENING)
        yield TlsServer(
            ca,
            cwmp.group(1).decode(),
            api.group(1).decode(),
            token.plaintext,
            fleet,
            process,
        )
        process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.stderr.read(), timeout=30)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
        assert b"Traceback" not in rest
        assert SHARED_SECRET.encode() not in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def fleet_config(server: TlsServer, ca_file: Path | None) -> RunnerConfig:
    return RunnerConfig(
        acs_url=server.cwmp_url,
        cpe_username="fleet",
        cpe_password=SHARED_SECRET,
        connection_requests=False,
        ca_file=None if ca_file is None else str(ca_file),
        max_attempts=1,
    )


async def test_cpes_provision_and_the_api_answers_over_https_with_a_local_ca(
    tls_server: TlsServer,
) -> None:
    runner = FleetRunner(tls_server.fleet.cpes, fleet_config(tls_server, tls_server.ca.ca_cert))
    stats = await asyncio.wait_for(runner.run(), timeout=120)
    assert stats.results[COMPLETED] == len(tls_server.fleet.cpes), stats.summary()

    trusting = ssl.create_default_context(cafile=str(tls_server.ca.ca_cert))
    headers = {"Authorization": f"Bearer {tls_server.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{tls_server.api_url}api/devices", headers=headers, ssl=trusting) as response,
    ):
        assert response.status == 200
        body = await response.json()
    states = {d["serial_number"]: d["state"] for d in body["items"]}
    assert states == {cpe.identity.serial_number: "provisioned" for cpe in tls_server.fleet.cpes}


async def test_plain_http_on_the_tls_ports_gets_no_answer(tls_server: TlsServer) -> None:
    async with aiohttp.ClientSession() as http:
        for url in (tls_server.cwmp_url, f"{tls_server.api_url}api/openapi.json"):
            with pytest.raises(aiohttp.ClientError):
                async with http.get(url.replace("https://", "http://")) as response:
                    await response.read()


async def test_clients_that_do_not_trust_the_ca_are_refused(
    tls_server: TlsServer, tmp_path: Path
) -> None:
    other_ca = make_local_ca(tmp_path / "other-pki", common_name="Some other CA")
    # A CPE trusting another CA (and one trusting only the system store) never talks.
    for ca_file in (other_ca.ca_cert, None):
        cpe = tls_server.fleet.cpes[0]
        runner = FleetRunner([cpe], fleet_config(tls_server, ca_file))
        stats = await asyncio.wait_for(runner.run(), timeout=60)
        assert stats.results == {DROPPED: 1}, stats.summary()
    # The API client alike.
    distrusting = ssl.create_default_context(cafile=str(other_ca.ca_cert))
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.get(f"{tls_server.api_url}api/openapi.json", ssl=distrusting)
