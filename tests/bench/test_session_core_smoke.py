"""Smoke test of `bench.session_core`: a tiny run drives real sessions end to end.

No timed assertion: what is checked is that the sequences really happened against the
ACS as ``traceacs serve`` builds it (every bootstrap verified in the store, one log
line per session in the log file, the expected RPCs) and that the result is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.session_core import main, parse_args, run

DEVICES = 3
SESSIONS = 4


def test_tiny_run_provisions_logs_and_records(tmp_path: Path) -> None:
    args = parse_args(
        [
            "--devices",
            str(DEVICES),
            "--sessions",
            str(SESSIONS),
            "--rounds",
            "1",
            "--concurrency",
            "2",
        ]
    )
    result = run(args)
    assert result["errors"] == {}
    # learning pass + per sequence: warm-up (min(sessions, devices)) + one round
    bootstraps = DEVICES + min(SESSIONS, DEVICES) + SESSIONS
    assert result["attempts_by_result"] == {"success": bootstraps}
    periodic = min(SESSIONS, DEVICES) + SESSIONS
    assert result["session_log_lines"] == bootstraps + periodic
    for sequence in ("periodic", "bootstrap"):
        figures = result[sequence]
        assert figures["acs_cpu_us_per_session"] > 0
        assert figures["codec_cpu_us_per_session"] > 0
    assert main(
        ["--devices", "2", "--sessions", "2", "--rounds", "1", "--sequences", "periodic",
         "--results-dir", str(tmp_path)]
    ) == 0  # fmt: skip
    [line] = (tmp_path / "session_core.jsonl").read_text().splitlines()
    assert json.loads(line)["parameters"]["sequences"] == ["periodic"]
