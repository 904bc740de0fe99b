"""CPU cost of the telemetry adapter per CWMP session, measured in process.

``python -m bench.run telemetry`` measures what telemetry costs a whole ACS; this one
isolates the part the telemetry package owns: the port's calls for one session
(`session_started`, `inform_received`, `rpc_finished` per RPC, `session_finished`)
on telemetry built as ``traceacs serve`` builds it, with the span processors' threads
(OTLP/HTTP protobuf encoding and sending to a local sink, the embedded trace store's
SQLite writer) flushed at the end of each measurement, so their CPU counts too.

The sessions are recorded once, at start, from the real provisioning workflow driven
sans-IO by a simulated TR-181 CPE (no HTTP): a bootstrap session (Inform, SPV of the
internet-voip plan, GPV verify) and a quiet periodic one. Each measured session gets a
fresh random trace id, so the quiet-session sampler decides as it would on real traffic.

Modes, interleaved round by round: ``off`` (``OTEL_SDK_DISABLED``: the no-op port),
``default`` (OTLP to the sink, 10 % of quiet periodic sessions), ``full`` (every
session traced), ``store`` (no Collector: the embedded trace store on a temp SQLite,
10 %). Prints one JSON result; appends it to ``bench/results/telemetry_cost.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, record, stamp
from bench.servers import floor_server
from traceacs.cwmp import messages as m
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.provisioning.session_trace import SessionTrace
from traceacs.provisioning.telemetry_port import ProvisioningOutcome, ProvisioningTelemetry
from traceacs.provisioning.workflow import ProvisioningHandlerFactory
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.fleet import build_fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.storage import open_repository
from traceacs.telemetry.setup import Telemetry, build_telemetry
from traceacs.telemetry.trace_store import trace_processors_from_env

MODES = ("off", "default", "full", "store")
SEQUENCES = ("bootstrap", "periodic")
FLUSH_EVERY = 100
"""Sessions between flushes: a server's export thread keeps pace with its sessions;
a loop without pauses would outrun it and fill the batch queue."""
PLAN = "internet-voip"  # the bench fleet's largest SPV (the floor's bootstrap too)


# -- recording the sessions ---------------------------------------------------------------


@dataclass
class RecordedSession:
    """What the workflow told the port during one session, in order."""

    event_codes: tuple[str, ...] = ()
    rpcs: list[tuple[str, float, int | None]] = field(default_factory=list)
    trace: SessionTrace | None = None
    outcome: ProvisioningOutcome | None = None


class _RecordingPort:
    def __init__(self) -> None:
        self.sessions: list[RecordedSession] = []

    def session_started(self) -> None:
        self.sessions.append(RecordedSession())

    def session_released(self) -> None:
        return None

    def session_finished(self, trace: SessionTrace, outcome: ProvisioningOutcome | None) -> None:
        self.sessions[-1].trace, self.sessions[-1].outcome = trace, outcome

    def rpc_finished(self, method: str, duration_s: float, fault_code: int | None) -> None:
        self.sessions[-1].rpcs.append((method, duration_s, fault_code))

    def inform_received(self, event_codes: Sequence[str]) -> None:
        self.sessions[-1].event_codes = tuple(event_codes)

    def task_finished(self, name: str, result: str, duration_ms: float | None) -> None:
        return None


async def _drive(factory: ProvisioningHandlerFactory, cpe: SimulatedCpe, sid: str) -> None:
    """One CWMP session, CPE and handler talking directly (what the endpoint relays)."""
    now = time.time()
    envelope = cpe.build_inform(datetime.now(UTC))
    assert isinstance(envelope.body, m.Inform)
    handler = factory.new_session(sid)
    answer = await handler.on_inform(envelope.body, now)
    assert isinstance(answer, m.InformResponse), answer
    cpe.inform_accepted(envelope.body.events)
    request = await handler.next_acs_request(time.time())
    while request is not None:
        await handler.on_cpe_response(cpe.handle(request, datetime.now(UTC)), time.time())
        request = await handler.next_acs_request(time.time())
    await handler.on_session_end("completed", time.time())
    cpe.end_session()


async def _record(directory: Path) -> dict[str, RecordedSession]:
    fleet = build_fleet(6, data_model="tr181", seed=8)
    index = next(i for i, r in enumerate(fleet.inventory) if r.service_plan == PLAN)
    repo = await open_repository(f"sqlite:///{directory / 'record.db'}")
    try:
        await store_fleet(repo, fleet, time.time())
        port = _RecordingPort()
        factory = ProvisioningHandlerFactory(
            repo, EmbeddedProfileSource(repo), port, clock=time.perf_counter
        )
        cpe = fleet.cpes[index]
        await _drive(factory, cpe, "bootstrap")
        cpe.queue_event("2 PERIODIC")
        await _drive(factory, cpe, "periodic")
    finally:
        await repo.close()
    bootstrap, periodic = port.sessions
    if bootstrap.outcome is None or bootstrap.outcome.result != "success":
        raise RuntimeError(f"the bootstrap session did not provision: {bootstrap}")
    if periodic.outcome is not None or periodic.trace is None or periodic.trace.changed_something:
        raise RuntimeError(f"the periodic session was not quiet: {periodic}")
    return {"bootstrap": bootstrap, "periodic": periodic}


def recorded_sessions() -> dict[str, RecordedSession]:
    """The bootstrap and the quiet periodic session of a TR-181 CPE, as recorded."""
    with tempfile.TemporaryDirectory(prefix="telemetry-cost-") as directory:
        return asyncio.run(_record(Path(directory)))


def with_fresh_ids(session: RecordedSession, rng: random.Random) -> RecordedSession:
    """The same session under a new random trace id (what the next CPE would record)."""
    assert session.trace is not None
    trace = copy.deepcopy(session.trace)
    trace.trace_id = f"{rng.getrandbits(128):032x}"
    return replace(session, trace=trace)


def replay(port: ProvisioningTelemetry, session: RecordedSession) -> None:
    """The port's calls of one session, as the workflow makes them."""
    assert session.trace is not None
    port.session_started()
    port.inform_received(session.event_codes)
    for method, duration_s, fault_code in session.rpcs:
        port.rpc_finished(method, duration_s, fault_code)
    port.session_finished(session.trace, session.outcome)


# -- the telemetry of each mode -----------------------------------------------------------


def build_mode(mode: str, sink_port: int, directory: Path) -> Telemetry:
    """Telemetry as ``traceacs serve`` builds it from the mode's environment."""
    env: dict[str, str]
    if mode == "off":
        env = {"OTEL_SDK_DISABLED": "true"}
    elif mode == "store":
        env = {}
    else:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        }
    database_url = f"sqlite:///{directory / f'{mode}.db'}"
    if mode == "store":
        asyncio.run(_create_store(database_url))
    return build_telemetry(
        env,
        capacity=lambda: 1000,
        quiet_periodic_ratio=1.0 if mode == "full" else 0.1,
        span_processors=trace_processors_from_env(database_url, env),
    )


async def _create_store(database_url: str) -> None:
    repo = await open_repository(database_url)  # migrations: the traces table
    await repo.close()


# -- measuring ----------------------------------------------------------------------------


def measure(telemetry: Telemetry, sessions: Sequence[RecordedSession], rng: random.Random) -> float:
    """CPU-µs per session (all threads), export threads flushed before the clock stops.

    Every measurement exports new trace ids (the store would skip ids it already has).
    """
    for session in sessions:
        assert session.trace is not None
        session.trace.trace_id = f"{rng.getrandbits(128):032x}"
    port = telemetry.provisioning
    flush = telemetry.tracer_provider.force_flush
    started = time.process_time()
    for index, session in enumerate(sessions, 1):
        replay(port, session)
        if index % FLUSH_EVERY == 0:
            flush(60_000)  # the batch queue (2,048 spans) would otherwise drop spans
    flush(60_000)
    return (time.process_time() - started) / len(sessions) * 1e6


def run(rounds: int, sessions_per_round: int, seed: int) -> dict[str, Any]:
    recorded = recorded_sessions()
    rng = random.Random(seed)
    variants = {
        sequence: [with_fresh_ids(recorded[sequence], rng) for _ in range(sessions_per_round)]
        for sequence in SEQUENCES
    }
    samples: dict[str, dict[str, list[float]]] = {s: {m: [] for m in MODES} for s in SEQUENCES}
    with (
        floor_server("sink", None) as sink,
        tempfile.TemporaryDirectory(prefix="telemetry-cost-") as directory,
    ):
        telemetries = {mode: build_mode(mode, sink.port, Path(directory)) for mode in MODES}
        try:
            for sequence in SEQUENCES:  # warm-up: imports, caches, connections
                for mode in MODES:
                    measure(telemetries[mode], variants[sequence][:50], rng)
            for round_index in range(rounds):
                order = MODES if round_index % 2 == 0 else tuple(reversed(MODES))
                for sequence in SEQUENCES:
                    for mode in order:
                        samples[sequence][mode].append(
                            measure(telemetries[mode], variants[sequence], rng)
                        )
        finally:
            for telemetry in telemetries.values():
                telemetry.shutdown()
    return figures(samples, recorded)


def figures(
    samples: dict[str, dict[str, list[float]]], recorded: dict[str, RecordedSession]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sequence, by_mode in samples.items():
        median: Callable[[list[float]], float] = statistics.median
        cpu = {mode: round(median(values), 1) for mode, values in by_mode.items()}
        trace = recorded[sequence].trace
        out[sequence] = {
            "spans": len(trace.spans) if trace else 0,
            "rpcs": len(recorded[sequence].rpcs),
            "cpu_us_per_session": cpu,
            "cpu_us_samples": {mode: [round(v, 1) for v in vs] for mode, vs in by_mode.items()},
            "telemetry_us": {m: round(cpu[m] - cpu["off"], 1) for m in MODES if m != "off"},
        }
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=1000, help="sessions per measurement")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    result = stamp(
        "telemetry_cost",
        {"rounds": args.rounds, "sessions": args.sessions, "seed": args.seed},
        run(args.rounds, args.sessions, args.seed),
    )
    print(json.dumps(result, indent=2))
    if not args.no_record:
        record(result, args.results_dir)


if __name__ == "__main__":
    main()
