"""Smoke test of `bench.overload`: a tiny run completes and records what it claims.

No timed assertion: what is checked is what the recorded run's figures rest on. The
ACS survived and served the probe sessions after the overload; every refusal was a
503 carrying Retry-After; the generator found nothing it could not classify; RSS was
sampled; the result line was appended with the machine facts and load average.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.overload import parse_args, run

CAPACITY_SESSIONS = 5
"""The capacity window lasts until this many sessions completed in it: on a loaded host
an empty window would offer the minimum rate, too few arrivals to overload anything."""


def test_a_tiny_overload_run_is_recorded(tmp_path: Path) -> None:
    args = parse_args(
        [
            "--devices", "40", "--max-sessions", "4", "--concurrency", "4",
            "--warmup", "0.3", "--capacity-seconds", "1",
            "--capacity-min-sessions", str(CAPACITY_SESSIONS), "--duration", "2",
            "--window", "1", "--probe", "3", "--results-dir", str(tmp_path), "--quiet",
        ]
    )  # fmt: skip
    result = run(args)
    [line] = (tmp_path / "overload.jsonl").read_text().splitlines()
    assert json.loads(line) == json.loads(json.dumps(result))
    assert result["acs_alive_after"] is True
    probe = result["after"]["probe"]
    assert probe["completed"] == probe["wanted"] == 3  # the ACS serves again afterwards
    assert result["capacity"]["sessions"] >= CAPACITY_SESSIONS
    totals = result["totals"]
    assert totals["arrivals"] > 0
    assert totals.get("completed", 0) > 0
    assert "rejected_503_no_retry_after" not in totals
    assert not [key for key in totals if key.startswith("other")], totals
    assert result["rss_mib"]["samples"] > 0
    assert result["acs_log"]["tracebacks"] == 0
    assert len(result["loadavg_before"]) == 3
    assert result["parameters"]["max_sessions"] == 4
