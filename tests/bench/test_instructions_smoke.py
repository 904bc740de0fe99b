"""Smoke test of `bench.instructions`: a tiny run on the working tree under valgrind.

No figure is asserted beyond its sign: what is checked is that the children really
drove sessions of the working tree's ACS under valgrind (one log line per session,
the second run with N2 - N1 more than the first, the instruction count parsed and
larger for more sessions) and that the result is recorded. Skipped without valgrind,
except on CI, where valgrind is part of the machine and a skip would hide a breakage.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from bench.instructions import main

DEVICES = 3
WARMUP = 2
N1, N2 = 2, 6

needs_valgrind = pytest.mark.skipif(
    shutil.which("valgrind") is None and os.environ.get("CI") != "true",
    reason="valgrind is not installed",
)


@needs_valgrind
def test_tiny_run_counts_sessions_and_records(tmp_path: Path) -> None:
    argv = ["--sequences", "periodic", "--periodic", str(N1), str(N2)]
    argv += ["--devices", str(DEVICES), "--warmup", str(WARMUP), "--concurrency", "2"]
    argv += ["--results-dir", str(tmp_path)]
    assert main(argv) == 0
    [line] = (tmp_path / "instructions.jsonl").read_text().splitlines()
    result = json.loads(line)
    assert result["scenario"] == "instructions"
    assert result["valgrind"].startswith("valgrind-")
    assert "base" not in result
    assert "new_over_base" not in result
    periodic = result["new"]["periodic"]
    # learning bootstraps + warm-up + the counted sessions, one log line each
    assert periodic["session_log_lines"] == [DEVICES + WARMUP + N1, DEVICES + WARMUP + N2]
    assert periodic["attempts_by_result"] == [{"success": DEVICES}] * 2  # periodic pushes nothing
    assert periodic["instructions_n2"] > periodic["instructions_n1"] > 0
    assert periodic["instructions_per_session"] > 0
    assert periodic["startup_instructions"] > 0
