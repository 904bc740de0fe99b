"""What a CWMP session costs the ACS besides HTTP, measured in one process.

``python -m bench.session_core`` builds the ACS as ``traceacs serve`` does (`open_acs`
on a fresh SQLite store in a temporary data directory, the bench fleet's inventory and
profiles imported, telemetry off: ``OTEL_SDK_DISABLED=true``) with the logging
configuration of ``traceacs serve`` writing into a file, and drives the session
handler factory through exactly the calls the CWMP endpoint makes
(``new_session``, ``on_inform``, ``next_acs_request``, ``on_cpe_response``,
``on_session_end``), every message parsed from bytes and every answer serialized to
bytes by the codec, and the endpoint's one INFO line per session logged at the end.
``--concurrency`` sessions are in flight at once (64, as in ``bench.run``), so the
database thread batches work of several sessions as it does in the server.

Two sequences:

- ``periodic``: pre-provisioned devices, Inform "2 PERIODIC", empty POST, end.
- ``bootstrap``: Inform "0 BOOTSTRAP", SetParameterValues and GetParameterValues
  answered with the real `SimulatedCpe`'s replies (learnt once per device, as
  `bench.loadgen` does, so the CPE's own work is not counted), end. Every bootstrap
  is provisioned in full (push and verify), as in ``bench.run bootstrap``.

The figure is process CPU time (``time.process_time``: all threads, the SQLite thread
included) per session. The baseline, measured in the same run in interleaved rounds
(codec, ACS, codec, ACS, ...), is the codec alone on the same messages: parse every
CPE message, serialize every ACS answer. ``handler_us`` is the difference: what the
handler chain, the store and the log line cost per session.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bench.common import REPO_ROOT, RESULTS_DIR, record, stamp
from bench.servers import attempt_results, floor_server, prepare_database
from traceacs.cwmp import events as ev
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.provisioning.session_handler import SessionEndReason, SessionHandlerFactory
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.fleet import build_fleet

SCENARIO = "session_core"
SEQUENCES = ("periodic", "bootstrap")
EXPECTED_RPCS = {"periodic": 0, "bootstrap": 2}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
endpoint_log = logging.getLogger("traceacs.server.cwmp")
"""The CWMP endpoint's logger: the session line goes through the same logger name."""


@dataclass(slots=True)
class Device:
    cpe: SimulatedCpe
    informs: dict[str, bytes] = field(default_factory=dict)
    """sequence -> the CPE's serialized Inform."""
    replies: dict[type[m.Message], bytes] = field(default_factory=dict)
    """ACS RPC type -> the CPE's serialized answer (learnt once, as `bench.loadgen`)."""
    exchanges: list[tuple[m.Message, bytes]] = field(default_factory=list)
    """The RPCs of the learning bootstrap and their answers (for the codec baseline)."""
    key: str = ""


def loggable(text: str, limit: int = 130) -> str:
    """The endpoint's `loggable` (a copy: the bench must not depend on server code)."""
    cut = text[:limit]
    if cut.isprintable():
        return cut
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)


def configure_logging(stream: TextIO) -> Callable[[], None]:
    """The logging of ``traceacs serve`` into ``stream``; returns what undoes it.

    Uses `traceacs.logs.configure_serve_logging` when the tree has it, else the
    ``logging.basicConfig`` call ``traceacs serve`` made before it existed.
    """
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        from traceacs.logs import configure_serve_logging  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=stream, force=True)
    else:
        configure_serve_logging(stream)

    def undo() -> None:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in before[0]:
            root.addHandler(handler)
        root.setLevel(before[1])

    return undo


class Driver:
    """Plays the endpoint's part for whole sessions, without HTTP."""

    def __init__(self, factory: SessionHandlerFactory, devices: list[Device]) -> None:
        self.factory = factory
        self.devices = devices
        self.errors: dict[str, int] = {}

    async def session(self, device: Device, sequence: str) -> int:
        """One session of ``device``; the number of ACS RPCs the CPE answered."""
        started = now = time.time()
        envelope = parse_envelope(device.informs[sequence])
        inform = envelope.body
        assert isinstance(inform, m.Inform)
        namespace = envelope.namespace
        session_id = secrets.token_hex(8)
        handler = self.factory.new_session(session_id)
        answer = await handler.on_inform(inform, now)
        serialize_envelope(m.Envelope(body=answer, cwmp_id=envelope.cwmp_id, namespace=namespace))
        if isinstance(answer, m.CwmpFault):
            raise RuntimeError(f"inform refused: {answer.fault_code}")
        rpcs = 0
        fault = False
        now = time.time()
        rpc = await handler.next_acs_request(now)  # the empty POST
        while rpc is not None:
            rpcs += 1
            serialize_envelope(m.Envelope(body=rpc, cwmp_id=str(rpcs), namespace=namespace))
            reply = device.replies.get(type(rpc))
            if reply is None:
                reply = self.learn(device, rpc)
            message = parse_envelope(reply).body
            fault = isinstance(message, m.CwmpFault)
            now = time.time()
            await handler.on_cpe_response(message, now)
            rpc = await handler.next_acs_request(now)
        reason: SessionEndReason = "cpe_fault" if fault else "completed"
        await handler.on_session_end(reason, now)
        endpoint_log.info(
            "cwmp session %s device=%s events=%s result=%s duration_ms=%.0f "
            "cpe_requests=%d acs_rpcs=%d",
            session_id,
            loggable(device.key),
            loggable(",".join(inform.event_codes)) or "-",
            reason,
            max(0.0, now - started) * 1000,
            0,
            rpcs,
        )
        return rpcs

    def learn(self, device: Device, rpc: m.Message) -> bytes:
        answer = device.cpe.handle(rpc, datetime.now(UTC))
        reply = serialize_envelope(
            m.Envelope(body=answer, cwmp_id="1", namespace=device.cpe.namespace)
        )
        device.replies[type(rpc)] = reply
        device.exchanges.append((rpc, reply))
        return reply

    async def run(self, sequence: str, sessions: int, concurrency: int) -> int:
        """``sessions`` sessions, ``concurrency`` at once; the RPCs answered."""
        idle = deque(self.devices)
        left = sessions
        total = 0
        expected = EXPECTED_RPCS[sequence]

        async def worker() -> None:
            nonlocal left, total
            while left > 0:
                left -= 1
                device = idle.popleft()
                try:
                    rpcs = await self.session(device, sequence)
                finally:
                    idle.append(device)
                if rpcs != expected:
                    key = f"{sequence}: {rpcs} RPCs instead of {expected}"
                    self.errors[key] = self.errors.get(key, 0) + 1
                total += rpcs

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total


def codec_baseline(devices: list[Device], sequence: str, sessions: int) -> None:
    """The codec's share of ``sessions`` sessions: the same Informs and CPE answers
    parsed, the same InformResponse and RPCs serialized, without any handler."""
    inform_response = m.InformResponse()
    with_rpcs = EXPECTED_RPCS[sequence] > 0
    count = len(devices)
    for i in range(sessions):
        device = devices[i % count]
        envelope = parse_envelope(device.informs[sequence])
        namespace = envelope.namespace
        serialize_envelope(
            m.Envelope(body=inform_response, cwmp_id=envelope.cwmp_id, namespace=namespace)
        )
        if with_rpcs:
            for n, (rpc, reply) in enumerate(device.exchanges, start=1):
                serialize_envelope(m.Envelope(body=rpc, cwmp_id=str(n), namespace=namespace))
                parse_envelope(reply)


async def learn_all(driver: Driver, concurrency: int) -> None:
    """One bootstrap per device: learns the CPE's answers and provisions every device;
    then each CPE's next Inform is "2 PERIODIC" (as in `bench.loadgen`)."""
    await driver.run("bootstrap", len(driver.devices), concurrency)
    now = datetime.now(UTC)
    for device in driver.devices:
        cpe = device.cpe
        cpe.inform_accepted(cpe.pending_events)
        cpe.end_session()
        cpe.queue_event(ev.PERIODIC)
        device.informs["periodic"] = serialize_envelope(cpe.build_inform(now))


def build_devices(count: int, seed: int) -> list[Device]:
    fleet = build_fleet(count, data_model="tr181", seed=seed)
    now = datetime.now(UTC)
    devices = []
    for cpe in fleet.cpes:
        device = Device(cpe, key=f"{cpe.identity.oui}-{cpe.identity.serial_number}")
        device.informs["bootstrap"] = serialize_envelope(cpe.build_inform(now))
        devices.append(device)
    return devices


@contextlib.asynccontextmanager
async def open_core(
    data_dir: Path, telemetry: str = "off", sink_core: int | None = None
) -> AsyncIterator[SessionHandlerFactory]:
    """The ACS's session handler factory, built as ``traceacs serve`` builds it.

    ``telemetry``: ``off`` (``OTEL_SDK_DISABLED=true``) or ``default`` (OTLP/HTTP to the
    bench's sink, a child process, as in ``bench.run telemetry``)."""
    from bench.run import telemetry_env
    from traceacs.assembly import open_acs
    from traceacs.config import Settings

    settings = Settings(data_dir=data_dir)
    with contextlib.ExitStack() as stack:
        sink_port = None
        if telemetry != "off":
            sink_port = stack.enter_context(floor_server("sink", sink_core)).port
        environ = telemetry_env(telemetry, sink_port)
        async with open_acs(settings, environ=environ, sweep_interval=None) as acs:
            yield acs.factory


def cpu_us_per_session(seconds: float, sessions: int) -> float:
    return round(seconds / sessions * 1e6, 1)


SequenceMeasure = Callable[[Driver, str, argparse.Namespace], Awaitable[dict[str, Any]]]
"""What is measured of one sequence once the devices have learnt their answers."""


async def measure(
    args: argparse.Namespace, data_dir: Path, per_sequence: SequenceMeasure | None = None
) -> dict[str, Any]:
    """The ACS built in ``data_dir``, every device bootstrapped once, then
    ``per_sequence`` (default `measure_sequence`) of each of ``args.sequences``."""
    from traceacs.config import default_database_url

    if per_sequence is None:
        per_sequence = measure_sequence

    await prepare_database(default_database_url(data_dir), args.devices, args.seed)
    devices = build_devices(args.devices, args.seed)
    log_path = data_dir / "acs.log"
    figures: dict[str, Any] = {}
    with log_path.open("a", encoding="utf-8") as log_file:
        undo = configure_logging(log_file)
        try:
            sink_core = None if args.pin is None else 1 - args.pin
            async with open_core(data_dir, args.telemetry, sink_core) as factory:
                driver = Driver(factory, devices)
                await learn_all(driver, args.concurrency)
                driver.errors.clear()
                for sequence in args.sequences:
                    figures[sequence] = await per_sequence(driver, sequence, args)
                errors = dict(driver.errors)
        finally:
            undo()
    with log_path.open(encoding="utf-8") as log_lines:
        lines = sum(1 for line in log_lines if " cwmp session " in line)
    figures["session_log_lines"] = lines
    figures["errors"] = errors
    figures["attempts_by_result"] = attempt_results(data_dir)
    return figures


async def measure_sequence(
    driver: Driver, sequence: str, args: argparse.Namespace
) -> dict[str, Any]:
    sessions = args.sessions
    await driver.run(sequence, min(sessions, len(driver.devices)), args.concurrency)  # warm-up
    codec: list[float] = []
    acs: list[float] = []
    for _ in range(args.rounds):
        gc.collect()
        started = time.process_time()
        codec_baseline(driver.devices, sequence, sessions)
        codec.append(cpu_us_per_session(time.process_time() - started, sessions))
        gc.collect()
        started = time.process_time()
        await driver.run(sequence, sessions, args.concurrency)
        acs.append(cpu_us_per_session(time.process_time() - started, sessions))
    codec_us = statistics.median(codec)
    acs_us = statistics.median(acs)
    return {
        "sessions_per_round": sessions,
        "acs_cpu_us_per_session": acs_us,
        "codec_cpu_us_per_session": codec_us,
        "handler_cpu_us_per_session": round(acs_us - codec_us, 1),
        "acs_over_codec": round(acs_us / codec_us, 2),
        "sessions_per_cpu_second": round(1e6 / acs_us),
        "rounds_acs_us": acs,
        "rounds_codec_us": codec,
    }


def child_env(tree: Path) -> dict[str, str]:
    """The environment of a child process running the ACS code in ``tree``: this
    process's, without the ACS's own settings (``OTEL_*``, ``TRACEACS_*``), and
    ``tree`` first on the import path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEACS_"))}
    env["PYTHONPATH"] = str(tree)
    return env


def revision_tree(revision: str, into: Path) -> str:
    """``revision``'s tree extracted under ``into`` (``git archive``), with this tree's
    ``bench/`` in place of the revision's, so that this harness drives that revision's
    ACS; returns the revision's short hash."""
    from bench.ab import extract

    short = extract(revision, into)
    shutil.rmtree(into / "bench", ignore_errors=True)
    shutil.copytree(REPO_ROOT / "bench", into / "bench", ignore=_no_results)
    return short


def child_run(tree: Path, args: argparse.Namespace, telemetry: str) -> dict[str, Any]:
    """One round of both sequences by the ACS code in ``tree`` (a child process)."""
    argv = [sys.executable, "-m", "bench.session_core", "--no-record", "--rounds", "1"]
    argv += ["--sequences", *args.sequences, "--devices", str(args.devices)]
    argv += ["--sessions", str(args.sessions), "--concurrency", str(args.concurrency)]
    argv += ["--seed", str(args.seed), "--telemetry", telemetry]
    if args.pin is not None:
        argv += ["--pin", str(args.pin)]
    out = subprocess.run(
        argv, cwd=tree, env=child_env(tree), capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def run_ab(args: argparse.Namespace) -> dict[str, Any]:
    """``--base REV``: the base revision's ACS and this tree's, alternately (base, new,
    base, new, ...), each round in a fresh process with its own codec baseline."""
    sides: dict[str, list[dict[str, Any]]] = {"base": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="traceacs-session-core-ab-") as tmp:
        base_tree = Path(tmp)
        base = revision_tree(args.base, base_tree)
        for _ in range(args.rounds):
            sides["base"].append(child_run(base_tree, args, args.base_telemetry))
            sides["new"].append(child_run(REPO_ROOT, args, args.telemetry))
    figures: dict[str, Any] = {"base": base}
    for sequence in args.sequences:
        per: dict[str, Any] = {}
        for side, runs in sides.items():
            acs = [r[sequence]["acs_cpu_us_per_session"] for r in runs]
            codec = [r[sequence]["codec_cpu_us_per_session"] for r in runs]
            per[side] = {
                "rounds_acs_us": acs,
                "rounds_codec_us": codec,
                "acs_cpu_us_per_session": statistics.median(acs),
                "handler_cpu_us_per_session": statistics.median(
                    a - c for a, c in zip(acs, codec, strict=True)
                ),
                "acs_over_codec": statistics.median(a / c for a, c in zip(acs, codec, strict=True)),
            }
        b, n = per["base"], per["new"]
        per["cpu_ratio_base_over_new"] = round(
            b["acs_cpu_us_per_session"] / n["acs_cpu_us_per_session"], 3
        )
        per["handler_ratio_base_over_new"] = round(
            b["handler_cpu_us_per_session"] / n["handler_cpu_us_per_session"], 3
        )
        per["codec_normalised_ratio"] = round(b["acs_over_codec"] / n["acs_over_codec"], 3)
        figures[sequence] = per
    figures["errors"] = {side: [r["errors"] for r in runs] for side, runs in sides.items()}
    return stamp(SCENARIO + "_ab", _parameters(args), figures)


def _no_results(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in ("results", "__pycache__")]


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if k not in ("results_dir", "no_record")}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.session_core", description=__doc__)
    parser.add_argument("--sequences", nargs="+", choices=SEQUENCES, default=list(SEQUENCES))
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=2000, help="sessions per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--note", default="", help="what this run measures (recorded)")
    parser.add_argument(
        "--telemetry",
        choices=("off", "default"),
        default="off",
        help="off (OTEL_SDK_DISABLED) or default (OTLP/HTTP to a sink process)",
    )
    parser.add_argument(
        "--pin",
        type=int,
        choices=(0, 1),
        default=None,
        help="run the ACS on this core only (as bench.run pins the server); the sink on the other",
    )
    parser.add_argument(
        "--base-telemetry",
        choices=("off", "default"),
        default=None,
        help="with --base: the base side's telemetry (default: --telemetry)",
    )
    parser.add_argument(
        "--base",
        default=None,
        metavar="REV",
        help="A/B: REV's ACS against this tree's, alternately, --rounds processes each",
    )
    args = parser.parse_args(argv)
    if args.base_telemetry is None:
        args.base_telemetry = args.telemetry
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
    with tempfile.TemporaryDirectory(prefix="traceacs-session-core-") as tmp:
        try:
            import uvloop
        except ImportError:  # pragma: no cover
            figures = asyncio.run(measure(args, Path(tmp)))
        else:
            figures = uvloop.run(measure(args, Path(tmp)))
    parameters = {k: v for k, v in vars(args).items() if k not in ("results_dir", "no_record")}
    return stamp(SCENARIO, parameters, figures)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run_ab(args) if args.base else run(args)
    if not args.no_record:
        record(result, args.results_dir or RESULTS_DIR)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
