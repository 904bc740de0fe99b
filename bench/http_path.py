"""The CWMP HTTP path alone: the endpoint on `http11` against the same endpoint on aiohttp.

    python -m bench.http_path [--sessions 3000] [--rounds 3] [--concurrency 32]
    python -m bench.http_path --base REV [--rounds 5]


What the HTTP server costs per quiet session, without storage, provisioning or
telemetry (`AcceptAllHandlerFactory`): each session is a new TCP connection, an Inform
(200 InformResponse + cookie) and an empty POST (204), as a periodic CPE does. The
baseline is an aiohttp application around the same `CwmpEndpoint` (body read, headers
copied into a `CwmpRequest`, the reply copied into a `web.Response`), the shape the
CWMP port had before `traceacs.server.http11`. Both servers run in a child process
pinned to ``--server-core``, measured alternately (aiohttp, http11, aiohttp, ...); the
figure is the server's CPU-µs per session (utime + stime) and the aiohttp/http11 ratio.

With ``--base REV`` the baseline is instead ``REV``'s http11 server (its tree extracted
with ``git archive``, the child imports ``traceacs`` from there), measured alternately
with the working tree's: what one change to the HTTP path bought, without the rest of
the ACS (``--with-floor`` adds `bench/floor.py` to each round). ``--kind canned``
serves a canned handler instead of the endpoint (the reply bytes of an InformResponse
with a cookie, then 204): the HTTP server alone, to set against the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import process_cpu_seconds
from bench.servers import pinned


def _inform(serial: str) -> bytes:
    from traceacs.cwmp import messages as m
    from traceacs.cwmp.codec import serialize_envelope

    inform = m.Inform(
        device_id=m.DeviceId("Acme", "00D09E", "GW", serial),
        events=(m.EventStruct("2 PERIODIC"),),
        max_envelopes=1,
        current_time=datetime(2026, 1, 1, tzinfo=UTC),
        retry_count=0,
        parameters=(m.ParameterValueStruct("Device.DeviceInfo.SoftwareVersion", "1.0"),),
    )
    return serialize_envelope(m.Envelope(body=inform, cwmp_id="1"))


# --------------------------------------------------------------------------- servers


def _canned() -> Callable[[Any], Awaitable[Any]]:
    """A handler answering like the endpoint, with precomputed replies and no work."""
    from traceacs.cwmp import messages as m
    from traceacs.cwmp.codec import serialize_envelope
    from traceacs.server.exchange import NO_CONTENT, TEXT_XML, CwmpReply

    body = serialize_envelope(m.Envelope(body=m.InformResponse(max_envelopes=1), cwmp_id="1"))
    inform_response = CwmpReply(
        200, body, TEXT_XML, set_cookie="traceacs_session=0123456789abcdef; Path=/; HttpOnly"
    )

    async def handle(request: Any) -> Any:
        return inform_response if request.body else NO_CONTENT

    return handle


async def _serve(kind: str) -> None:
    import signal

    from traceacs.server.cwmp_endpoint import CwmpEndpoint
    from traceacs.server.default_handler import AcceptAllHandlerFactory

    endpoint = CwmpEndpoint(AcceptAllHandlerFactory(), authenticator=None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if kind in ("http11", "canned"):
        from traceacs.server.cwmp_server import CwmpServer

        server = CwmpServer(endpoint)
        if kind == "canned":
            server._state.handler = _canned()  # a bench reaching in
        await server.start("127.0.0.1", 0)
        print(f"listening {server.addresses[0][1]}", flush=True)
        await stop.wait()
        await server.stop()
        return
    from aiohttp import web

    from traceacs.server.exchange import CwmpRequest

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        reply = await endpoint.handle(
            CwmpRequest(
                request.method,
                request.raw_path,
                body,
                tuple(request.headers.getall("Cookie", [])),
                request.headers.get("Authorization"),
                request.transport,
            )
        )
        response = web.Response(status=reply.status, body=reply.body or None)
        if reply.content_type:
            response.headers["Content-Type"] = reply.content_type
        for name, value in reply.headers:
            response.headers.add(name, value)
        if reply.set_cookie:
            response.headers.add("Set-Cookie", reply.set_cookie)
        return response

    app = web.Application(client_max_size=endpoint.settings.max_body_bytes + 1)
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=60.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"listening {runner.addresses[0][1]}", flush=True)
    await stop.wait()
    await runner.cleanup()


# --------------------------------------------------------------------------- client


async def _sessions(port: int, count: int, concurrency: int) -> None:
    from bench.loadgen import HttpConnection

    left = [count]

    async def worker(index: int) -> None:
        inform = _inform(f"HTTP{index:04d}")
        while left[0] > 0:
            left[0] -= 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            conn = HttpConnection(reader, writer, b"127.0.0.1")
            try:
                status, _, cookie = await conn.post(inform, None)
                assert status == 200, status
                status, _, _ = await conn.post(b"", cookie)
                assert status == 204, status
            finally:
                conn.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))


def _measure(kind: str, args: argparse.Namespace, tree: str | None = None) -> float:
    """Server CPU-µs per session; ``tree``: run the server from that source tree."""
    argv = [sys.executable, "-m", "bench.http_path", "--serve", kind]
    if kind == "floor":
        argv = [sys.executable, "-m", "bench.floor", "--mode", "periodic"]
    elif tree is not None:
        # bench from here, traceacs from ``tree`` (imported only once serving).
        argv = [
            sys.executable,
            "-c",
            "import sys; from bench.http_path import main; "
            f"sys.path.insert(0, {tree!r}); sys.exit(main(['--serve', {kind!r}]))",
        ]
    process = subprocess.Popen(pinned(args.server_core, argv), stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().split()[1])
        asyncio.run(_sessions(port, args.warmup, args.concurrency))
        before = process_cpu_seconds(process.pid)
        asyncio.run(_sessions(port, args.sessions, args.concurrency))
        used = process_cpu_seconds(process.pid) - before
    finally:
        process.terminate()
        process.wait(timeout=30)
    return float(used / args.sessions * 1e6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=("http11", "aiohttp", "canned"), help=argparse.SUPPRESS)
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--base", help="compare http11 of this git revision (alternately)")
    parser.add_argument(
        "--kind", choices=("http11", "canned"), default="http11", help="with --base: the handler"
    )
    parser.add_argument(
        "--with-floor", action="store_true", help="with --base: also bench/floor.py each round"
    )
    args = parser.parse_args(argv)
    if args.serve:
        import uvloop

        uvloop.run(_serve(args.serve))
        return 0
    if args.base:
        return _against_base(args)
    runs: dict[str, list[float]] = {"aiohttp": [], "http11": []}
    for _ in range(args.rounds):
        for kind in ("aiohttp", "http11"):
            runs[kind].append(round(_measure(kind, args), 1))
            print(f"{kind}: {runs[kind][-1]} CPU-µs/session", file=sys.stderr)
    medians = {kind: statistics.median(values) for kind, values in runs.items()}
    print(
        json.dumps(
            {
                "server_cpu_us_per_session": runs,
                "median": medians,
                "aiohttp_over_http11": round(medians["aiohttp"] / medians["http11"], 2),
            },
            indent=2,
        )
    )
    return 0


def _against_base(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bench.ab import extract

    runs: dict[str, list[float]] = {"base": [], "new": []}
    if args.with_floor:
        runs["floor"] = []
    with tempfile.TemporaryDirectory() as tmp:
        short = extract(args.base, Path(tmp))
        for _ in range(args.rounds):
            for side, tree in (("base", tmp), ("new", None), ("floor", None)):
                if side not in runs:
                    continue
                kind = "floor" if side == "floor" else args.kind
                runs[side].append(round(_measure(kind, args, tree), 1))
                print(f"{side}: {runs[side][-1]} CPU-µs/session", file=sys.stderr)
    medians = {side: statistics.median(values) for side, values in runs.items()}
    ratios = sorted(round(n / b, 3) for b, n in zip(runs["base"], runs["new"], strict=True))
    print(
        json.dumps(
            {
                "base": short,
                "kind": args.kind,
                "server_cpu_us_per_session": runs,
                "median": medians,
                "new_over_base": round(medians["new"] / medians["base"], 3),
                "new_over_base_per_round": ratios,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
