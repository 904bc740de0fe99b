"""The leanest quiet periodic session this stack allows: a bound, not an ACS.

Issue 8's intent (2.17x the straightforward handler) asks what a quiet periodic
session (Inform "2 PERIODIC" -> InformResponse with a cookie; empty POST -> 204) can
cost in Python at best. This server does only what no ACS can skip, with the pieces
TraceACS uses, and nothing else: uvloop + httptools as the floor (`bench/floor.py`),
the Inform parsed by lxml with a hardened parser, its serial number, event codes and
cwmp:ID read, the device's row read from SQLite by serial number, the Inform's time
written behind (one ``executemany`` per 50 ms, on the loop), a session id from the OS
CSPRNG kept in a dict, the InformResponse from a byte template, and at the empty POST
204, two counters and one session log line through `traceacs.logs`'
`configure_serve_logging` into a file. It makes no provisioning decision (device
state, ParameterKey against the profile's config, tasks, presets, firmware, backoff),
records no trace, runs no session state machine, and handles nothing but this
sequence: the difference between it and the ACS is what those cost, and the
difference between it and the floor what parsing, the device read, the write and the
log line cost.

Run it as the floor is run: ``python -m bench.lean_bound --database PATH`` prints
``listening <port>``; ``python -m bench.loadgen --port P --scenario periodic
--server-pid PID`` measures it (see bench/README.md, "Lean bound").
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import httptools
from lxml import etree

from bench.straightforward import PARSER, SOAP_ENV, fleet_parameters, open_database
from traceacs.logs import configure_serve_logging

log = logging.getLogger("traceacs.server.cwmp")

FLUSH_SECONDS = 0.05
_INFORM_RESPONSE = (
    '<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:cwmp="{ns}"><soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">{id}</cwmp:ID>'
    "</soap-env:Header><soap-env:Body><cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes>"
    "</cwmp:InformResponse></soap-env:Body></soap-env:Envelope>"
)
_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_FORBIDDEN = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
_COOKIE = "traceacs_session="


class LeanAcs:
    """The state shared by connections: the store, the sessions, the counters."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.sessions: dict[str, tuple[str, str, float]] = {}
        """Cookie -> (serial number, event codes, start)."""
        self.pending: list[tuple[float, str]] = []
        self.informs = 0
        self.completed = 0

    def flush(self) -> None:
        """The Informs' times of the last interval, in one transaction."""
        if self.pending:
            pending, self.pending = self.pending, []
            self.db.executemany(
                "UPDATE devices SET last_inform = ? WHERE serial_number = ?", pending
            )
            self.db.commit()
        asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def inform(self, body: bytes) -> bytes:
        """The InformResponse (with a new session's cookie) to an Inform's body."""
        try:
            root = etree.fromstring(body, PARSER)
        except etree.XMLSyntaxError:
            return _BAD_REQUEST
        soap_body = root.find(f"{{{SOAP_ENV}}}Body")
        if soap_body is None or len(soap_body) == 0:
            return _BAD_REQUEST
        message = soap_body[0]
        qname = etree.QName(message)
        cwmp = qname.namespace or ""
        if qname.localname != "Inform":
            return _BAD_REQUEST
        serial = message.findtext("DeviceId/SerialNumber") or ""
        row = self.db.execute(
            "SELECT serial_number, service_plan FROM devices WHERE serial_number = ?", (serial,)
        ).fetchone()
        if row is None:
            return _FORBIDDEN
        now = time.time()
        self.pending.append((now, serial))
        self.informs += 1
        events = ",".join(c.text or "" for c in message.iterfind("Event/EventStruct/EventCode"))
        cookie = os.urandom(24).hex()
        self.sessions[cookie] = (serial, events, now)
        request_id = root.findtext(f"{{{SOAP_ENV}}}Header/{{{cwmp}}}ID") or ""
        answer = _INFORM_RESPONSE.format(ns=cwmp, id=request_id).encode()
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\n"
            b"Set-Cookie: %s%s; HttpOnly; Path=/\r\nContent-Length: %d\r\n\r\n%s"
            % (_COOKIE.encode(), cookie.encode(), len(answer), answer)
        )

    def empty_post(self, cookie: str | None) -> bytes:
        """204, and the session's end: counted and logged."""
        session = self.sessions.pop(cookie, None) if cookie else None
        if session is None:
            return _NO_CONTENT
        serial, events, started = session
        self.completed += 1
        log.info(
            "cwmp session %s device=%s events=%s result=%s duration_ms=%.0f",
            cookie[:16] if cookie else "",
            serial,
            events,
            "completed",
            (time.time() - started) * 1000,
        )
        return _NO_CONTENT


class LeanProtocol(asyncio.Protocol):
    """One connection, answered inside ``data_received`` (nothing here awaits)."""

    def __init__(self, acs: LeanAcs) -> None:
        self._acs = acs
        self._parser = httptools.HttpRequestParser(self)
        self._body: list[bytes] = []
        self._cookie: str | None = None
        self._transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            assert self._transport is not None
            self._transport.write(_BAD_REQUEST)
            self._transport.close()

    def on_message_begin(self) -> None:
        self._body.clear()
        self._cookie = None

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"cookie":
            text = value.decode("latin-1").strip()
            if text.startswith(_COOKIE):
                self._cookie = text[len(_COOKIE) :]

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._transport is not None
        body = b"".join(self._body)
        acs = self._acs
        answer = acs.inform(body) if body.strip() else acs.empty_post(self._cookie)
        self._transport.write(answer)
        if not self._parser.should_keep_alive():
            self._transport.close()


async def serve(host: str, port: int, acs: LeanAcs) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: LeanProtocol(acs), host, port, backlog=1024)
    loop.call_later(FLUSH_SECONDS, acs.flush)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the leanest quiet periodic session (a bound)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--log", type=Path, default=Path(os.devnull))
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    devices, _, _ = fleet_parameters(args.devices, args.seed)
    acs = LeanAcs(open_database(args.database, devices))
    with args.log.open("a", encoding="utf-8") as stream:
        handler = configure_serve_logging(stream)
        import uvloop

        try:
            uvloop.run(serve(args.host, args.port, acs))
        finally:
            handler.close()  # the lines still batched, before the file closes
    return 0


if __name__ == "__main__":
    sys.exit(main())
