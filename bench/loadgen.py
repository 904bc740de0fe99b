"""A lean CWMP load generator: thousands of sessions/s from one core.

The simulator's `FleetRunner` opens an aiohttp `ClientSession` per CWMP session and
parses/serializes every envelope with lxml; that is right for testing behaviour but it
spends more CPU per session than the ACS under test, so it cannot saturate one ACS core
from one generator core (``python -m bench.run floor`` measures both). This generator
speaks HTTP/1.1 over raw asyncio streams (keep-alive within a session, cookie echoed),
sends pre-serialized Informs, and answers the ACS's RPCs with per-device replies learnt
once from the real `SimulatedCpe` (only the ``cwmp:ID`` is spliced in). The learning
pass, one bootstrap session per device, is also what pre-provisions the devices for
the periodic scenario; it and the warm-up are excluded from the measurement.

Runs as its own process (pinned by `bench.run`) and prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from bench.common import percentile, process_cpu_seconds
from traceacs.cwmp import events as ev
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.fleet import build_fleet

ID_PLACEHOLDER = b"BENCH-CWMP-ID-PLACEHOLDER"
_ID_RE = re.compile(rb"<(?:[\w.-]+:)?ID\b[^>]*>([^<]*)</")
_METHOD_RE = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([A-Za-z]+)")
EXPECTED_RPCS = {"periodic": 0, "bootstrap": 2}


class BenchProtocolError(Exception):
    """The server answered something the scenario does not expect."""


@dataclass(slots=True)
class BenchDevice:
    cpe: SimulatedCpe
    bootstrap_inform: bytes
    periodic_inform: bytes = b""
    replies: dict[bytes, bytes] = field(default_factory=dict)
    """ACS RPC method -> this CPE's serialized answer, ``cwmp:ID`` as a placeholder."""
    spv_params: int = 0


def build_devices(count: int, seed: int) -> list[BenchDevice]:
    """The bench fleet: TR-181 CPEs (mean SPV ~29 parameters), no failures, no quirks."""
    fleet = build_fleet(count, data_model="tr181", seed=seed)
    now = datetime.now(UTC)
    return [BenchDevice(cpe, serialize_envelope(cpe.build_inform(now))) for cpe in fleet.cpes]


class HttpAnswer(NamedTuple):
    status: int
    payload: bytes
    set_cookie: bytes | None
    """The ``Set-Cookie`` value without its attributes: what the next POST echoes."""
    retry_after: bytes | None


async def read_answer(reader: asyncio.StreamReader) -> HttpAnswer:
    """One HTTP/1.1 response: the status line, the headers the generators act on, the
    Content-Length body (the ACS never answers chunked; refused rather than misread).

    Hand-parsed, shared by every raw-stream generator (`HttpConnection`, the open-loop
    overload and the boot storm), because an HTTP client library costs more CPU per
    session than the ACS under test.
    """
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    set_cookie = None
    retry_after = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value)
        elif lname == b"set-cookie":
            set_cookie = value.strip().split(b";", 1)[0]
        elif lname == b"retry-after":
            retry_after = value.strip()
        elif lname == b"transfer-encoding":
            raise BenchProtocolError("chunked responses are not supported")
    payload = await reader.readexactly(length) if length else b""
    return HttpAnswer(status, payload, set_cookie, retry_after)


class HttpConnection:
    """One keep-alive HTTP/1.1 connection, POST only, Content-Length bodies only."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: bytes):
        self._reader, self._writer = reader, writer
        self._head = (
            b"POST / HTTP/1.1\r\nHost: " + host + b"\r\nUser-Agent: traceacs-bench\r\n"
            b'Content-Type: text/xml; charset="utf-8"\r\n'
        )

    async def exchange(self, body: bytes, cookie: bytes | None) -> HttpAnswer:
        """POST ``body`` (``cookie`` echoed when given) and read the whole answer."""
        head = self._head
        if body:
            head += b'SOAPAction: ""\r\n'
        if cookie is not None:
            head += b"Cookie: " + cookie + b"\r\n"
        self._writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return await read_answer(self._reader)

    async def post(self, body: bytes, cookie: bytes | None) -> tuple[int, bytes, bytes | None]:
        """`exchange`, as status, body and the cookie to echo."""
        status, payload, set_cookie, _ = await self.exchange(body, cookie)
        return status, payload, set_cookie

    def close(self) -> None:
        self._writer.close()


WINDOW_LIMIT_S = 60.0
"""Safety net of a window held open for ``--min-sessions`` (a server that completes no
session at all still ends the run, with the sessions it did complete)."""


@dataclass(slots=True)
class Tally:
    measuring: bool = False
    sessions: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    rpcs: int = 0
    wanted: int = 0
    """Sessions the window waits for (past its duration) before it may end."""
    enough: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once ``wanted`` sessions completed within the window."""

    def completed(self, rpcs: int, latency_ms: float) -> None:
        """One session completed within the window."""
        self.sessions += 1
        self.rpcs += rpcs
        self.latencies_ms.append(latency_ms)
        if self.sessions >= self.wanted:
            self.enough.set()


class LoadGenerator:
    def __init__(self, host: str, port: int, scenario: str, devices: list[BenchDevice]) -> None:
        self.host, self.port, self.scenario = host, port, scenario
        self.devices = devices
        self.idle: deque[BenchDevice] = deque(devices)
        self.tally = Tally()
        self.stopping = False
        """Set to let each `worker` finish its session and return (`stop_workers`)."""
        self._host_header = f"{host}:{port}".encode()

    # ---------------------------------------------------------------- one session

    async def session(self, device: BenchDevice, inform: bytes) -> int:
        """One CWMP session on a fresh connection; the number of ACS RPCs answered."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        conn = HttpConnection(reader, writer, self._host_header)
        try:
            status, body, cookie = await conn.post(inform, None)
            if status != 200 or b"InformResponse" not in body:
                raise BenchProtocolError(f"inform answered {status}")
            status, body, _ = await conn.post(b"", cookie)
            rpcs = 0
            while status == 200 and body:
                method = _METHOD_RE.search(body)
                found_id = _ID_RE.search(body)
                if method is None or found_id is None:
                    raise BenchProtocolError("unparsable ACS request")
                template = device.replies.get(method.group(1))
                if template is None:
                    template = self.learn(device, method.group(1), body)
                status, body, _ = await conn.post(
                    template.replace(ID_PLACEHOLDER, found_id.group(1)), cookie
                )
                rpcs += 1
            if status != 204:
                raise BenchProtocolError(f"session ended with HTTP {status}")
            return rpcs
        finally:
            conn.close()

    def learn(self, device: BenchDevice, method: bytes, body: bytes) -> bytes:
        """Answer with the real simulated CPE once; keep the bytes for next time."""
        request = parse_envelope(body).body
        if isinstance(request, m.SetParameterValues):
            device.spv_params = len(request.parameters)
        answer = device.cpe.handle(request, datetime.now(UTC))
        envelope = m.Envelope(
            body=answer, cwmp_id=ID_PLACEHOLDER.decode(), namespace=device.cpe.namespace
        )
        device.replies[method] = template = serialize_envelope(envelope)
        return template

    # ---------------------------------------------------------------- phases

    async def learn_all(self, concurrency: int) -> float:
        """One bootstrap session per device (provisions it); seconds taken."""
        started = time.perf_counter()
        pending = deque(self.devices)

        async def worker() -> None:
            while pending:
                device = pending.popleft()
                await self.session(device, device.bootstrap_inform)
                device.cpe.inform_accepted(device.cpe.pending_events)
                device.cpe.end_session()  # BOOTSTRAP delivered: the next Inform is PERIODIC

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        now = datetime.now(UTC)
        for device in self.devices:
            device.cpe.queue_event(ev.PERIODIC)
            device.periodic_inform = serialize_envelope(device.cpe.build_inform(now))
        return time.perf_counter() - started

    async def worker(self) -> None:
        tally = self.tally
        expected = EXPECTED_RPCS[self.scenario]
        while not self.stopping:
            device = self.idle.popleft()
            inform = (
                device.periodic_inform if self.scenario == "periodic" else device.bootstrap_inform
            )
            started = time.perf_counter()
            try:
                rpcs = await self.session(device, inform)
            except (BenchProtocolError, OSError, asyncio.IncompleteReadError) as exc:
                if tally.measuring:
                    tally.errors[type(exc).__name__ + (f": {exc}" if str(exc) else "")] += 1
                continue
            finally:
                self.idle.append(device)
            if not tally.measuring:
                continue
            if rpcs != expected:
                tally.errors[f"{rpcs} RPCs instead of {expected}"] += 1
                continue
            tally.completed(rpcs, (time.perf_counter() - started) * 1000)


async def stop_workers(gen: LoadGenerator, workers: list[asyncio.Task[None]], limit: float) -> None:
    """Let each worker finish the session it is in, then return (cancelled past ``limit``
    seconds): a session cut mid-way holds one of the server's admission slots until its
    session timeout, which the phase after this one would find taken."""
    gen.stopping = True
    _, late = await asyncio.wait(workers, timeout=limit)
    for task in late:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    gen.stopping = False


async def run_lean(args: argparse.Namespace) -> dict[str, Any]:
    devices = build_devices(args.devices, args.seed)
    gen = LoadGenerator(args.host, args.port, args.scenario, devices)
    learn_seconds = await gen.learn_all(min(args.concurrency, len(devices)))
    workers = [
        asyncio.create_task(gen.worker()) for _ in range(min(args.concurrency, len(devices)))
    ]
    try:
        result = await measure(args, gen.tally)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    spv = [d.spv_params for d in devices if d.spv_params]
    result["learn_seconds"] = round(learn_seconds, 2)
    result["spv_parameters_mean"] = round(sum(spv) / len(spv), 1) if spv else 0
    return result


async def measure(args: argparse.Namespace, tally: Tally) -> dict[str, Any]:
    """Warm up, then count what completes within ``args.duration`` seconds.

    With ``args.min_sessions`` the window also lasts until that many sessions completed
    in it (a slow or loaded host then measures over a longer window, never an empty
    one); the rate is still sessions over the window's real length.
    """
    await asyncio.sleep(args.warmup)
    acs_cpu0 = process_cpu_seconds(args.server_pid) if args.server_pid else None
    gen0 = os.times()
    tally.wanted = getattr(args, "min_sessions", 0)
    if tally.sessions >= tally.wanted:
        tally.enough.set()
    tally.measuring = True
    t0 = time.perf_counter()
    await asyncio.sleep(args.duration)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.enough.wait(), WINDOW_LIMIT_S)
    elapsed = time.perf_counter() - t0
    tally.measuring = False
    sessions = tally.sessions
    gen1 = os.times()
    gen_cpu = (gen1.user - gen0.user) + (gen1.system - gen0.system)
    result: dict[str, Any] = {
        "sessions": sessions,
        "seconds": round(elapsed, 2),
        "sessions_per_s": round(sessions / elapsed, 1),
        "p50_ms": round(percentile(tally.latencies_ms, 0.50), 2),
        "p99_ms": round(percentile(tally.latencies_ms, 0.99), 2),
        "rpcs_per_session": round(tally.rpcs / sessions, 2) if sessions else 0.0,
        "errors": dict(tally.errors),
        "loadgen_cpu_us_per_session": round(gen_cpu * 1e6 / sessions) if sessions else None,
    }
    if acs_cpu0 is not None:
        cpu = process_cpu_seconds(args.server_pid) - acs_cpu0
        result["server_cpu_s"] = round(cpu, 2)
        result["server_cpu_share"] = round(cpu / elapsed, 2)
        result["server_cpu_us_per_session"] = round(cpu * 1e6 / sessions) if sessions else None
    return result


async def run_fleetrunner(args: argparse.Namespace) -> dict[str, Any]:
    """The simulator's `FleetRunner` in a tight periodic loop (for comparison only)."""
    from traceacs.simulator.runner import FleetRunner, RunnerConfig

    fleet = build_fleet(min(args.devices, args.concurrency), data_model="tr181", seed=args.seed)
    config = RunnerConfig(
        f"http://{args.host}:{args.port}/",
        duration=args.warmup + args.duration + 5,
        sessions_per_cpe=None,
        periodic_interval=1e-6,
        jitter=0.0,
        ramp_seconds=0.1,
        connection_requests=False,
    )
    runner = FleetRunner(fleet.cpes, config, seed=args.seed)
    loop = asyncio.get_running_loop()
    default_handler = loop.get_exception_handler()

    def quiet_cancel(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # FleetRunner leaves its gather() future unretrieved when stopped early.
        if isinstance(context.get("exception"), asyncio.CancelledError):
            return
        if default_handler is not None:
            default_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(quiet_cancel)
    task = asyncio.create_task(runner.run())
    tally = Tally()

    async def mirror() -> None:  # copy the runner's statistics into the tally
        seen = 0
        while True:
            await asyncio.sleep(0.05)
            stats = runner.stats
            new = stats.latencies_ms[seen:]
            seen += len(new)
            if tally.measuring:
                tally.sessions += len(new)
                tally.latencies_ms.extend(new)
                if tally.sessions >= tally.wanted:
                    tally.enough.set()

    copier = asyncio.create_task(mirror())
    try:
        result = await measure(args, tally)
    finally:
        copier.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    result["results"] = dict(runner.stats.results)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenario", choices=tuple(EXPECTED_RPCS), default="periodic")
    parser.add_argument("--engine", choices=("lean", "fleetrunner"), default="lean")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument(
        "--min-sessions", type=int, default=0, help="the window also lasts until N completed"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--server-pid", type=int, default=0, help="server to read CPU time of")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runner = run_lean if args.engine == "lean" else run_fleetrunner
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        result = asyncio.run(runner(args))
    else:
        result = uvloop.run(runner(args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
