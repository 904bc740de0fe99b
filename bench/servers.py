"""The processes a benchmark measures: the ACS (fresh store) and the floor / OTLP sink.

Each is a child process pinned to one core with ``taskset`` (when available), started
on 127.0.0.1 port 0 and asked for its port; stopped with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO_ROOT

START_TIMEOUT = 60.0
_LISTENING = re.compile(r"CWMP endpoint listening on https?://[^:/]+:(\d+)/")


def pinned(core: int | None, argv: Sequence[str]) -> list[str]:
    """``argv`` prefixed with ``taskset -c core`` (unchanged without taskset or core)."""
    taskset = shutil.which("taskset")
    if core is None or taskset is None:
        return list(argv)
    return [taskset, "-c", str(core), *argv]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _child_env(extra: Mapping[str, str], root: Path = REPO_ROOT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEACS_"))}
    # The file port (7567 by default) on a free port: benches run beside other servers.
    env["TRACEACS_FILES_PORT"] = "0"
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@contextlib.contextmanager
def floor_server(mode: str, core: int | None) -> Iterator[Server]:
    """The protocol floor (or, with ``mode="sink"``, the OTLP sink)."""
    with _listening_child(["bench.floor", "--mode", mode], core, "the floor") as server:
        yield server


@contextlib.contextmanager
def straightforward_server(
    database: Path, devices: int, seed: int, core: int | None
) -> Iterator[Server]:
    """The calibration baseline (`bench.straightforward`) on a fresh SQLite file."""
    argv = ["bench.straightforward", "--database", str(database)]
    argv += ["--devices", str(devices), "--seed", str(seed)]
    with _listening_child(argv, core, "the straightforward handler") as server:
        yield server


@contextlib.contextmanager
def lean_bound_server(
    database: Path, log: Path, devices: int, seed: int, core: int | None
) -> Iterator[Server]:
    """The lean bound (`bench.lean_bound`) on a fresh SQLite file, its session lines
    written to ``log`` as the ACS writes its own."""
    argv = ["bench.lean_bound", "--database", str(database), "--log", str(log)]
    argv += ["--devices", str(devices), "--seed", str(seed)]
    with _listening_child(argv, core, "the lean bound") as server:
        yield server


@contextlib.contextmanager
def _listening_child(module_argv: list[str], core: int | None, what: str) -> Iterator[Server]:
    """``python -m MODULE ...`` pinned to ``core``; it prints ``listening <port>`` once bound."""
    process = subprocess.Popen(
        pinned(core, [sys.executable, "-m", *module_argv]),
        stdout=subprocess.PIPE,
        env=_child_env({}),
        cwd=REPO_ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    server = Server(process, int(line.split()[1]) if line.startswith("listening") else 0)
    try:
        if not server.port:
            raise RuntimeError(f"{what} did not start: {line!r}")
        yield server
    finally:
        server.stop()


async def prepare_database(database_url: str, devices: int, seed: int) -> None:
    """The bench fleet's inventory and profiles imported into the store at ``database_url``."""
    from traceacs.simulator.fleet import build_fleet
    from traceacs.simulator.fleet_store import store_fleet
    from traceacs.storage import open_repository

    fleet = build_fleet(devices, data_model="tr181", seed=seed)
    repo = await open_repository(database_url)
    try:
        await store_fleet(repo, fleet, time.time())
    finally:
        await repo.close()


def prepare_store(data_dir: Path, devices: int, seed: int) -> None:
    """A fresh SQLite store with the bench fleet's inventory and profiles imported."""
    from traceacs.config import default_database_url

    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(prepare_database(default_database_url(data_dir), devices, seed))


@contextlib.contextmanager
def acs_server(
    data_dir: Path,
    env: Mapping[str, str],
    core: int | None,
    extra_args: Sequence[str] = (),
    root: Path = REPO_ROOT,
) -> Iterator[Server]:
    """``traceacs serve`` on the store in ``data_dir``; its log goes to ``acs.log`` there.

    ``root``: the source tree the ACS runs from (another revision for `bench.ab`).
    """
    log_path = data_dir / "acs.log"
    argv = [
        sys.executable,
        "-m",
        "traceacs.cli",
        "serve",
        "--allow-unauthenticated-cpes",
        "--cwmp-port",
        "0",
        "--api-port",
        "0",
        "--data-dir",
        str(data_dir),
        *extra_args,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            pinned(core, argv), stdout=log, stderr=log, env=_child_env(env, root), cwd=data_dir
        )
    server = Server(process, 0, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.port:
            found = _LISTENING.search(log_path.read_text(errors="replace"))
            if found:
                server.port = int(found.group(1))
            elif process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the ACS did not start:\n{tail}")
            else:
                time.sleep(0.05)
        yield server
    finally:
        server.stop()


def attempt_results(data_dir: Path) -> dict[str, int]:
    """Provisioning attempts by result, read from the store after the ACS stopped."""
    from traceacs.config import DATABASE_FILE

    with contextlib.closing(sqlite3.connect(data_dir / DATABASE_FILE)) as db:
        rows = db.execute(
            "SELECT COALESCE(result, 'open'), COUNT(*) FROM attempts GROUP BY 1"
        ).fetchall()
    return {str(result): int(count) for result, count in rows}


def straightforward_results(database: Path) -> dict[str, int]:
    """The straightforward handler's provisionings by result, and the devices it saw
    inform (``informed``), read after it stopped."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT result, COUNT(*) FROM provisionings GROUP BY 1").fetchall()
        informed = db.execute(
            "SELECT COUNT(*) FROM devices WHERE last_inform IS NOT NULL"
        ).fetchone()[0]
    return {"informed": int(informed), **{str(result): int(count) for result, count in rows}}
