"""SIGKILL a real ``traceacs serve`` while a fleet provisions, on both engines.

The small CI edition of ``python -m bench.crash_loop`` (500 CPEs x 20 kills, recorded
in bench/results/crash_loop.jsonl): 100 CPEs, 3 kills. Fails on any broken invariant:
damaged store, half-written record, two open attempts for a device, a device left
unsettled, an attempt left open, or a CPE whose applied config the store does not know.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.crash_loop import CrashLoopConfig, run_crash_loop


@pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_acs_killed_three_times_loses_nothing(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if engine == "postgresql":
        request.getfixturevalue("pg_user")  # skips (or fails under CI) without a server
    # A loop of its own: the ACS is a child process, the fleet runs here.
    report = asyncio.run(
        run_crash_loop(CrashLoopConfig(engine=engine, cpes=100, kills=3, seed=7, work_dir=tmp_path))
    )
    assert report.broken == []
    assert len(report.kill_records) == 3
    assert report.summary["provisioned"] == 100
    assert report.summary["open_attempts"] == 0
