"""Open-loop overload generator: sessions arrive at a fixed rate whatever the ACS does.

A closed-loop generator (`bench.loadgen`) slows down with the server, so it can never
overload it. Here arrivals are scheduled at ``factor`` times the capacity measured a
moment earlier on the same ACS (closed loop, ``--capacity-seconds``), for
``--duration`` seconds. Each arrival is one periodic CWMP session on a new connection.
What it records, per window of ``--window`` seconds:

* ``arrivals``, ``completed`` (Inform -> empty POST -> 204), ``rejected_503`` (and
  how many of those lacked ``Retry-After``), ``reset`` (connection closed on us),
  ``timeout``, ``fault_8005`` (device still in its previous session), ``other`` (any
  other answer), ``skipped`` (no idle device: the generator, not the ACS, was the
  limit);
* p50/p99 latency of the *admitted* (completed) sessions;
* the ACS's resident set size (``VmRSS`` of ``--server-pid``), sampled every second.

After the overload: arrivals stop, in-flight sessions drain (bounded wait), and
``--probe`` sequential sessions must complete: the ACS recovered. Runs as its own
process (pinned by `bench.overload`) and prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import percentile
from bench.loadgen import (
    BenchDevice,
    BenchProtocolError,
    HttpConnection,
    LoadGenerator,
    build_devices,
    measure,
    stop_workers,
)

_FAULT_CODE = re.compile(rb"<FaultCode>(\d+)</FaultCode>")


def rss_kib(pid: int) -> int | None:
    """Resident set size of ``pid`` in KiB (None once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class Rejected(Exception):
    """The ACS answered 503 (admission control)."""

    def __init__(self, retry_after: bytes | None) -> None:
        super().__init__("503")
        self.retry_after = retry_after


class OverloadConnection(HttpConnection):
    """`HttpConnection` that turns a 503 into `Rejected`, keeping its Retry-After."""

    async def post(self, body: bytes, cookie: bytes | None) -> tuple[int, bytes, bytes | None]:
        status, payload, set_cookie, retry_after = await self.exchange(body, cookie)
        if status == 503:
            raise Rejected(retry_after)
        return status, payload, set_cookie


@dataclass(slots=True)
class Window:
    start_s: float
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "start_s": round(self.start_s, 1),
            **{k: self.outcomes[k] for k in sorted(self.outcomes)},
            "p50_ms": round(percentile(self.latencies_ms, 0.50), 1),
            "p99_ms": round(percentile(self.latencies_ms, 0.99), 1),
            "rss_max_mib": round(max(self.rss_kib) / 1024, 1) if self.rss_kib else None,
        }


class OpenLoop:
    def __init__(self, gen: LoadGenerator, args: argparse.Namespace) -> None:
        self.gen = gen
        self.args = args
        self.windows: list[Window] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.rss_samples: list[tuple[float, int]] = []

    def window(self, elapsed: float) -> Window:
        index = int(elapsed // self.args.window)
        while len(self.windows) <= index:
            self.windows.append(Window(len(self.windows) * self.args.window))
        return self.windows[index]

    async def one(self, device: BenchDevice, t0: float) -> None:
        started = time.perf_counter()
        outcome = "completed"
        try:
            await asyncio.wait_for(self.session(device), self.args.timeout)
        except Rejected as exc:
            outcome = "rejected_503" if exc.retry_after else "rejected_503_no_retry_after"
        except TimeoutError:
            outcome = "timeout"
        except (ConnectionError, asyncio.IncompleteReadError):
            outcome = "reset"
        except BenchProtocolError as exc:
            # 8005: the device's previous session is still ending on the ACS (a device
            # picked again within milliseconds; real CPEs wait minutes).
            outcome = "fault_8005" if "(8005)" in str(exc) else f"other: {exc}"[:80]
        except OSError as exc:
            outcome = f"other: {type(exc).__name__}"
        finally:
            self.in_flight -= 1
            self.gen.idle.append(device)
        window = self.window(started - t0)
        window.outcomes[outcome] += 1
        if outcome == "completed":
            window.latencies_ms.append((time.perf_counter() - started) * 1000)

    async def session(self, device: BenchDevice) -> None:
        gen = self.gen
        reader, writer = await asyncio.open_connection(gen.host, gen.port)
        conn = OverloadConnection(reader, writer, gen._host_header)
        try:
            status, body, cookie = await conn.post(device.periodic_inform, None)
            if status != 200 or b"InformResponse" not in body:
                fault = _FAULT_CODE.search(body)
                code = fault.group(1).decode() if fault else "no fault code"
                raise BenchProtocolError(f"inform answered {status} ({code})")
            status, body, _ = await conn.post(b"", cookie)
            if status != 204:
                raise BenchProtocolError(f"periodic session answered {status}")
        finally:
            conn.close()

    async def sample_rss(self, t0: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            value = rss_kib(self.args.server_pid)
            if value is not None:
                elapsed = time.perf_counter() - t0
                self.rss_samples.append((elapsed, value))
                self.window(elapsed).rss_kib.append(value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def run(self, rate: float) -> dict[str, Any]:
        tasks: set[asyncio.Task[None]] = set()
        stop = asyncio.Event()
        t0 = time.perf_counter()
        sampler = asyncio.create_task(self.sample_rss(t0, stop))
        started = 0
        while (elapsed := time.perf_counter() - t0) < self.args.duration:
            due = int(elapsed * rate) - started
            for _ in range(due):
                started += 1
                if not self.gen.idle:
                    self.window(elapsed).outcomes["skipped"] += 1
                    continue
                device = self.gen.idle.popleft()
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                self.window(elapsed).outcomes["arrivals"] += 1
                task = asyncio.create_task(self.one(device, t0))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0.005)
        drain_started = time.perf_counter()
        if tasks:
            await asyncio.wait(set(tasks), timeout=self.args.timeout + 5)
        drain_s = time.perf_counter() - drain_started
        stop.set()
        await sampler
        return {"arrivals_scheduled": started, "drain_s": round(drain_s, 2)}

    async def probe(self, count: int, deadline_s: float = 90.0) -> dict[str, Any]:
        """Sequential sessions after the overload until ``count`` complete: does the ACS
        serve normally again, and how soon? Sessions the generator gave up on may still
        hold ACS slots until the session timeout, so refusals are retried (with a short
        pause) until ``deadline_s``, and counted."""
        ok = 0
        refused: Counter[str] = Counter()
        latencies: list[float] = []
        t0 = time.perf_counter()
        first_ok_s: float | None = None
        while ok < count and time.perf_counter() - t0 < deadline_s:
            device = self.gen.idle.popleft()
            started = time.perf_counter()
            try:
                await asyncio.wait_for(self.session(device), self.args.timeout)
            except (Rejected, TimeoutError, BenchProtocolError, OSError, EOFError) as exc:
                refused[type(exc).__name__] += 1
                await asyncio.sleep(0.2)  # retry pacing, not synchronisation
                continue
            finally:
                self.gen.idle.append(device)
            ok += 1
            latencies.append((time.perf_counter() - started) * 1000)
            if first_ok_s is None:
                first_ok_s = time.perf_counter() - t0
        return {
            "wanted": count,
            "completed": ok,
            "refused_before": dict(refused),
            "first_success_after_s": None if first_ok_s is None else round(first_ok_s, 2),
            "p50_ms": round(percentile(latencies, 0.5), 1),
        }


def totals(windows: list[Window]) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    for window in windows:
        outcomes.update(window.outcomes)
        latencies.extend(window.latencies_ms)
    return {
        **{k: outcomes[k] for k in sorted(outcomes)},
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    devices = build_devices(args.devices, args.seed)
    gen = LoadGenerator(args.host, args.port, "periodic", devices)
    rss_before = rss_kib(args.server_pid)
    learn_seconds = await gen.learn_all(min(args.concurrency, len(devices)))
    rss_after_learning = rss_kib(args.server_pid)
    # Capacity: closed loop at --concurrency (the same measurement as bench.loadgen).
    workers = [asyncio.create_task(gen.worker()) for _ in range(args.concurrency)]
    try:
        measure_args = argparse.Namespace(
            warmup=args.warmup,
            duration=args.capacity_seconds,
            min_sessions=args.capacity_min_sessions,
            server_pid=args.server_pid,
        )
        capacity = await measure(measure_args, gen.tally)
    finally:
        await stop_workers(gen, workers, args.timeout)
    gen.idle = deque(devices)
    rate = max(1.0, capacity["sessions_per_s"] * args.factor)
    loop = OpenLoop(gen, args)
    overload = await loop.run(rate)
    probe = await loop.probe(args.probe)
    rss = [value for _, value in loop.rss_samples]
    tenth = max(1, len(rss) // 10)
    return {
        "learn_seconds": round(learn_seconds, 2),
        "capacity": capacity,
        "offered_rate_per_s": round(rate, 1),
        "factor": args.factor,
        "overload_seconds": args.duration,
        **overload,
        "max_in_flight": loop.max_in_flight,
        "totals": totals(loop.windows),
        "windows": [w.summary() for w in loop.windows],
        "rss_mib": {
            "before": round(rss_before / 1024, 1) if rss_before else None,
            "after_learning": round(rss_after_learning / 1024, 1) if rss_after_learning else None,
            "first_tenth_max": round(max(rss[:tenth]) / 1024, 1) if rss else None,
            "last_tenth_max": round(max(rss[-tenth:]) / 1024, 1) if rss else None,
            "max": round(max(rss) / 1024, 1) if rss else None,
            "samples": len(rss),
        },
        "after": {"rss_mib": round((rss_kib(args.server_pid) or 0) / 1024, 1), "probe": probe},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--devices", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop capacity run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--capacity-seconds", type=float, default=15.0)
    parser.add_argument(
        "--capacity-min-sessions",
        type=int,
        default=0,
        help="the capacity window also lasts until N sessions completed in it",
    )
    parser.add_argument("--factor", type=float, default=2.0, help="offered load / capacity")
    parser.add_argument("--duration", type=float, default=300.0, help="overload seconds")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per reported window")
    parser.add_argument("--timeout", type=float, default=30.0, help="client timeout per session")
    parser.add_argument("--probe", type=int, default=20, help="sessions after the overload")
    parser.add_argument("--seed", type=int, default=8)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
