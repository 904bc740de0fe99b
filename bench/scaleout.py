"""The ``scaleout`` scenario: 1 vs 2 ACS processes behind nginx, sharing PostgreSQL.

Both measurements run the same way, so the ratio isolates the second process: a fresh
PostgreSQL database with the bench fleet imported, ``traceacs serve --workers N``
(``--session-store database`` also for N = 1, so both pay the shared-session writes),
a private nginx on 127.0.0.1 balancing round-robin without stickiness, and the lean
load generator running the bootstrap sequence (Inform, SPV, GPV, 204: four POSTs, so
sessions cross processes) through nginx; ``--sequence periodic``: the quiet periodic
sequence (Inform, empty POST, 204) of devices its learning pass provisioned. Nothing
is pinned but the generator: the workers need both cores. The result records the load
average before each measurement: the machine is shared, and the ratio is only as good
as the quiet it ran in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from bench.nginx import free_port, free_port_pair, nginx_argv, nginx_binary, nginx_config
from bench.servers import START_TIMEOUT, Server, _child_env, prepare_database

ADMIN_URL_VARIABLE = "TRACEACS_BENCH_PG"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_LISTENING = re.compile(r"CWMP endpoint listening on (http://127\.0\.0\.1:\d+/)")


def admin_url() -> str:
    """A PostgreSQL URL allowed to create databases (``TRACEACS_BENCH_PG``)."""
    return os.environ.get(ADMIN_URL_VARIABLE, DEFAULT_ADMIN_URL)


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.contextmanager
def fresh_database(admin: str) -> Iterator[str]:
    """A new, empty database on the server of ``admin``; dropped afterwards."""
    name = f"traceacs_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _attempts(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT COALESCE(result, 'open') AS result, COUNT(*) AS n FROM attempts GROUP BY 1"
        )
    finally:
        await conn.close()
    return {str(r["result"]): int(r["n"]) for r in rows}


@contextlib.contextmanager
def acs_workers(
    database_url: str,
    workers: int,
    data_dir: Path,
    env: Mapping[str, str],
    session_store: str = "database",
) -> Iterator[list[str]]:
    """``traceacs serve --workers N`` on fixed base ports; yields the workers' URLs."""
    log_path = data_dir / "acs.log"
    argv = [
        sys.executable, "-m", "traceacs.cli", "serve",
        "--allow-unauthenticated-cpes",
        "--workers", str(workers),
        "--session-store", session_store,
        "--cwmp-port", str(free_port_pair()),
        "--api-port", str(free_port_pair()),
        "--files-port", str(free_port_pair()),
        "--database-url", database_url,
        "--data-dir", str(data_dir),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, env=_child_env(env), cwd=data_dir)
    server = Server(process, 0, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            urls = _LISTENING.findall(log_path.read_text(errors="replace"))
            if len(urls) >= workers:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the ACS workers did not start:\n{tail}")
            time.sleep(0.05)
        yield sorted(urls)
    finally:
        server.stop()


@contextlib.contextmanager
def nginx(upstreams: list[str], prefix: Path) -> Iterator[Server]:
    """A private nginx on 127.0.0.1 in front of ``upstreams``."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (sh tests/scaleout/ensure-nginx.sh)")
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (prefix / "nginx.conf").write_text(nginx_config(prefix, port, upstreams))
    process = subprocess.Popen(
        nginx_argv(binary, prefix), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = Server(process, port)
    try:
        import socket

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {prefix / 'error.log'}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)
        server.stop()


def measure(
    bench: Any, workers: int, env: Mapping[str, str], tmp: Path, session_store: str = "database"
) -> dict[str, Any]:
    """One measurement: N workers behind nginx on a fresh database."""
    a = bench.args
    sequence = a.sequence
    bench.progress(f"acs x{workers} behind nginx ({sequence}, sessions in {session_store})")
    loadavg = os.getloadavg()[0]
    with fresh_database(admin_url()) as url:
        asyncio.run(prepare_database(url, a.devices, a.seed))
        data_dir = tmp / f"workers-{workers}-{session_store}"
        data_dir.mkdir()
        with (
            acs_workers(url, workers, data_dir, env, session_store) as upstreams,
            nginx(upstreams, data_dir / "nginx") as front,
        ):
            result: dict[str, Any] = bench.loadgen(front.port, sequence, 0)
        result["attempts_by_result"] = asyncio.run(_attempts(url))
    result["workers"] = workers
    result["session_store"] = session_store
    result["loadavg_1m_before"] = round(loadavg, 2)
    return result


def run_scaleout(bench: Any, env: Mapping[str, str]) -> dict[str, Any]:
    """1 and 2 processes with shared sessions, and 1 with in-process sessions (the
    price of sharing), all in the same run."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="traceacs-scaleout-") as tmp:
        one = measure(bench, 1, env, Path(tmp))
        two = measure(bench, 2, env, Path(tmp))
        memory = measure(bench, 1, env, Path(tmp), session_store="memory")
    return {
        "one_process": one,
        "two_processes": two,
        "one_process_memory_sessions": memory,
        "ratios": {
            "two_over_one": _ratio(two, one),
            "shared_over_memory_one_process": _ratio(one, memory),
        },
        "note": "2 vCPUs shared with other work; see loadavg_1m_before of each measurement",
    }


def _ratio(a: Mapping[str, Any], b: Mapping[str, Any]) -> float | None:
    base = b.get("sessions_per_s") or 0
    return round(a["sessions_per_s"] / base, 3) if base else None
