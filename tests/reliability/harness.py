"""A real ACS for the reliability tests, and clients that can misbehave on the wire.

`real_acs` serves the CWMP endpoint with the provisioning workflow on 127.0.0.1, over
a SQLite inventory in the test's tmp_path holding a small simulated fleet. `RawHttp`
writes exact bytes on a socket (lying headers, half requests, byte-by-byte headers);
`CpeClient` speaks well-formed HTTP with the session cookie kept by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.profiles.source import ProfileSource
from traceacs.provisioning.workflow import ProvisioningHandlerFactory
from traceacs.server.cpe_auth import CpeAuthenticator
from traceacs.server.cwmp_endpoint import CwmpEndpoint, EndpointSettings
from traceacs.server.cwmp_server import CwmpServer, serving
from traceacs.server.cwmp_sessions import COOKIE_NAME
from traceacs.server.limits import ServerLimits
from traceacs.simulator.fleet import Fleet, build_fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.storage import SqlDeviceRepository, open_repository

NS = "urn:dslforum-org:cwmp-1-0"
TIMEOUT = 10.0
"""Safety net of every wait in these tests (never a synchronisation)."""


@dataclass
class RealAcs:
    """A running ACS: its URL, endpoint, inventory and simulated fleet."""

    url: str
    host: str
    port: int
    endpoint: CwmpEndpoint
    repo: SqlDeviceRepository
    fleet: Fleet
    server: CwmpServer

    async def healthy_session(self) -> None:
        """A well-formed simulated CPE completes a whole session (asserted).

        The last device of the fleet is kept for this: tests use the others.
        """
        cpe = self.fleet.cpes[-1]
        runner = FleetRunner(
            [cpe], RunnerConfig(self.url, connection_requests=False, request_timeout=TIMEOUT)
        )
        assert await runner.run_session(cpe), "a well-formed CPE could not complete a session"

    def device_id(self, index: int = 0, *, manufacturer: str = "Acme") -> m.DeviceId:
        """The DeviceId of an inventory device (its session is a real provisioning one)."""
        ident = self.fleet.cpes[index].identity
        return m.DeviceId(manufacturer, ident.oui, ident.product_class, ident.serial_number)


@contextlib.asynccontextmanager
async def real_acs(
    tmp_path: Path,
    *,
    devices: int = 6,
    authenticator: CpeAuthenticator | None = None,
    settings: EndpointSettings | None = None,
    limits: ServerLimits | None = None,
    store_url: str | None = None,
    profiles: ProfileSource | None = None,
) -> AsyncIterator[RealAcs]:
    """The CWMP endpoint + provisioning workflow + inventory, on 127.0.0.1.

    Served as `traceacs.app.serve` does: a `CwmpServer` with ``limits``. The
    inventory is SQLite in ``tmp_path`` unless ``store_url`` names another; profiles come
    from the embedded store unless ``profiles`` is given.
    """
    limits = limits if limits is not None else ServerLimits()
    fleet = build_fleet(devices, data_model="tr181", seed=9)
    repo = await open_repository(store_url or f"sqlite:///{tmp_path / 'acs.db'}")
    try:
        await store_fleet(repo, fleet, time.time())
        factory = ProvisioningHandlerFactory(repo, profiles or EmbeddedProfileSource(repo))
        endpoint = CwmpEndpoint(factory, authenticator=authenticator, settings=settings)
        async with serving(endpoint, limits=limits, grace=1.0) as server:
            host, port = server.addresses[0]
            yield RealAcs(f"http://{host}:{port}/acs", host, port, endpoint, repo, fleet, server)
    finally:
        await repo.close()


def inform_envelope(
    device: m.DeviceId,
    *,
    parameters: tuple[m.ParameterValueStruct, ...] = (),
    cwmp_id: str | None = "1",
    events: tuple[str, ...] = ("0 BOOTSTRAP", "1 BOOT"),
) -> bytes:
    """A well-formed Inform of ``device`` (TR-181 root, so the workflow can go on)."""
    given = {p.name for p in parameters}
    defaults = (
        m.ParameterValueStruct("Device.DeviceInfo.SoftwareVersion", "1.0.0"),
        m.ParameterValueStruct("Device.DeviceInfo.HardwareVersion", "HW1"),
    )
    params = (*(p for p in defaults if p.name not in given), *parameters)
    inform = m.Inform(
        device_id=device,
        events=tuple(m.EventStruct(code) for code in events),
        max_envelopes=1,
        current_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        retry_count=0,
        parameters=params,
    )
    return serialize_envelope(m.Envelope(body=inform, cwmp_id=cwmp_id, namespace=NS))


def envelope(message: m.Message, *, cwmp_id: str | None = "7") -> bytes:
    return serialize_envelope(m.Envelope(body=message, cwmp_id=cwmp_id, namespace=NS))


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def envelope(self) -> m.Envelope:
        assert self.status == 200, self.status
        return parse_envelope(self.body)

    def fault_code(self) -> int:
        body = self.envelope().body
        assert isinstance(body, m.CwmpFault), body
        return body.fault_code


@dataclass
class CpeClient:
    """Well-formed HTTP; the session cookie kept by hand (cookie jars refuse IP hosts)."""

    url: str
    http: aiohttp.ClientSession
    cookie: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    async def post(self, body: bytes | None, headers: Mapping[str, str] | None = None) -> Reply:
        sent = dict(self.extra_headers)
        if self.cookie is not None:
            sent["Cookie"] = f"{COOKIE_NAME}={self.cookie}"
        sent.update(headers or {})
        data = io.BytesIO(body or b"")  # raw bytes over 1 MiB make aiohttp warn
        async with self.http.post(self.url, data=data, headers=sent) as resp:
            answer = await resp.read()
            cookie = resp.cookies.get(COOKIE_NAME)
            if cookie is not None:
                self.cookie = cookie.value
            return Reply(resp.status, dict(resp.headers), answer)


@contextlib.asynccontextmanager
async def cpe_client(url: str, **headers: str) -> AsyncIterator[CpeClient]:
    """A client on its own connection pool (one connection: a CPE's keep-alive)."""
    connector = aiohttp.TCPConnector(limit=1, force_close=False)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        yield CpeClient(url, http, extra_headers=dict(headers))


class RawHttp:
    """One TCP connection on which the test writes exact bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, host: str, port: int) -> RawHttp:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        """Read one HTTP/1.1 response (Content-Length bodies only, as the ACS sends)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        for line in lines:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), TIMEOUT)
        return status, headers, body

    async def read_until_closed(self, timeout: float = TIMEOUT) -> bytes:
        """Everything the server sends until it closes (EOF or reset); bounded wait."""
        received = bytearray()
        async with asyncio.timeout(timeout):
            while True:
                try:
                    chunk = await self.reader.read(65536)
                except ConnectionResetError:
                    return bytes(received)
                if not chunk:
                    return bytes(received)
                received += chunk

    def close(self) -> None:
        self.writer.close()


def post_request(
    body: bytes, *, path: str = "/acs", headers: Mapping[str, str] | None = None
) -> bytes:
    """The bytes of a POST with a truthful Content-Length unless headers say otherwise."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: text/xml"]
    given = {k.lower() for k in (headers or {})}
    if "content-length" not in given and "transfer-encoding" not in given:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def errors_logged(records: list[logging.LogRecord]) -> list[str]:
    """Log records at ERROR or above, or carrying a traceback: none may appear."""
    return [
        f"{r.name}: {r.getMessage()}"
        for r in records
        if r.levelno >= logging.ERROR or r.exc_info is not None
    ]
