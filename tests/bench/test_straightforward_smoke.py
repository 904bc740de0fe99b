"""Smoke tests of the calibration baseline (`bench.straightforward`).

Tiny runs, no timing assertions: the straightforward handler must answer the real
load generator's sequences (periodic: Inform, empty POST, 204; bootstrap: Inform,
SetParameterValues, GetParameterValues, 204) without an error, its store must show
what the sequences imply, and `bench.run periodic` must report it next to the ACS
without changing the keys other tools read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.run import Bench, parse_args, run
from tests.bench.test_bench_smoke import DEVICES, tiny_args


def assert_clean(figures: dict[str, Any]) -> None:
    assert figures["sessions"] > 0
    assert figures["errors"] == {}
    assert figures["server_cpu_s"] >= 0


def test_bootstrap_sessions_push_and_verify_against_the_straightforward_handler(
    tmp_path: Path,
) -> None:
    bench = Bench(parse_args(tiny_args("bootstrap", tmp_path)))
    figures = bench.straightforward("bootstrap")
    assert_clean(figures)
    assert figures["rpcs_per_session"] == 2  # SetParameterValues, then GetParameterValues
    assert figures["spv_parameters_mean"] >= 10
    store = figures["store"]
    assert store["informed"] == DEVICES
    # every bootstrap (the generator's learning pass, then the measured ones) verified:
    # the values read back are those set
    assert set(store) <= {"informed", "success"}
    assert store["success"] >= figures["sessions"] + DEVICES


def test_periodic_run_reports_the_straightforward_handler_next_to_the_acs(
    tmp_path: Path,
) -> None:
    result = run(parse_args(tiny_args("periodic", tmp_path)))
    baseline = result["straightforward"]
    assert_clean(baseline)
    assert baseline["rpcs_per_session"] == 0
    # the learning pass provisioned each device once; periodic sessions pushed nothing
    assert baseline["store"] == {"informed": DEVICES, "success": DEVICES}
    ratios = result["ratios"]
    assert {"acs_over_floor", "acs_over_floor_by_cpu"} <= set(ratios)  # kept for other tools
    assert ratios["acs_over_straightforward"] == pytest.approx(
        result["acs"]["sessions_per_s"] / baseline["sessions_per_s"], rel=0.01
    )
    assert ratios["target_over_calibration"] == pytest.approx(2500 / 1150, rel=0.001)
    per_cpu_s = 1e6 / baseline["server_cpu_us_per_session"]
    assert ratios["straightforward_over_calibration_by_cpu"] == pytest.approx(
        per_cpu_s / 1150, rel=0.01
    )


def test_no_straightforward_skips_the_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = {"sessions_per_s": 100.0, "server_cpu_us_per_session": 500}

    def measured(*_: object, **__: object) -> dict[str, Any]:
        return dict(figures)

    def not_run(*_: object) -> dict[str, Any]:
        raise AssertionError("a baseline that was switched off was measured")

    monkeypatch.setattr(Bench, "acs", measured)
    monkeypatch.setattr(Bench, "floor", measured)
    monkeypatch.setattr(Bench, "straightforward", not_run)
    monkeypatch.setattr(Bench, "lean_bound", not_run)
    for scenario in ("periodic", "bootstrap"):
        argv = tiny_args(scenario, tmp_path, "--no-straightforward", "--no-lean-bound")
        bench = Bench(parse_args(argv))
        result = bench.periodic() if scenario == "periodic" else bench.bootstrap()
        assert set(result) == {"acs", "floor", "ratios"}
        assert set(result["ratios"]) == {"acs_over_floor", "acs_over_floor_by_cpu"}


def test_the_lean_bound_is_measured_without_the_straightforward_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def measured(*_: object, **__: object) -> dict[str, Any]:
        return {"sessions_per_s": 100.0, "server_cpu_us_per_session": 500}

    def lean(*_: object) -> dict[str, Any]:
        return {"sessions_per_s": 400.0, "server_cpu_us_per_session": 200}

    def not_run(*_: object) -> dict[str, Any]:
        raise AssertionError("the straightforward handler was measured")

    monkeypatch.setattr(Bench, "acs", measured)
    monkeypatch.setattr(Bench, "floor", measured)
    monkeypatch.setattr(Bench, "straightforward", not_run)
    monkeypatch.setattr(Bench, "lean_bound", lean)
    bench = Bench(parse_args(tiny_args("periodic", tmp_path, "--no-straightforward")))
    result = bench.periodic()
    assert result["lean_bound"]["sessions_per_s"] == 400.0
    assert result["ratios"]["acs_over_lean_bound"] == 0.25
    assert result["ratios"]["acs_over_lean_bound_by_cpu"] == 0.4
    assert "lean_bound_over_straightforward" not in result["ratios"]
