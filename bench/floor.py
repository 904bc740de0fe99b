"""The protocol floor: uvloop + httptools answering CWMP with canned bytes.

It does what no ACS can do without: parse HTTP, keep the connection, and write a
response for each request of the scenario's sequence (Inform -> InformResponse with a
cookie; empty POST -> 204, or SetParameterValues in the bootstrap sequence;
SetParameterValuesResponse -> GetParameterValues; GetParameterValuesResponse -> 204).
The SOAP bodies are the real codec's output for a TR-181 device of the bench fleet,
built once at start. What the ACS achieves relative to this is ``ACS/floor``.

``--mode sink`` answers every request with an empty 200: the OTLP/HTTP receiver the
ACS exports its traces to in the telemetry scenarios (a Collector stand-in that costs
the ACS what a real one would: encoding and sending).

Prints ``listening <port>`` on stdout once bound; runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import UTC, datetime

import httptools

from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import serialize_envelope
from traceacs.provisioning.config_builder import build_config
from traceacs.provisioning.config_types import ConfigTarget
from traceacs.simulator.fleet import build_fleet

COOKIE = b"traceacs_session=floor0123456789abcdef"


def _http(status: bytes, body: bytes = b"", extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\nServer: floor\r\n" + extra
    if body:
        head += b"Content-Type: text/xml; charset=utf-8\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


class Canned:
    """The responses of the scenario sequences, serialized once."""

    def __init__(self) -> None:
        fleet = build_fleet(6, data_model="tr181", seed=8)
        profiles = {p.name: p for p in fleet.profiles}
        index = next(i for i, r in enumerate(fleet.inventory) if r.service_plan == "internet-voip")
        cpe, record = fleet.cpes[index], fleet.inventory[index]
        envelope = cpe.build_inform(datetime.now(UTC))
        assert isinstance(envelope.body, m.Inform)
        config = build_config(
            profiles[record.service_plan], ConfigTarget.from_inform(envelope.body)
        )
        ns = envelope.namespace

        def soap(body: m.Message, cwmp_id: str) -> bytes:
            return serialize_envelope(m.Envelope(body=body, cwmp_id=cwmp_id, namespace=ns))

        self.inform_response = _http(
            b"200 OK",
            soap(m.InformResponse(max_envelopes=1), "1"),
            b"Set-Cookie: " + COOKIE + b"; HttpOnly; Path=/\r\n",
        )
        spv = m.SetParameterValues(config.parameters, parameter_key=config.parameter_key)
        gpv = m.GetParameterValues(tuple(p.name for p in config.verifiable()))
        self.spv = _http(b"200 OK", soap(spv, "floor-1"))
        self.gpv = _http(b"200 OK", soap(gpv, "floor-2"))
        self.no_content = _http(b"204 No Content")
        self.ok_empty = _http(b"200 OK")


class FloorProtocol(asyncio.Protocol):
    """One connection: httptools parses, the body's first bytes pick the answer."""

    def __init__(self, canned: Canned, mode: str) -> None:
        self._canned, self._mode = canned, mode
        self._parser = httptools.HttpRequestParser(self)
        self._body: list[bytes] = []
        self._transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            assert self._transport is not None
            self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._body.clear()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._transport is not None
        self._transport.write(self._answer(b"".join(self._body)))
        if not self._parser.should_keep_alive():
            self._transport.close()

    def _answer(self, body: bytes) -> bytes:
        canned = self._canned
        if self._mode == "sink":
            return canned.ok_empty
        if not body:
            return canned.spv if self._mode == "bootstrap" else canned.no_content
        head = body[:1200]
        if b"SetParameterValuesResponse" in head:
            return canned.gpv
        if b"GetParameterValuesResponse" in head:
            return canned.no_content
        return canned.inform_response


async def serve(host: str, port: int, mode: str) -> None:
    canned = Canned()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: FloorProtocol(canned, mode), host, port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening {bound}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CWMP protocol floor / OTLP sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=("periodic", "bootstrap", "sink"), default="periodic")
    args = parser.parse_args(argv)
    import uvloop

    uvloop.run(serve(args.host, args.port, args.mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
