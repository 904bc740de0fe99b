"""Boot storm (issue 8): 20,000 CPEs booting within 60 s against one ACS.

    python -m bench.bootstorm [--devices 20000] [--window 60] [--max-sessions 200]

Every CPE of the bench fleet (TR-181, un-provisioned: its first Inform is
``0 BOOTSTRAP, 1 BOOT``) wakes at a uniformly random instant of the window and runs a
real session with its `SimulatedCpe` answering the ACS's RPCs (SetParameterValues,
GetParameterValues), each session on a new TCP connection. A CPE refused with 503
waits the ``Retry-After`` the ACS gave (times ``--retry-after-scale``, jittered
+-50 %) and tries again; a connection error or timeout gets the CWMP retry back-off;
a CPE never gives up (the run ends with ``--give-up-after``, and any CPE still not
provisioned then is reported as lost).

The ACS (``traceacs serve --max-sessions N``, default telemetry to the OTLP sink) is
pinned to ``--server-core``, the storm to ``--client-core``. Figures: time to drain
(first wake-up to the last provisioned CPE), admitted sessions' latency (Inform to
the final 204) p50/p99/max, 503s answered, other errors, the storm process's CPU
share (to show the generator was not the limit), and from the store afterwards: the
devices by state and the attempts by result (every device ``provisioned``, exactly
one ``success`` each, i.e. none lost and none provisioned twice).

``per_second`` (one row per second of the run): both processes' CPU shares (the
ACS's from ``/proc/<pid>/stat``), sessions admitted, 503s and their mean
``Retry-After``, CPEs provisioned; ``retry_after_answered`` counts the 503s by the
``Retry-After`` they carried (an adaptive appointment, or the connection cap's fixed
30 s). ``--timeline PATH`` writes every admission and 503 with its time, to replay the
ACS's capacity estimate offline.

Appends to ``bench/results/bootstorm.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, RESULTS_DIR, percentile, process_cpu_seconds, publish
from bench.loadgen import BenchDevice, build_devices, read_answer
from bench.run import telemetry_env
from bench.servers import acs_server, attempt_results, floor_server, pinned, prepare_store

REQUEST_TIMEOUT = 60.0


@dataclass(slots=True)
class StormTally:
    admitted_ms: list[float] = field(default_factory=list)
    refused_503: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    done_at: list[float] = field(default_factory=list)
    in_session: int = 0
    max_in_session: int = 0
    admitted_at: list[float] = field(default_factory=list)
    refused_at: list[tuple[float, float]] = field(default_factory=list)
    """(when, Retry-After answered) of every 503."""


class StormError(Exception):
    pass


async def _post(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    body: bytes,
    cookie: bytes | None,
) -> tuple[int, bytes, bytes | None, float | None]:
    head = b'POST / HTTP/1.1\r\nHost: acs\r\nContent-Type: text/xml; charset="utf-8"\r\n'
    if cookie is not None:
        head += b"Cookie: " + cookie + b"\r\n"
    writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    status, payload, set_cookie, retry_after = await read_answer(reader)
    return status, payload, set_cookie, float(retry_after) if retry_after is not None else None


async def session(port: int, device: BenchDevice, tally: StormTally) -> float | None:
    """One session. None: provisioned; otherwise seconds to wait before the next try."""
    from traceacs.cwmp import messages as m
    from traceacs.cwmp.codec import parse_envelope, serialize_envelope

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    admitted = False
    try:
        status, body, cookie, retry_after = await _post(
            reader, writer, device.bootstrap_inform, None
        )
        if status == 503:
            tally.refused_503 += 1
            tally.refused_at.append((time.monotonic(), retry_after or 0.0))
            return retry_after if retry_after is not None else 30.0
        if status != 200 or b"InformResponse" not in body:
            raise StormError(f"Inform answered {status}")
        admitted = True
        tally.admitted_at.append(time.monotonic())
        tally.in_session += 1
        tally.max_in_session = max(tally.max_in_session, tally.in_session)
        status, body, _, _ = await _post(reader, writer, b"", cookie)
        cpe = device.cpe
        while status == 200 and body:
            envelope = parse_envelope(body)
            answer = cpe.handle(envelope.body, datetime.now(UTC))
            reply = m.Envelope(body=answer, cwmp_id=envelope.cwmp_id, namespace=cpe.namespace)
            status, body, _, _ = await _post(reader, writer, serialize_envelope(reply), cookie)
        if status != 204:
            raise StormError(f"session ended with HTTP {status}")
        tally.admitted_ms.append((time.perf_counter() - started) * 1000)
        return None
    finally:
        if admitted:
            tally.in_session -= 1
        writer.close()


async def device_loop(
    port: int,
    device: BenchDevice,
    wake_at: float,
    tally: StormTally,
    rng: random.Random,
    retry_scale: float,
) -> None:
    await asyncio.sleep(max(0.0, wake_at - time.monotonic()))
    failures = 0
    while True:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                wait = await session(port, device, tally)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, StormError, ValueError) as exc:
            tally.errors[type(exc).__name__] += 1
            failures += 1
            # CWMP session retry back-off (TR-069 3.2.1.1), first step 5-10 s.
            base = 5.0 * 2 ** min(failures - 1, 6)
            wait = rng.uniform(base, 2 * base)
        else:
            if wait is None:
                tally.done_at.append(time.monotonic())
                return
            wait *= retry_scale * rng.uniform(0.5, 1.5)
        await asyncio.sleep(wait)


async def sample_cpu(server_pid: int, samples: list[tuple[float, float, float]]) -> None:
    """Every second: (monotonic, the ACS's CPU seconds, this process's CPU seconds)."""
    while True:
        own = os.times()
        samples.append((time.monotonic(), process_cpu_seconds(server_pid), own.user + own.system))
        await asyncio.sleep(1.0)


def per_second(
    tally: StormTally, samples: list[tuple[float, float, float]], start: float
) -> list[dict[str, float]]:
    """Per-second figures from ``start``: CPU shares of both processes, sessions admitted,
    503s and their mean Retry-After, provisioned, so a slow burst can be pinned on the
    ACS or on the generator."""
    rows: list[dict[str, float]] = []
    for (t0, acs0, own0), (t1, acs1, own1) in itertools.pairwise(samples):
        refused = [ra for at, ra in tally.refused_at if t0 <= at < t1]
        rows.append(
            {
                "t": round(t0 - start, 1),
                "acs_cpu": round((acs1 - acs0) / (t1 - t0), 2),
                "storm_cpu": round((own1 - own0) / (t1 - t0), 2),
                "admitted": sum(1 for at in tally.admitted_at if t0 <= at < t1),
                "refused": len(refused),
                "mean_retry_after": round(sum(refused) / len(refused), 1) if refused else 0.0,
                "provisioned": sum(1 for at in tally.done_at if t0 <= at < t1),
            }
        )
    return rows


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    devices = build_devices(args.devices, args.seed)
    rng = random.Random(args.seed)
    tally = StormTally()
    start = time.monotonic() + 1.0
    wakes = sorted(start + rng.uniform(0, args.window) for _ in devices)
    rng.shuffle(devices)
    cpu0 = os.times()
    acs0 = process_cpu_seconds(args.server_pid)
    samples: list[tuple[float, float, float]] = []
    sampler = asyncio.create_task(sample_cpu(args.server_pid, samples))
    tasks = [
        asyncio.create_task(device_loop(args.port, d, w, tally, rng, args.retry_after_scale))
        for d, w in zip(devices, wakes, strict=True)
    ]
    _done, pending = await asyncio.wait(tasks, timeout=args.give_up_after)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    sampler.cancel()
    await asyncio.gather(sampler, return_exceptions=True)
    finished = time.monotonic()
    cpu1 = os.times()
    acs1 = process_cpu_seconds(args.server_pid)
    provisioned = len(tally.done_at)
    last = max(tally.done_at) if tally.done_at else finished
    storm_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    figures: dict[str, Any] = {
        "devices": len(devices),
        "provisioned_by_client": provisioned,
        "not_provisioned_at_give_up": len(devices) - provisioned,
        "drain_seconds": round(last - wakes[0], 1),
        "arrival_window_s": args.window,
        "admitted_sessions": len(tally.admitted_ms),
        "admitted_p50_ms": round(percentile(tally.admitted_ms, 0.5), 1),
        "admitted_p99_ms": round(percentile(tally.admitted_ms, 0.99), 1),
        "admitted_max_ms": round(max(tally.admitted_ms, default=0.0), 1),
        "refused_503": tally.refused_503,
        "errors": dict(tally.errors),
        "max_sessions_in_flight_seen": tally.max_in_session,
        "storm_cpu_share": round(storm_cpu / max(finished - start, 1e-9), 2),
        "acs_cpu_share": round((acs1 - acs0) / max(finished - start, 1e-9), 2),
        "acs_cpu_us_per_device": round((acs1 - acs0) / max(provisioned, 1) * 1e6),
        "provisioned_per_s": round(provisioned / max(last - wakes[0], 1e-9), 1),
        "per_second": per_second(tally, samples, wakes[0]),
        "retry_after_answered": dict(
            sorted(Counter(int(ra) for _, ra in tally.refused_at).items())
        ),
    }
    if args.timeline:
        args.timeline.write_text(
            json.dumps({"admitted": tally.admitted_at, "refused": tally.refused_at})
        )
    return figures


def device_states(data_dir: Path) -> dict[str, int]:
    from traceacs.config import DATABASE_FILE

    with contextlib.closing(sqlite3.connect(data_dir / DATABASE_FILE)) as db:
        rows = db.execute("SELECT state, COUNT(*) FROM devices GROUP BY 1").fetchall()
        twice = db.execute(
            "SELECT COUNT(*) FROM (SELECT device_id FROM attempts WHERE result = 'success'"
            " GROUP BY device_id HAVING COUNT(*) > 1)"
        ).fetchone()[0]
    states = {str(state): int(count) for state, count in rows}
    states["devices_with_more_than_one_success"] = int(twice)
    return states


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="traceacs-bootstorm-") as tmp:
        data_dir = Path(tmp)
        prepare_store(data_dir, args.devices, args.seed)
        with floor_server("sink", args.client_core) as sink:
            env = telemetry_env("default", sink.port)
            env["TRACEACS_MAX_SESSIONS"] = str(args.max_sessions)
            with acs_server(data_dir, env, args.server_core) as server:
                argv = [sys.executable, "-m", "bench.bootstorm", "--drive"]
                argv += ["--port", str(server.port), "--server-pid", str(server.pid)]
                argv += ["--devices", str(args.devices), "--window", str(args.window)]
                argv += ["--seed", str(args.seed), "--give-up-after", str(args.give_up_after)]
                argv += ["--retry-after-scale", str(args.retry_after_scale)]
                if args.timeline:
                    argv += ["--timeline", str(args.timeline)]
                out = subprocess.run(
                    pinned(args.client_core, argv),
                    capture_output=True,
                    check=False,
                    cwd=REPO_ROOT,
                )
                if out.returncode != 0:
                    raise RuntimeError(f"storm failed:\n{out.stderr.decode()[-3000:]}")
                storm: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
        storm["attempts_by_result"] = attempt_results(data_dir)
        storm["devices_by_state"] = device_states(data_dir)
    states = storm["devices_by_state"]
    storm["lost"] = args.devices - states.get("provisioned", 0)
    storm["zero_lost"] = (
        storm["lost"] == 0
        and storm["attempts_by_result"].get("success", 0) == args.devices
        and states["devices_with_more_than_one_success"] == 0
    )
    return storm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bootstorm", description=__doc__)
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds all CPEs wake in")
    parser.add_argument("--max-sessions", type=int, default=200, help="the ACS's session cap")
    parser.add_argument("--retry-after-scale", type=float, default=1.0)
    parser.add_argument("--give-up-after", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument(
        "--timeline", type=Path, default=None, help="write every admission and 503 (JSON) here"
    )
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        print(json.dumps(asyncio.run(drive(args))))
        return 0
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    figures = orchestrate(args)
    parameters = {
        "devices": args.devices,
        "window_s": args.window,
        "max_sessions": args.max_sessions,
        "retry_after_scale": args.retry_after_scale,
        "give_up_after_s": args.give_up_after,
        "telemetry": "default (OTLP to the sink)",
        "store": "sqlite",
        "loadavg_start": load_at_start,
    }
    result = publish("bootstorm", parameters, figures, args)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
