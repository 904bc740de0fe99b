"""Crash loop: SIGKILL ``traceacs serve`` at random moments while a fleet provisions.

A real ``traceacs serve`` child process, a simulated fleet (`FleetRunner`, real CWMP
over HTTP) provisioning against it, and a killer that sends SIGKILL at random moments,
checks the store while the ACS is dead, and starts a new ACS on the same port. When
the kills are done the fleet is let finish and the store is checked once more:

- the store is intact (``PRAGMA integrity_check`` / PostgreSQL consistency queries);
- no record is half-written (an attempt has both result and end time, or neither);
- at most one open attempt per device, and no attempt recorded twice for one session;
- device states agree with their attempts;
- at the end: every device is provisioned or failed with a reason, no attempt is left
  open, and every CPE holds the parameter key the store says it was given (nothing
  the CPE applied is missing from the store: records lost = 0).

Run ``python -m bench.crash_loop --engine sqlite --cpes 500 --kills 20`` (and
``--engine postgresql``); each run appends a line to ``bench/results/crash_loop.jsonl``.
``tests/reliability/test_crash_loop.py`` runs a small loop in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import record, stamp
from bench.servers import START_TIMEOUT, _child_env, prepare_database
from traceacs.assembly import STALE_ATTEMPT_SECONDS
from traceacs.config import default_database_url
from traceacs.simulator.fleet import Fleet, build_fleet
from traceacs.simulator.runner import FleetRunner, RunnerConfig

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Each query counts rows that break an invariant: every one must answer 0.
CONSISTENCY_QUERIES: dict[str, str] = {
    "half_written_attempts": "SELECT count(*) FROM attempts WHERE"
    " (result IS NULL) <> (ended_at IS NULL) OR ended_at < started_at",
    "devices_with_two_open_attempts": "SELECT count(*) FROM (SELECT device_id FROM attempts"
    " WHERE result IS NULL GROUP BY device_id HAVING count(*) > 1) t",
    "sessions_recorded_twice": "SELECT count(*) FROM (SELECT trace_id FROM attempts"
    " WHERE trace_id IS NOT NULL GROUP BY trace_id HAVING count(*) > 1) t",
    "orphan_attempts": "SELECT count(*) FROM attempts a"
    " LEFT JOIN devices d ON d.id = a.device_id WHERE d.id IS NULL",
    "provisioning_without_open_attempt": "SELECT count(*) FROM devices d"
    " WHERE d.state = 'provisioning' AND NOT EXISTS"
    " (SELECT 1 FROM attempts a WHERE a.device_id = d.id AND a.result IS NULL)",
    "open_attempt_on_idle_device": "SELECT count(*) FROM devices d"
    " WHERE d.state <> 'provisioning' AND EXISTS"
    " (SELECT 1 FROM attempts a WHERE a.device_id = d.id AND a.result IS NULL)",
    "failed_without_reason": "SELECT count(*) FROM devices"
    " WHERE state = 'failed' AND (failure_reason IS NULL OR failure_reason = '')",
    "provisioned_without_success": "SELECT count(*) FROM devices d WHERE"
    " d.state = 'provisioned' AND NOT EXISTS"
    " (SELECT 1 FROM attempts a WHERE a.device_id = d.id AND a.result = 'success')",
}
FINAL_QUERIES: dict[str, str] = {
    "devices_not_settled": "SELECT count(*) FROM devices"
    " WHERE state NOT IN ('provisioned', 'failed')",
    "open_attempts": "SELECT count(*) FROM attempts WHERE result IS NULL",
}
SUMMARY_QUERIES: dict[str, str] = {
    "devices": "SELECT count(*) FROM devices",
    "provisioned": "SELECT count(*) FROM devices WHERE state = 'provisioned'",
    "attempts": "SELECT count(*) FROM attempts",
    "attempts_superseded": "SELECT count(*) FROM attempts WHERE result = 'expired'",
    "open_attempts": "SELECT count(*) FROM attempts WHERE result IS NULL",
}


@dataclass
class CrashLoopConfig:
    engine: str = "sqlite"
    cpes: int = 500
    kills: int = 20
    seed: int = 1
    min_gap: float = 0.3
    """Seconds of ACS uptime before a kill: uniform in [min_gap, max_gap]."""
    max_gap: float = 2.5
    retry_scale: float = 0.02
    """Scales the CPEs' TR-069 retry back-off (5-10 s, doubling) down to lab speed."""
    work_dir: Path | None = None


@dataclass
class KillRecord:
    uptime_s: float
    open_attempts: int
    provisioned: int
    restart_s: float
    integrity: str
    violations: dict[str, int]


@dataclass
class CrashLoopReport:
    engine: str
    cpes: int
    kills: int
    seed: int
    elapsed_s: float
    kill_records: list[KillRecord] = field(default_factory=list)
    final_violations: dict[str, int] = field(default_factory=dict)
    final_integrity: str = ""
    summary: dict[str, int] = field(default_factory=dict)
    cpes_completed: int = 0
    cpe_key_mismatches: int = 0
    sessions: dict[str, int] = field(default_factory=dict)

    @property
    def broken(self) -> list[str]:
        """Every invariant that failed, as text (empty: the run passed)."""
        problems = [
            f"after kill {i + 1}: {name} = {count}"
            for i, record in enumerate(self.kill_records)
            for name, count in record.violations.items()
            if count
        ]
        problems += [
            f"after kill {i + 1}: integrity {r.integrity!r}"
            for i, r in enumerate(self.kill_records)
            if r.integrity != "ok"
        ]
        problems += [f"final: {n} = {c}" for n, c in self.final_violations.items() if c]
        if self.final_integrity != "ok":
            problems.append(f"final: integrity {self.final_integrity!r}")
        if self.cpes_completed != self.cpes:
            problems.append(f"only {self.cpes_completed} of {self.cpes} CPEs completed")
        if self.cpe_key_mismatches:
            problems.append(f"{self.cpe_key_mismatches} CPEs disagree with the store")
        if self.summary.get("devices") != self.cpes:
            problems.append(f"devices in store: {self.summary.get('devices')} != {self.cpes}")
        return problems

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["broken"] = self.broken
        data["kills_with_open_attempts"] = sum(1 for r in self.kill_records if r.open_attempts)
        restarts = [r.restart_s for r in self.kill_records]
        data["restart_s_max"] = round(max(restarts, default=0.0), 3)
        return data


# ------------------------------------------------------------------------- the store


class Store:
    """Reads the store behind the ACS's back (only while it is dead, or at the end)."""

    def __init__(self, url: str, sqlite_path: Path | None) -> None:
        self.url = url
        self.sqlite_path = sqlite_path

    async def counts(self, queries: dict[str, str]) -> dict[str, int]:
        if self.sqlite_path is not None:
            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as db:
                return {k: int(db.execute(q).fetchone()[0]) for k, q in queries.items()}
        conn = await asyncpg.connect(self.url)
        try:
            return {k: int(await conn.fetchval(q)) for k, q in queries.items()}
        finally:
            await conn.close()

    async def integrity(self) -> str:
        """``ok``, or what is wrong (SQLite's own check; PostgreSQL: catalog sanity)."""
        if self.sqlite_path is not None:
            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as db:
                rows = db.execute("PRAGMA integrity_check").fetchall()
                fk = db.execute("PRAGMA foreign_key_check").fetchall()
            text = "; ".join(str(r[0]) for r in rows)
            return text if not fk else f"{text}; foreign keys: {fk[:3]}"
        conn = await asyncpg.connect(self.url)
        try:
            # Every index usable and valid (a crash mid-build leaves one invalid), and
            # the rows readable end to end through the primary keys.
            invalid = await conn.fetchval(
                "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND NOT (i.indisvalid AND i.indisready)"
            )
            await conn.fetch("SELECT * FROM attempts ORDER BY id")
            await conn.fetch("SELECT * FROM devices ORDER BY id")
        finally:
            await conn.close()
        return "ok" if not invalid else f"{invalid} invalid index(es)"

    async def parameter_keys(self) -> dict[str, str | None]:
        """Serial number -> the ParameterKey the store says the device was given."""
        if self.sqlite_path is not None:
            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as db:
                rows = db.execute("SELECT serial_number, parameter_key FROM devices").fetchall()
            return {str(s): k for s, k in rows}
        conn = await asyncpg.connect(self.url)
        try:
            rows = await conn.fetch("SELECT serial_number, parameter_key FROM devices")
        finally:
            await conn.close()
        return {str(r["serial_number"]): r["parameter_key"] for r in rows}


@contextlib.asynccontextmanager
async def fresh_store(engine: str, data_dir: Path) -> AsyncIterator[Store]:
    """An empty store on ``engine`` (a new PostgreSQL database, dropped afterwards)."""
    if engine == "sqlite":
        url = default_database_url(data_dir)
        yield Store(url, Path(url.removeprefix("sqlite://")))
        return
    admin = await asyncpg.connect(PG_ADMIN_URL)
    name = f"traceacs_crash_{uuid.uuid4().hex[:10]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield Store(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", None)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# ------------------------------------------------------------------------- the ACS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AcsProcess:
    """``traceacs serve`` on a fixed port, killed and restarted at will."""

    def __init__(self, data_dir: Path, database_url: str, port: int) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = port
        self.log_path = data_dir / "acs.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait until it accepts connections; seconds it took."""
        started = time.monotonic()
        argv = [
            sys.executable,
            "-m",
            "traceacs.cli",
            "serve",
            "--allow-unauthenticated-cpes",
            "--bind",
            "127.0.0.1",
            "--cwmp-port",
            str(self.port),
            "--api-port",
            "0",
            "--data-dir",
            str(self.data_dir),
            "--database-url",
            self.database_url,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=log, env=_child_env({}), cwd=self.data_dir
            )
        deadline = started + START_TIMEOUT
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return time.monotonic() - started
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the ACS did not start:\n{tail}")
            time.sleep(0.02)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def work_directory(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="traceacs-crash-") as tmp:
        yield Path(tmp)


# ------------------------------------------------------------------------- the loop


async def _killer(
    acs: AcsProcess, store: Store, config: CrashLoopConfig, report: CrashLoopReport
) -> None:
    rng = random.Random(config.seed)
    for _ in range(config.kills):
        uptime = rng.uniform(config.min_gap, config.max_gap)
        await asyncio.sleep(uptime)
        await asyncio.to_thread(acs.kill)
        counts = await store.counts({**CONSISTENCY_QUERIES, **SUMMARY_QUERIES})
        integrity = await store.integrity()
        restart = await asyncio.to_thread(acs.start)
        report.kill_records.append(
            KillRecord(
                uptime_s=round(uptime, 3),
                open_attempts=counts["open_attempts"],
                provisioned=counts["provisioned"],
                restart_s=round(restart, 3),
                integrity=integrity,
                violations={k: counts[k] for k in CONSISTENCY_QUERIES},
            )
        )


def _cpe_key_mismatches(fleet: Fleet, keys: dict[str, str | None]) -> int:
    """CPEs whose applied ParameterKey is not the one the store recorded for them."""
    wrong = 0
    for cpe in fleet.cpes:
        applied = str(cpe.value(cpe.root + "ManagementServer.ParameterKey"))
        if keys.get(cpe.identity.serial_number) != applied:
            wrong += 1
    return wrong


async def run_crash_loop(config: CrashLoopConfig) -> CrashLoopReport:
    """One crash loop as configured; the report (``report.broken`` lists failures)."""
    report = CrashLoopReport(config.engine, config.cpes, config.kills, config.seed, 0.0)
    started = time.monotonic()
    with work_directory(config.work_dir) as data_dir:
        async with fresh_store(config.engine, data_dir) as store:
            await prepare_database(store.url, config.cpes, config.seed)
            fleet = build_fleet(config.cpes, data_model="tr181", seed=config.seed)
            acs = AcsProcess(data_dir, store.url, free_port())
            await asyncio.to_thread(acs.start)
            try:
                mean_uptime = (config.min_gap + config.max_gap) / 2
                runner = FleetRunner(
                    fleet.cpes,
                    RunnerConfig(
                        acs_url=f"http://127.0.0.1:{acs.port}/",
                        sessions_per_cpe=1,
                        # CPEs boot while the kills happen, not all before the first.
                        ramp_seconds=max(1.0, config.kills * (mean_uptime + 1.0)),
                        retry_scale=config.retry_scale,
                        max_attempts=1_000,
                        request_timeout=10.0,
                        connection_requests=False,
                    ),
                    seed=config.seed,
                )
                fleet_run = asyncio.create_task(runner.run())
                await _killer(acs, store, config, report)
                stats = await fleet_run
            finally:
                await asyncio.to_thread(acs.stop)
            report.sessions = dict(stats.results)
            # One session per CPE: each completed session is one CPE done.
            report.cpes_completed = stats.results["completed"]
            report.final_violations = await store.counts({**CONSISTENCY_QUERIES, **FINAL_QUERIES})
            report.final_integrity = await store.integrity()
            report.summary = await store.counts(SUMMARY_QUERIES)
            report.cpe_key_mismatches = _cpe_key_mismatches(fleet, await store.parameter_keys())
    report.elapsed_s = round(time.monotonic() - started, 2)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--cpes", type=int, default=500)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-record", action="store_true", help="do not append the result")
    args = parser.parse_args(argv)
    config = CrashLoopConfig(engine=args.engine, cpes=args.cpes, kills=args.kills, seed=args.seed)
    report = asyncio.run(run_crash_loop(config))
    parameters = {
        "engine": config.engine,
        "cpes": config.cpes,
        "kills": config.kills,
        "seed": config.seed,
        "uptime_between_kills_s": [config.min_gap, config.max_gap],
        "stale_attempt_s": STALE_ATTEMPT_SECONDS,
    }
    result = stamp("crash_loop", parameters, report.as_json())
    if not args.no_record:
        record(result)
    print(json.dumps({k: v for k, v in result.items() if k != "kill_records"}, indent=2))
    return 1 if report.broken else 0


if __name__ == "__main__":
    sys.exit(main())
