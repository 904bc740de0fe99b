"""The CPE side of the endpoint tests: messages built as dataclasses, encoded by the codec."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.provisioning.session_handler import SessionEndReason, SessionHandler
from traceacs.server.cwmp_endpoint import CwmpEndpoint
from traceacs.server.cwmp_server import serving
from traceacs.server.file_server import FileServer, make_file_application
from traceacs.server.limits import ServerLimits

NS = "urn:dslforum-org:cwmp-1-0"
GPV_NAME = "Device.DeviceInfo.SoftwareVersion"


def inform(serial: str = "SN0001", *, namespace: str = NS, cwmp_id: str = "1") -> bytes:
    message = m.Inform(
        device_id=m.DeviceId("Acme", "00D09E", "HomeGateway", serial),
        events=(m.EventStruct("0 BOOTSTRAP"), m.EventStruct("1 BOOT")),
        max_envelopes=1,
        current_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        retry_count=0,
        parameters=(m.ParameterValueStruct("Device.DeviceInfo.SoftwareVersion", "1.2.3"),),
    )
    return envelope(message, namespace=namespace, cwmp_id=cwmp_id)


def envelope(message: m.Message, *, namespace: str = NS, cwmp_id: str | None = "7") -> bytes:
    return serialize_envelope(m.Envelope(body=message, cwmp_id=cwmp_id, namespace=namespace))


def decode(body: bytes) -> m.Envelope:
    return parse_envelope(body)


def gpv_response(value: str = "1.2.3") -> bytes:
    return envelope(
        m.GetParameterValuesResponse(parameters=(m.ParameterValueStruct(GPV_NAME, value),))
    )


class FakeClock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Journal:
    """What the handlers of all sessions were told, in order."""

    informs: list[m.Inform] = field(default_factory=list)
    cpe_requests: list[m.Message] = field(default_factory=list)
    responses: list[m.Message] = field(default_factory=list)
    ends: list[SessionEndReason] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class OneRpcHandler:
    """Accepts the Inform, asks one GetParameterValues, then ends the session."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.sent = False

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        self.journal.informs.append(inform)
        return m.InformResponse()

    async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
        self.journal.cpe_requests.append(request)
        if isinstance(request, m.TransferComplete):
            return m.TransferCompleteResponse()
        return m.CwmpFault(8000, "Method not supported", "Server")

    async def next_acs_request(self, now: float) -> m.Message | None:
        if self.sent:
            return None
        self.sent = True
        return m.GetParameterValues(parameter_names=(GPV_NAME,))

    async def on_cpe_response(self, response: m.Message, now: float) -> None:
        self.journal.responses.append(response)

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        self.journal.ends.append(reason)
        self.journal.ended.set()


class OneRpcFactory:
    def __init__(self) -> None:
        self.journal = Journal()

    def new_session(self, session_id: str) -> SessionHandler:
        self.journal.session_ids.append(session_id)
        return OneRpcHandler(self.journal)


@contextlib.asynccontextmanager
async def running(
    endpoint: CwmpEndpoint,
    *,
    sweep_interval: float | None = None,
    limits: ServerLimits | None = None,
) -> AsyncIterator[str]:
    """Serve ``endpoint`` on 127.0.0.1 (free port) as `traceacs serve` does; yields its URL."""
    async with serving(endpoint, limits=limits, sweep_interval=sweep_interval, grace=1.0) as server:
        host, port = server.addresses[0]
        yield f"http://{host}:{port}/acs"


@contextlib.asynccontextmanager
async def files_running(files: FileServer) -> AsyncIterator[str]:
    """Serve ``files`` on their own port (127.0.0.1, free port); yields ``http://host:port``."""
    runner = web.AppRunner(make_file_application(files), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
