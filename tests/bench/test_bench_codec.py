"""Smoke test of `bench.codec`: it times the messages the bench scenarios exchange, the
previous codec alongside, and records a well-formed result (no timed assertion)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.codec import build_cases, main
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope


def test_the_cases_are_the_bench_sessions_messages() -> None:
    cases = {case.name: case for case in build_cases()}
    parses = {name for name, case in cases.items() if case.kind == "parse"}
    assert parses == {
        "inform_periodic",
        "inform_bootstrap",
        "gpv_response",
        "spv_response",
        "empty_response",
    }
    periodic = cases["inform_periodic"].ours()
    bootstrap = cases["inform_bootstrap"].ours()
    assert isinstance(periodic, m.Envelope)
    assert isinstance(periodic.body, m.Inform)
    assert periodic.body.event_codes == ("2 PERIODIC",)
    assert isinstance(bootstrap, m.Envelope)
    assert isinstance(bootstrap.body, m.Inform)
    assert "0 BOOTSTRAP" in bootstrap.body.event_codes
    spv = parse_envelope(cases["spv"].ours())  # type: ignore[arg-type]
    assert isinstance(spv.body, m.SetParameterValues)
    assert len(spv.body.parameters) == cases["spv"].items >= 20
    assert cases["gpv_response"].items == cases["gpv"].items >= 20


def test_a_tiny_run_records_ratios_and_speedups(tmp_path: Path) -> None:
    assert main(["--rounds", "2", "--budget", "0.001", "--results-dir", str(tmp_path)]) == 0
    (line,) = (tmp_path / "codec.jsonl").read_text().splitlines()
    result = json.loads(line)
    assert result["scenario"] == "codec"
    assert result["parameters"]["reference"] is True
    for figures in result["cases"].values():
        assert len(figures["ratios"]) == len(figures["speedups"]) == 2
        assert figures["ours_us"] > 0
        assert figures["bare_us"] > 0
