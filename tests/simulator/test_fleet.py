"""Fleet generation, failure assignment and the `traceacs simulate --inventory-out` files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from traceacs.cli import main
from traceacs.profiles.embedded import load_profile_file
from traceacs.simulator.faults import (
    NO_FAULTS,
    FailSpecError,
    Failure,
    Quirk,
    assign_faults,
    parse_fail_spec,
)
from traceacs.simulator.fleet import INVENTORY_HEADER, PLAN_WITHOUT_PROFILE, build_fleet


def test_parse_fail_spec() -> None:
    assert parse_fail_spec("unknown=2%, spv_fault=0.03,quirk_bool=5%") == {
        "unknown": 0.02,
        "spv_fault": 0.03,
        "quirk_bool": 0.05,
    }
    assert parse_fail_spec("") == {}
    for bad in ("nope=1%", "unknown", "unknown=x", "unknown=150%", "unknown=60%,drop=60%"):
        with pytest.raises(FailSpecError):
            parse_fail_spec(bad)


def test_assignment_counts_are_exact_and_failures_exclusive() -> None:
    shares = {"unknown": 0.02, "spv_fault": 0.03, "mismatch": 0.05, "quirk_prefix": 0.1}
    plans = assign_faults(1000, shares, seed=7)
    counts = {f: sum(p.failure is f for p in plans) for f in Failure}
    assert counts[Failure.UNKNOWN] == 20
    assert counts[Failure.SPV_FAULT] == 30
    assert counts[Failure.MISMATCH] == 50
    assert counts[Failure.DROP] == 0
    assert sum(Quirk.SOAP_PREFIX in p.quirks for p in plans) == 100
    assert sum(p is NO_FAULTS for p in plans) > 700


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    shares = {"unknown": 0.1, "no_profile": 0.1, "crash": 0.05}
    a = build_fleet(200, data_model="mixed", shares=shares, seed=5)
    b = build_fleet(200, data_model="mixed", shares=shares, seed=5)
    c = build_fleet(200, data_model="mixed", shares=shares, seed=6)
    assert a.inventory == b.inventory
    assert [x.identity for x in a.cpes] == [x.identity for x in b.cpes]
    assert [x.faults for x in a.cpes] == [x.faults for x in b.cpes]
    assert [x.faults for x in a.cpes] != [x.faults for x in c.cpes]
    assert {x.identity.data_model for x in a.cpes} == {"tr181", "tr098"}


def test_inventory_leaves_out_unknown_and_unprofiled_plan_has_no_profile(tmp_path: Path) -> None:
    shares = {"unknown": 0.1, "no_profile": 0.05}
    out = tmp_path / "inventory.csv"
    assert (
        main(
            [
                "simulate",
                "--cpes",
                "100",
                "--seed",
                "3",
                "--fail",
                "unknown=10%,no_profile=5%",
                "--inventory-out",
                str(out),
            ]
        )
        == 0
    )
    fleet = build_fleet(100, data_model="mixed", shares=shares, seed=3)
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == INVENTORY_HEADER
    serials = {r[0] for r in rows[1:]}
    unknown = {c.identity.serial_number for c in fleet.cpes if c.faults.failure is Failure.UNKNOWN}
    assert len(unknown) == 10
    assert not serials & unknown
    assert len(serials) == 90
    plans = {r[4] for r in rows[1:]}
    unprofiled = [r for r in rows[1:] if r[4] == PLAN_WITHOUT_PROFILE]
    assert len(unprofiled) == 5
    profiles = load_profile_file(out.with_name("profiles.yaml"))
    names = {p.name for p in profiles}
    assert plans - names == {PLAN_WITHOUT_PROFILE}
    # the files are the same on a second run
    first = out.read_bytes()
    assert (
        main(
            [
                "simulate",
                "--cpes",
                "100",
                "--seed",
                "3",
                "--fail",
                "unknown=10%,no_profile=5%",
                "--inventory-out",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_bytes() == first


def test_simulate_rejects_bad_fail_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--fail", "bogus=1%"]) == 2
    assert "unknown failure" in capsys.readouterr().err
