"""Inventory scale (issue 8): a 1,000,000-device inventory on SQLite and PostgreSQL.

    python -m bench.inventory [--devices 1000000] [--small 10000] [--engines sqlite,postgresql]

Per engine, on a fresh store (a new SQLite file; a new PostgreSQL database, dropped
afterwards):

* **import**: a CSV of ``--devices`` rows through the real path, ``traceacs devices
  import FILE`` (checks every row, then one transaction in `IMPORT_CHUNK` batches);
  wall time and rows/s.
* **device lookup**: ``repository.get_device`` for ``--samples`` random devices, one
  at a time (p50/p99), each followed by the same indexed ``SELECT`` on a bare driver
  connection (``sqlite3`` / ``asyncpg``): the baseline, interleaved so that the
  shared host's load hits both alike.
* **inform recording**: ``repository.record_inform`` (opened as ``serve`` opens it,
  Inform write-behind on) for random devices, each followed by the bare ``UPDATE``.
* **ACS RSS flat in fleet size**: ``traceacs serve`` on a ``--small`` store and on the
  large one, each driven by the lean generator (`bench.loadgen`, periodic, bench fleet
  of ``--fleet`` devices that are part of the inventory); VmRSS/VmHWM of the ACS
  after the run, and its sessions/s at both sizes.
* **``traceacs trace SERIAL``**: wall time of the command (median of 5) for devices
  traced during the ACS run (the embedded trace store is on), next to the wall time
  of ``traceacs --help`` (interpreter and import start-up) in the same run; and the
  store's latest-trace lookup in-process (p99 over the traced devices).

Appends to ``bench/results/inventory.jsonl``; the load average is in every result.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, RESULTS_DIR, percentile, publish
from bench.servers import acs_server, pinned

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USERS = ("postgres", "root")
PAD_OUI = "00D09E"
PADDING_PREFIX = "INV"
_GET = "SELECT * FROM devices WHERE oui = {0} AND serial_number = {1}"
_UPDATE = (
    "UPDATE devices SET last_inform_at = {0}, updated_at = {0}"
    " WHERE oui = {1} AND serial_number = {2}"
)


def _ms(seconds: list[float]) -> dict[str, float]:
    values = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(values, 0.5), 3),
        "p99_ms": round(percentile(values, 0.99), 3),
        "max_ms": round(max(values), 3),
        "samples": len(values),
    }


# --------------------------------------------------------------------------- stores


def fleet_rows(count: int, seed: int) -> tuple[list[dict[str, str]], list[Any]]:
    """The bench fleet's inventory rows (the devices the load generator plays)."""
    from traceacs.simulator.fleet import build_fleet

    fleet = build_fleet(count, data_model="tr181", seed=seed)
    rows = [
        {
            "serial_number": r.serial_number,
            "oui": r.oui,
            "product_class": r.product_class,
            "customer_id": r.customer_id,
            "service_plan": r.service_plan,
            "location_id": r.location_id,
            "mac": r.mac or "",
        }
        for r in fleet.inventory
    ]
    return rows, list(fleet.profiles)


def write_inventory(path: Path, total: int, fleet: list[dict[str, str]], plans: list[str]) -> None:
    """``total`` rows: the fleet first, then padding devices with their own serials."""
    columns = ["serial_number", "oui", "product_class", "customer_id", "service_plan"]
    columns += ["location_id", "mac"]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in fleet:
            writer.writerow([row[c] for c in columns])
        for n in range(total - len(fleet)):
            mac = f"02:00:{n >> 24 & 255:02X}:{n >> 16 & 255:02X}:{n >> 8 & 255:02X}:{n & 255:02X}"
            plan = plans[n % len(plans)]
            writer.writerow(
                [f"{PADDING_PREFIX}{n:08d}", PAD_OUI, "RG", f"P-{n}", plan, f"L-{n % 500}", mac]
            )


async def _pg_admin(*statements: str) -> str:
    import asyncpg

    last: Exception | None = None
    for user in PG_USERS:
        try:
            conn = await asyncpg.connect(
                user=user, database="postgres", timeout=5, host=PG_HOST, port=PG_PORT
            )
        except (OSError, asyncpg.PostgresError) as exc:
            last = exc
            continue
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()
        return user
    raise RuntimeError(f"PostgreSQL not reachable: {last}")


@contextlib.contextmanager
def store_url(engine: str, workdir: Path, label: str) -> Iterator[str]:
    if engine == "sqlite":
        directory = workdir / f"sqlite-{label}"
        directory.mkdir()
        yield f"sqlite://{directory}/traceacs.db"
        return
    name = f"traceacs_bench_{label}_{uuid.uuid4().hex[:8]}"
    user = asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _put_profiles(url: str, profiles: list[Any]) -> None:
    from traceacs.profiles.document import profile_to_document
    from traceacs.storage import open_repository

    repo = await open_repository(url)
    try:
        for profile in profiles:
            await repo.put_profile_document(
                profile.name, profile_to_document(profile), profile.version or "1"
            )
    finally:
        await repo.close()


def cli(*argv: str, core: int | None = None) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    started = time.perf_counter()
    out = subprocess.run(
        pinned(core, [sys.executable, "-m", "traceacs.cli", *argv]),
        capture_output=True,
        check=False,
        cwd=REPO_ROOT,
    )
    return time.perf_counter() - started, out


def import_store(url: str, csv_path: Path, profiles: list[Any], core: int | None) -> float:
    asyncio.run(_put_profiles(url, profiles))
    seconds, out = cli("devices", "import", str(csv_path), "--database-url", url, core=core)
    if out.returncode != 0:
        raise RuntimeError(f"import failed: {out.stderr.decode()[-2000:]}")
    return seconds


# --------------------------------------------------------------------------- latencies


class _BareSqlite:
    """The same statements on a bare ``sqlite3`` connection (the baseline)."""

    def __init__(self, url: str) -> None:
        self.conn = sqlite3.connect(url.removeprefix("sqlite://"), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.get = _GET.format("?1", "?2")
        self.update = _UPDATE.format("?1", "?2", "?3")

    async def lookup(self, oui: str, serial: str) -> None:
        self.conn.execute(self.get, (oui, serial)).fetchone()

    async def inform(self, oui: str, serial: str) -> None:
        self.conn.execute(self.update, (time.time(), oui, serial))

    async def close(self) -> None:
        self.conn.close()


class _BarePostgres:
    """The same statements on a bare ``asyncpg`` connection (the baseline)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.get = _GET.format("$1", "$2")
        self.update = _UPDATE.format("$1", "$2", "$3")

    async def lookup(self, oui: str, serial: str) -> None:
        await self.conn.fetchrow(self.get, oui, serial)

    async def inform(self, oui: str, serial: str) -> None:
        await self.conn.execute(self.update, time.time(), oui, serial)

    async def close(self) -> None:
        await self.conn.close()


async def latencies(url: str, keys: list[tuple[str, str]], samples: int) -> dict[str, Any]:
    """Repository and bare driver, interleaved operation by operation on the same keys,
    so that background load (the host is shared) hits both alike.

    The repository is opened as ``traceacs serve`` opens it (Inform write-behind on):
    its inform figure is what a session waits for; the bare ``UPDATE`` commits each.
    """
    import asyncpg

    from traceacs.assembly import INFORM_WRITE_BEHIND_SECONDS
    from traceacs.provisioning.device import InformFacts
    from traceacs.storage import open_repository

    repo = await open_repository(url, inform_write_behind=INFORM_WRITE_BEHIND_SECONDS)
    bare: _BareSqlite | _BarePostgres = (
        _BareSqlite(url) if url.startswith("sqlite") else _BarePostgres(await asyncpg.connect(url))
    )
    facts = InformFacts(manufacturer="Bench", model="RG", firmware_version="1.0")
    times: dict[str, list[float]] = {"lookup": [], "inform": [], "bare_lookup": []}
    times["bare_inform"] = []
    try:
        for oui, serial in keys[:200]:  # warm the statement caches / pool
            await repo.get_device(oui, serial)
            await bare.lookup(oui, serial)
        for oui, serial in keys[:samples]:
            started = time.perf_counter()
            device = await repo.get_device(oui, serial)
            middle = time.perf_counter()
            await bare.lookup(oui, serial)
            times["lookup"].append(middle - started)
            times["bare_lookup"].append(time.perf_counter() - middle)
            assert device is not None
        for oui, serial in keys[samples : 2 * samples]:
            started = time.perf_counter()
            device = await repo.record_inform(oui, serial, time.time(), facts)
            middle = time.perf_counter()
            await bare.inform(oui, serial)
            times["inform"].append(middle - started)
            times["bare_inform"].append(time.perf_counter() - middle)
            assert device is not None
    finally:
        await bare.close()
        await repo.close()
    return {
        "repository": {
            "device_lookup": _ms(times["lookup"]),
            "inform_recording": _ms(times["inform"]),
        },
        "bare_driver": {
            "device_lookup": _ms(times["bare_lookup"]),
            "inform_recording": _ms(times["bare_inform"]),
        },
    }


async def trace_lookups(url: str, serials: list[str]) -> dict[str, Any]:
    from traceacs.storage.traces import open_trace_store

    store = await open_trace_store(url)
    found = 0
    seconds: list[float] = []
    try:
        for serial in serials:
            started = time.perf_counter()
            trace = await store.latest(serial, None)
            seconds.append(time.perf_counter() - started)
            found += trace is not None
    finally:
        await store.close()
    return {**_ms(seconds), "found": found}


# --------------------------------------------------------------------------- ACS


def rss_kib(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def acs_run(url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``traceacs serve`` on ``url``, periodic load from the lean generator; RSS after."""
    data_dir = workdir / f"acs-{uuid.uuid4().hex[:6]}"
    data_dir.mkdir()
    env = {"TRACEACS_DATABASE_URL": url, "TRACEACS_TRACE_STORE": "on"}
    with acs_server(data_dir, env, args.server_core) as server:
        idle = rss_kib(server.pid)
        argv = [sys.executable, "-m", "bench.loadgen", "--port", str(server.port)]
        argv += ["--scenario", "periodic", "--devices", str(args.fleet)]
        argv += ["--concurrency", "64", "--warmup", "2", "--duration", str(args.duration)]
        argv += ["--seed", str(args.seed), "--server-pid", str(server.pid)]
        out = subprocess.run(
            pinned(args.client_core, argv), capture_output=True, check=False, cwd=REPO_ROOT
        )
        if out.returncode != 0:
            raise RuntimeError(f"load generator failed:\n{out.stderr.decode()[-3000:]}")
        load = json.loads(out.stdout.decode().strip().splitlines()[-1])
        after = rss_kib(server.pid)
    return {
        "sessions_per_s": load["sessions_per_s"],
        "p99_ms": load["p99_ms"],
        "server_cpu_us_per_session": load["server_cpu_us_per_session"],
        "errors": load.get("errors", {}),
        "rss_idle_mib": round(idle["VmRSS"] / 1024, 1),
        "rss_after_mib": round(after["VmRSS"] / 1024, 1),
        "rss_peak_mib": round(after["VmHWM"] / 1024, 1),
    }


def _progress(args: argparse.Namespace, line: str) -> None:
    if not args.quiet:
        print(line, file=sys.stderr, flush=True)


def measure_engine(engine: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    fleet, profiles = fleet_rows(args.fleet, args.seed)
    plans = sorted({row["service_plan"] for row in fleet})
    result: dict[str, Any] = {"engine": engine}
    sizes = {"small": args.small, "large": args.devices}
    for label, total in sizes.items():
        csv_path = workdir / f"inventory-{total}.csv"
        if not csv_path.exists():
            write_inventory(csv_path, total, fleet, plans)
        with store_url(engine, workdir, label) as url:
            _progress(args, f"{engine}: importing {total} devices")
            seconds = import_store(url, csv_path, profiles, args.client_core)
            figures: dict[str, Any] = {
                "devices": total,
                "import_seconds": round(seconds, 1),
                "import_rows_per_s": round(total / seconds),
            }
            if label == "large":
                rng = random.Random(args.seed)
                pad = total - len(fleet)
                keys = [
                    (PAD_OUI, f"{PADDING_PREFIX}{rng.randrange(pad):08d}")
                    for _ in range(2 * args.samples)
                ]
                _progress(args, f"{engine}: lookups and informs on {total} devices")
                figures.update(asyncio.run(latencies(url, keys, args.samples)))
            _progress(args, f"{engine}: ACS on {total} devices")
            figures["acs"] = acs_run(url, workdir, args)
            if label == "large":
                serials = [row["serial_number"] for row in fleet]
                figures["trace_store_latest"] = asyncio.run(trace_lookups(url, serials))
                walls = [
                    cli("trace", serial, "--database-url", url, "--json")[0]
                    for serial in serials[:5]
                ]
                ok = cli("trace", serials[0], "--database-url", url, "--json")[1].returncode
                startup = [cli("--help")[0] for _ in range(5)]
                figures["trace_cli"] = {
                    "median_s": round(statistics.median(walls), 3),
                    "exit_code": ok,
                    "baseline_help_median_s": round(statistics.median(startup), 3),
                }
            result[label] = figures
    small, large = result["small"]["acs"], result["large"]["acs"]
    result["ratios"] = {
        "rss_after_large_over_small": round(large["rss_after_mib"] / small["rss_after_mib"], 3),
        "throughput_large_over_small": round(large["sessions_per_s"] / small["sessions_per_s"], 3),
        "lookup_p99_over_bare": round(
            result["large"]["repository"]["device_lookup"]["p99_ms"]
            / max(result["large"]["bare_driver"]["device_lookup"]["p99_ms"], 1e-6),
            2,
        ),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inventory", description=__doc__)
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--fleet", type=int, default=1000, help="devices the generator plays")
    parser.add_argument("--samples", type=int, default=20_000, help="lookups and informs")
    parser.add_argument("--duration", type=float, default=10.0, help="ACS load seconds")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="traceacs-inventory-") as tmp:
        for engine in engines:
            figures[engine] = measure_engine(engine, Path(tmp), args)
    parameters = {
        "devices": args.devices,
        "small": args.small,
        "fleet": args.fleet,
        "samples": args.samples,
        "duration_s": args.duration,
        "engines": engines,
        "loadavg_start": load_at_start,
    }
    result = publish("inventory", parameters, figures, args)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
