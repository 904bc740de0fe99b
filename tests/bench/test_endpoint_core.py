"""`bench.instructions --through endpoint`'s driver runs whole sessions through the CWMP
endpoint: the child (run natively, no valgrind) drives the sequences with every POST
answered by `CwmpEndpoint`, the session line logged once per session by the endpoint
itself (the driver logs none), the bootstrap's RPCs answered by the CPE's learnt replies."""

from __future__ import annotations

import json

import pytest

from bench.instructions import main

DEVICES = 3
WARMUP = 2
SESSIONS = 4


@pytest.mark.parametrize(("sequence", "rpcs"), [("periodic", 0), ("bootstrap", 2)])
def test_the_child_drives_whole_sessions_through_the_endpoint(
    capsys: pytest.CaptureFixture[str], sequence: str, rpcs: int
) -> None:
    argv = ["--child", sequence, "--sessions", str(SESSIONS), "--devices", str(DEVICES)]
    argv += ["--warmup", str(WARMUP), "--concurrency", "2", "--through", "endpoint"]
    assert main(argv) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["errors"] == {}
    assert figures[sequence]["rpcs"] == rpcs * SESSIONS
    # the learning bootstraps (handler driver, its own line) + warm-up + counted sessions
    assert figures["session_log_lines"] == DEVICES + WARMUP + SESSIONS
    provisioned = DEVICES if sequence == "periodic" else DEVICES + WARMUP + SESSIONS
    assert figures["attempts_by_result"] == {"success": provisioned}
