"""Smoke test of the in-process telemetry cost benchmark at a toy size.

No timed assertion: what must hold whatever the speed is that the sessions were
recorded from the real workflow (a provisioning bootstrap, a quiet periodic) and that
every mode was measured and recorded with the load average.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import telemetry_cost


def test_every_mode_is_measured_on_sessions_recorded_from_the_workflow(tmp_path: Path) -> None:
    telemetry_cost.main(["--rounds", "1", "--sessions", "20", "--results-dir", str(tmp_path)])
    [line] = (tmp_path / "telemetry_cost.jsonl").read_text().splitlines()
    result = json.loads(line)
    bootstrap, periodic = result["bootstrap"], result["periodic"]
    assert bootstrap["rpcs"] >= 2  # SetParameterValues, GetParameterValues (verify)
    assert bootstrap["spans"] > periodic["spans"] >= 1
    assert periodic["rpcs"] == 0
    for sequence in telemetry_cost.SEQUENCES:
        cpu = result[sequence]["cpu_us_per_session"]
        assert set(cpu) == set(telemetry_cost.MODES)
        assert all(value >= 0 for value in cpu.values())
    assert "loadavg_1m" in result["machine"]
