"""Atheris harness for the CWMP endpoint: fuzzed bodies over real HTTP on 127.0.0.1.

Each input is posted either as the first POST of a session or inside a session opened
with a well-formed Inform. A crash is: a status outside {200, 204, 400, 401, 413}, a
200 whose body is not a CWMP envelope, or anything logged at ERROR (aiohttp logs an
unhandled handler exception there, with its traceback). The session handler is the
endpoint's stand-in (`AcceptAllHandlerFactory`), so the run measures the endpoint and
the codec, not the database.

    .venv/bin/python bench/fuzz/fuzz_endpoint.py /tmp/endpoint-corpus -atheris_runs=50000
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime

import aiohttp
import atheris

with atheris.instrument_imports():
    from traceacs.cwmp import messages as m
    from traceacs.cwmp.codec import parse_envelope, serialize_envelope
    from traceacs.server.cwmp_endpoint import CwmpEndpoint
    from traceacs.server.cwmp_server import CwmpServer
    from traceacs.server.default_handler import AcceptAllHandlerFactory

ALLOWED = {200, 204, 400, 401, 413}


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _inform() -> bytes:
    inform = m.Inform(
        device_id=m.DeviceId("Acme", "00D09E", "GW", "SN1"),
        events=(m.EventStruct("1 BOOT"),),
        max_envelopes=1,
        current_time=datetime(2026, 1, 1, tzinfo=UTC),
        retry_count=0,
    )
    return serialize_envelope(m.Envelope(body=inform, cwmp_id="1"))


class Harness:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.errors = _Errors()
        logging.getLogger().addHandler(self.errors)
        self.endpoint = CwmpEndpoint(AcceptAllHandlerFactory(), authenticator=None)
        self.server = CwmpServer(self.endpoint)  # served as `traceacs serve` serves it
        self.loop.run_until_complete(self.server.start("127.0.0.1", 0))
        self.http = self.loop.run_until_complete(self._client())
        host, port = self.server.addresses[0]
        self.url = f"http://{host}:{port}/acs"
        self.inform = _inform()

    async def _client(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())

    async def _post(self, body: bytes, cookie: str | None) -> tuple[int, bytes, str | None]:
        headers = {"Cookie": f"traceacs_session={cookie}"} if cookie else {}
        async with self.http.post(self.url, data=body, headers=headers) as resp:
            got = resp.cookies.get("traceacs_session")
            return resp.status, await resp.read(), got.value if got else cookie

    async def one(self, in_session: bool, body: bytes) -> None:
        cookie = None
        if in_session:
            status, _, cookie = await self._post(self.inform, None)
            assert status == 200
        status, answer, _ = await self._post(body, cookie)
        await self.endpoint.close_all("dropped")
        if status not in ALLOWED:
            raise AssertionError(f"HTTP {status}")
        if status == 200:
            parse_envelope(answer)  # raises if the ACS wrote something unreadable
        if self.errors.records:
            raise AssertionError(f"logged at ERROR: {self.errors.records[0].getMessage()}")

    def test_one_input(self, data: bytes) -> None:
        if not data:
            return
        self.loop.run_until_complete(self.one(bool(data[0] & 1), data[1:]))


def main() -> None:
    harness = Harness()
    atheris.Setup(sys.argv, harness.test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
