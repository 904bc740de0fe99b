"""Smoke test of the ``scaleout`` benchmark: 1 and 2 ACS processes behind nginx on PG.

A tiny run, never timed: each measurement really ran bootstrap sessions through nginx
against its own fresh PostgreSQL database (its window ends once a few sessions have
completed in it, however loaded the host), and the result records the load average
the ratio was measured under. Skips without nginx or PostgreSQL (fails under CI=true).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest

from bench.nginx import nginx_binary
from bench.run import parse_args, run
from bench.scaleout import admin_url
from tests.bench.test_bench_smoke import (
    DEVICES,
    MIN_SESSIONS,
    assert_recorded,
    tiny_args,
    tiny_run,
)


def require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the scale-out benchmark smoke test is required)")
    pytest.skip(reason)


async def reachable(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    await conn.close()
    return True


def test_scaleout_measures_one_and_two_processes_in_the_same_run(tmp_path: Path) -> None:
    require(nginx_binary() is not None, "nginx not installed")
    require(asyncio.run(reachable(admin_url())), f"PostgreSQL not reachable ({admin_url()})")
    result = tiny_run("scaleout", tmp_path)
    assert_recorded(result, tmp_path)
    runs = {
        "one_process": (1, "database"),
        "two_processes": (2, "database"),
        "one_process_memory_sessions": (1, "memory"),
    }
    for key, (workers, store) in runs.items():
        figures = result[key]
        assert (figures["workers"], figures["session_store"]) == (workers, store)
        assert figures["sessions"] >= MIN_SESSIONS  # the window ends on a count, not a clock
        assert figures["errors"] == {}
        assert figures["rpcs_per_session"] == 2  # SPV then GPV, through nginx
        attempts = figures["attempts_by_result"]
        assert attempts.get("success", 0) >= figures["sessions"] + DEVICES
        assert figures["loadavg_1m_before"] >= 0
    assert result["ratios"]["two_over_one"] > 0
    assert result["parameters"]["balancer"].startswith("nginx round robin")


def test_scaleout_runs_quiet_periodic_sessions_across_processes(tmp_path: Path) -> None:
    require(nginx_binary() is not None, "nginx not installed")
    require(asyncio.run(reachable(admin_url())), f"PostgreSQL not reachable ({admin_url()})")
    result = run(parse_args(tiny_args("scaleout", tmp_path, "--sequence", "periodic")))
    assert_recorded(result, tmp_path)
    assert result["parameters"]["sequence"] == "periodic"
    for key in ("one_process", "two_processes", "one_process_memory_sessions"):
        figures = result[key]
        assert figures["sessions"] >= MIN_SESSIONS
        assert figures["errors"] == {}
        assert figures["rpcs_per_session"] == 0  # Inform, empty POST, 204
        # Only the learning pass's bootstraps provisioned: no periodic session pushed.
        assert figures["attempts_by_result"] == {"success": DEVICES}
