"""Smoke tests of the benchmarks: tiny runs complete and record well-formed results.

Never a timed assertion (the figures depend on the box); what is asserted is what the
benchmark must get right whatever the speed: the scenario's request sequence really
happened against the real ACS, the store shows what it implies, and the JSON result
carries the machine facts and parameters it is read with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.run import parse_args, run
from traceacs.assembly import quiet_periodic_ratio
from traceacs.commands.bench import bench_root
from traceacs.telemetry.setup import DEFAULT_QUIET_PERIODIC_RATIO, TelemetryConfigError

DEVICES = 4
MIN_SESSIONS = 5
"""The measurement window lasts until this many sessions completed in it (a loaded
host measures over a longer window, never an empty one)."""


def tiny_args(scenario: str, results: Path, *extra: str) -> list[str]:
    """The command line of a tiny run: a few devices, a short window that ends only once
    `MIN_SESSIONS` sessions completed in it."""
    return [
        scenario,
        "--devices",
        str(DEVICES),
        "--concurrency",
        "2",
        "--warmup",
        "0.2",
        "--duration",
        "0.6",
        "--min-sessions",
        str(MIN_SESSIONS),
        "--results-dir",
        str(results),
        "--quiet",
        *extra,
    ]


def tiny_run(scenario: str, results: Path) -> dict[str, Any]:
    return run(parse_args(tiny_args(scenario, results)))


def assert_recorded(result: dict[str, Any], results: Path) -> None:
    [line] = (results / f"{result['scenario']}.jsonl").read_text().splitlines()
    assert json.loads(line) == json.loads(json.dumps(result))
    assert result["machine"]["nproc"] >= 1
    assert result["machine"]["python"]
    assert result["versions"]["aiohttp"] != "absent"
    assert result["git"]
    assert result["parameters"]["devices"] == DEVICES


def assert_measured(figures: dict[str, Any]) -> None:
    assert figures["sessions"] >= MIN_SESSIONS
    assert figures["errors"] == {}
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert figures["server_cpu_s"] >= 0


def test_periodic_checks_provisioned_devices_without_pushing(tmp_path: Path) -> None:
    result = tiny_run("periodic", tmp_path)
    assert_recorded(result, tmp_path)
    acs, floor = result["acs"], result["floor"]
    assert_measured(acs)
    assert_measured(floor)
    assert acs["rpcs_per_session"] == 0
    # one bootstrap per device while learning, then only quiet periodic checks
    assert acs["attempts_by_result"] == {"success": DEVICES}
    assert result["ratios"]["acs_over_floor"] > 0
    # the lean bound ran the same periodic sequence, the intent's yardstick beside it
    assert_measured(result["lean_bound"])
    assert result["lean_bound"]["rpcs_per_session"] == 0
    assert result["ratios"]["acs_over_lean_bound"] > 0
    assert result["ratios"]["lean_bound_over_straightforward"] > 0


def test_bootstrap_pushes_and_verifies_every_session(tmp_path: Path) -> None:
    result = tiny_run("bootstrap", tmp_path)
    assert_recorded(result, tmp_path)
    acs = result["acs"]
    assert_measured(acs)
    assert acs["rpcs_per_session"] == 2  # SetParameterValues, then GetParameterValues
    assert acs["spv_parameters_mean"] >= 10
    assert acs["telemetry"] == "full"
    attempts = acs["attempts_by_result"]
    assert attempts.get("success", 0) >= acs["sessions"] + DEVICES  # each one verified
    assert set(attempts) <= {"success", "open", "session_dropped"}  # cut at the end


def test_quiet_periodic_ratio_comes_from_the_environment() -> None:
    assert quiet_periodic_ratio({}) == DEFAULT_QUIET_PERIODIC_RATIO
    assert quiet_periodic_ratio({"TRACEACS_QUIET_PERIODIC_RATIO": "1.0"}) == 1.0
    for bad in ("2", "-0.5", "all"):
        with pytest.raises(TelemetryConfigError):
            quiet_periodic_ratio({"TRACEACS_QUIET_PERIODIC_RATIO": bad})


def test_the_command_finds_the_benchmarks_of_the_checkout() -> None:
    root = bench_root()
    assert root is not None
    assert (root / "bench" / "run.py").is_file()
