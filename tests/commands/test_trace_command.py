"""``traceacs trace SERIAL``: the waterfall a support engineer reads.

The store is filled the production way (a `SessionTrace` exported to the embedded
store's span processor by the telemetry adapter), then the command runs in-process.
"""

from __future__ import annotations

import json

import pytest

from tests.commands.conftest import Cli
from tests.telemetry.test_trace_store import (
    MS,
    SECRET,
    SERIAL,
    T0,
    VERIFY_ERROR,
    failed_verify_trace,
    make_pipeline,
)
from traceacs.provisioning.session_trace import SessionTrace

OLD = failed_verify_trace(n=1, start_ns=T0, fail=False)
FAILED = failed_verify_trace(n=2, start_ns=T0 + 3_600_000 * MS)


def _store(cli: Cli, *traces: SessionTrace) -> None:
    cli.data_dir.mkdir(parents=True, exist_ok=True)
    pipeline = make_pipeline(cli.url)
    try:
        pipeline.export(*traces)
    finally:
        pipeline.telemetry.shutdown()


@pytest.fixture
def stored(cli: Cli) -> Cli:
    _store(cli, OLD, FAILED)
    return cli


def test_the_latest_failed_trace_names_the_step_its_reason_and_the_trace_id(
    stored: Cli,
) -> None:
    result = stored("trace", SERIAL)
    assert result.code == 0, result.err
    out = result.out
    lines = out.splitlines()
    verify_line = next(line for line in lines if "cpe.provision.verify" in line)
    assert verify_line.startswith("✗ ")  # the failing step is marked
    assert "mismatches=2" in verify_line
    assert f"Failed step: verify: {VERIFY_ERROR}" in out
    assert f"Trace id: {FAILED.trace_id}" in out
    assert OLD.trace_id not in out  # only the latest
    assert "customer=C-77" in out
    assert "plan=fiber-500" in out
    assert "profile_params=12" in out
    assert "params=14" in out
    assert "wifi=2.4GHz,5GHz" in out
    assert SECRET not in out
    assert "\x1b[" not in out  # not a terminal: no colour
    # Depth shows as indentation, offsets and durations as numbers.
    auth_line = next(line for line in lines if "cpe.provision.authenticate" in line)
    assert "  cpe.provision.authenticate" in auth_line
    assert "+5.0 ms" in auth_line
    assert "10.0 ms" in auth_line
    rpc_line = next(line for line in lines if "cwmp.rpc SetParameterValues" in line)
    assert "    cwmp.rpc SetParameterValues" in rpc_line  # child of push_config


def test_bars_are_proportional_to_duration(stored: Cli) -> None:
    lines = stored("trace", SERIAL).out.splitlines()

    def bar(name: str) -> str:
        line = next(line for line in lines if f" {name} " in line or line.endswith(name))
        return line.split("|")[1]

    root, verify, auth = (
        bar("cpe.inform"),
        bar("cpe.provision.verify"),
        bar("cpe.provision.authenticate"),
    )
    assert "█" * len(root) == root  # the root spans the whole axis
    assert verify.count("█") > auth.count("█") >= 1  # 40 ms vs 10 ms
    assert verify.rstrip().endswith("█")  # verify runs late: its bar is right of centre
    assert len(verify.rstrip()) > len(root) // 2


def test_colour_only_when_asked_or_on_a_terminal(stored: Cli) -> None:
    out = stored("trace", SERIAL, "--color", "always").out
    verify_line = next(line for line in out.splitlines() if "cpe.provision.verify" in line)
    assert verify_line.startswith("\x1b[1;31m")


def test_all_prints_every_trace_oldest_first(stored: Cli) -> None:
    out = stored("trace", SERIAL, "--all").out
    assert out.index(OLD.trace_id) < out.index(FAILED.trace_id)
    assert out.count("Trace id:") == 2


def test_json_output(stored: Cli) -> None:
    result = stored("trace", SERIAL, "--json")
    assert result.code == 0
    document = json.loads(result.out)
    assert document["trace_id"] == FAILED.trace_id
    assert document["failing_step"] == "verify"
    assert document["result"] == "verification_failed"
    assert document["reason"].startswith(VERIFY_ERROR)
    spans = {s["name"]: s for s in document["spans"]}
    assert spans["cpe.inform"]["depth"] == 0
    assert spans["cpe.provision.verify"]["status"] == "error"
    assert spans["cpe.provision.verify"]["attributes"]["cpe.verify.mismatches"] == 2
    assert spans["cwmp.rpc SetParameterValues"]["depth"] == 2
    everything = json.loads(stored("trace", SERIAL, "--all", "--json").out)
    assert [d["trace_id"] for d in everything] == [OLD.trace_id, FAILED.trace_id]


def test_by_trace_id_and_oui(stored: Cli) -> None:
    result = stored("trace", "--trace-id", OLD.trace_id)
    assert result.code == 0
    assert f"Trace id: {OLD.trace_id}" in result.out
    assert "Failed step" not in result.out
    wrong = stored("trace", "SN-SOMEONE-ELSE", "--trace-id", OLD.trace_id)
    assert wrong.code == 4
    assert "belongs to" in wrong.err
    assert stored("trace", SERIAL, "--oui", "00259e").code == 0
    assert stored("trace", SERIAL, "--oui", "AAAAAA").code == 4


def test_a_device_without_trace_exits_4_with_a_message(stored: Cli) -> None:
    result = stored("trace", "SN-NEVER-SEEN")
    assert result.code == 4
    assert result.out == ""
    assert "no provisioning trace stored for SN-NEVER-SEEN" in result.err


def test_a_serial_under_two_ouis_needs_oui(cli: Cli) -> None:
    twin = failed_verify_trace(n=9, start_ns=T0)
    twin.root.attributes["cpe.oui"] = "A0B1C2"
    _store(cli, FAILED, twin)
    result = cli("trace", SERIAL)
    assert result.code == 2
    assert "--oui" in result.err
    assert f"Trace id: {twin.trace_id}" in cli("trace", SERIAL, "--oui", "A0B1C2").out


def test_missing_store_and_missing_serial(cli: Cli) -> None:
    result = cli("trace", SERIAL)
    assert result.code == 3
    assert "no TraceACS store" in result.err
    assert not cli.data_dir.exists()  # a read-only command creates nothing
    assert cli("trace").code == 2
