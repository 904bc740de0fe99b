"""Smoke test of the lean bound (`bench.lean_bound`): the real load generator's periodic
sequence (Inform -> InformResponse with a cookie, empty POST -> 204) runs against it
without an error, each completed session is logged once, and the Informs' times reach
its SQLite file through the write-behind. No timing assertions."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from bench.common import REPO_ROOT

DEVICES = 3


def test_the_periodic_sequence_runs_against_the_lean_bound(tmp_path: Path) -> None:
    database, log = tmp_path / "lean.sqlite3", tmp_path / "lean.log"
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "bench.lean_bound", "--database", str(database)),
            *("--log", str(log), "--devices", str(DEVICES)),
        ],
        stdout=subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().decode()
        assert line.startswith("listening "), line
        out = subprocess.run(
            [
                *(sys.executable, "-m", "bench.loadgen", "--port", line.split()[1]),
                *("--scenario", "periodic", "--devices", str(DEVICES), "--concurrency", "2"),
                *("--warmup", "0", "--duration", "0.3", "--min-sessions", "20"),
                *("--server-pid", str(server.pid)),
            ],
            capture_output=True,
            check=True,
            cwd=REPO_ROOT,
            timeout=120,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
    figures = json.loads(out.stdout.decode().strip().splitlines()[-1])
    assert figures["errors"] == {}
    assert figures["sessions"] >= 20
    assert figures["rpcs_per_session"] == 0
    lines = log.read_text().splitlines()
    assert len(lines) >= figures["sessions"]  # the learning pass's sessions are logged too
    assert all(" INFO traceacs.server.cwmp: cwmp session " in line for line in lines)
    with sqlite3.connect(database) as db:
        informed = db.execute("SELECT count(*) FROM devices WHERE last_inform IS NOT NULL")
        assert informed.fetchone()[0] == DEVICES
