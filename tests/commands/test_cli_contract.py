"""What every command promises a script: --json output, exit codes, progress on a TTY only,
and a ``traceacs --help`` that lists every command by the job it does."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import pytest

from tests.api.live_server import serve_live_api
from tests.api.test_traces import failed_verify_trace
from tests.commands.conftest import Cli, device_row, write_csv
from traceacs.cli import SECTIONS, build_parser, main
from traceacs.storage import SqlDeviceRepository
from traceacs.storage.api_store import SqlApiStore
from traceacs.storage.tasks import SqlTaskStore
from traceacs.storage.traces import SqlTraceStore
from traceacs.tasks.service import TaskService

SERIAL = "SN-JSON-1"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PROFILE = "- name: gold\n  services: [internet]\n"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def stocked(cli: Cli, tmp_path: Path) -> Cli:
    """A store with a device, its trace and a task, a profile, a token and an audit entry."""
    assert (
        cli("devices", "import", str(write_csv(tmp_path / "d.csv", device_row(SERIAL)))).code == 0
    )
    profiles = tmp_path / "p.yaml"
    profiles.write_text(PROFILE, encoding="utf-8")
    assert cli("profiles", "import", str(profiles)).code == 0
    assert cli("tokens", "create", "--role", "write", "--name", "oss").code == 0

    async def seed(repository: SqlDeviceRepository) -> None:
        await SqlTraceStore(repository.db).write_spans(failed_verify_trace(TRACE_ID, SERIAL))
        device = await repository.get_device_by_serial(SERIAL)
        assert device is not None
        await TaskService(SqlTaskStore(repository.db, repository.secrets)).add(device, "reboot", {})
        await SqlApiStore(repository.db).record_audit(
            at=1_700_000_000.0,
            token_id=1,
            token_name="oss",
            method="POST",
            path=f"/api/devices/{SERIAL}/reprovision",
            target=SERIAL,
            status=200,
        )

    cli.with_repository(seed)
    return cli


LISTING_AND_SHOW = [
    ("devices", "list"),
    ("devices", "show", SERIAL),
    ("devices", "reprovision", SERIAL),
    ("profiles", "list"),
    ("profiles", "show", "gold"),
    ("tokens", "list"),
    ("tasks", "list", SERIAL),
    ("trace", SERIAL),
    ("trace", "--trace-id", TRACE_ID),
    ("audit",),
    ("db", "migrate"),
]


@pytest.mark.parametrize("argv", LISTING_AND_SHOW, ids=" ".join)
def test_json_is_all_that_goes_to_stdout(stocked: Cli, argv: tuple[str, ...]) -> None:
    result = stocked(*argv, "--json")
    assert result.code == 0, result.err
    assert result.err == ""
    assert json.loads(result.out) not in (None, [], {})


def test_audit_lists_who_did_what_when(stocked: Cli) -> None:
    [entry] = json.loads(stocked("audit", "--json").out)["items"]
    assert entry == {
        "id": 1,
        "at": "2023-11-14T22:13:20Z",
        "token_id": 1,
        "token_name": "oss",
        "method": "POST",
        "path": f"/api/devices/{SERIAL}/reprovision",
        "target": SERIAL,
        "status": 200,
    }
    table = stocked("audit").out.splitlines()
    assert table[0].split() == ["WHEN", "WHO", "WHAT", "TARGET", "STATUS"]
    assert table[1].split() == [
        "2023-11-14T22:13:20Z",
        "oss",
        "POST",
        f"/api/devices/{SERIAL}/reprovision",
        SERIAL,
        "200",
    ]
    assert json.loads(stocked("audit", "--token-id", "2", "--json").out)["items"] == []


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (("devices", "show", "NOPE"), 4),
        (("devices", "reprovision", "NOPE"), 4),
        (("devices", "delete", "NOPE"), 4),
        (("profiles", "show", "platinum"), 4),
        (("tokens", "revoke", "99"), 4),
        (("tasks", "list", "NOPE"), 4),
        (("tasks", "add", "NOPE", "reboot"), 4),
        (("trace", "NOPE"), 4),
        (("trace", "--trace-id", "0" * 32), 4),
        (("tasks", "add", SERIAL, "reboot", "--arg", "novalue"), 2),
        (("tasks", "add", SERIAL, "explode"), 2),
        (("trace",), 2),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v),
)
def test_exit_codes_tell_not_found_from_bad_usage(
    stocked: Cli, argv: tuple[str, ...], code: int
) -> None:
    result = stocked(*argv)
    assert result.code == code, result.err
    assert result.err.startswith("traceacs ")  # a message naming the command
    assert result.out == ""


def test_exit_codes_of_usage_and_store_unavailable(cli: Cli, tmp_path: Path) -> None:
    assert cli("devices", "list").code == 3  # no store in this data dir
    assert "no TraceACS store" in cli("devices", "list").err
    bad = tmp_path / "bad.csv"
    bad.write_text("serial_number\nSN1\n", encoding="utf-8")
    assert cli("devices", "import", str(bad)).code == 2
    with pytest.raises(SystemExit) as exc:
        main(["devices", "list", "--limit", "lots"])
    assert exc.value.code == 2
    assert main([]) == 2


def test_help_is_a_table_of_contents_of_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    registered = set(commands.choices or {})
    listed = [name for _, names in SECTIONS for name in names]
    assert registered == {name.split()[0] for name in listed}
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for title, _ in SECTIONS:
        assert f"\n{title}:\n" in out
    assert "\n  devices show SERIAL   show a device, its last provisioning attempt" in out
    assert "\n  devices               import | list | show | reprovision | delete | tag\n" in out
    assert "\n  tokens                create | list | revoke\n" in out
    for code in ("0  ok", "2  usage error", "3  store unavailable", "4  not found"):
        assert code in out


def _big_inventory(tmp_path: Path) -> Path:
    rows = [device_row(f"SN{i:05d}") for i in range(2500)]
    return write_csv(tmp_path / "big.csv", *rows)


def test_import_progress_bar_on_a_terminal_only_and_never_with_json(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _big_inventory(tmp_path)
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert cli("devices", "import", str(path)).code == 0
    drawn = tty.getvalue()
    assert "checking big.csv [" in drawn
    assert "] 2500/2500 100%" in drawn  # the rows, not the header
    assert "writing 2500 devices..." in drawn

    tty.truncate(0)
    tty.seek(0)
    result = cli("devices", "import", str(path), "--json")
    assert result.code == 0
    assert json.loads(result.out)["updated"] == 2500
    assert tty.getvalue() == ""

    monkeypatch.undo()  # stderr is captured (not a terminal): no bar either
    piped = cli("devices", "import", str(path))
    assert piped.code == 0
    assert "[" not in piped.err


def test_profile_import_progress_bar_on_a_terminal(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = tmp_path / "many.yaml"
    many.write_text(
        "".join(f"- name: plan-{i}\n  services: [internet]\n" for i in range(60)),
        encoding="utf-8",
    )
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert cli("profiles", "import", str(many)).code == 0
    assert "importing many.yaml [" in tty.getvalue()
    tty.truncate(0)
    tty.seek(0)
    assert cli("profiles", "import", str(many), "--json").code == 0
    assert tty.getvalue() == ""


def test_simulate_summary_as_json_and_its_bar_on_a_terminal_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def nothing(repository: SqlDeviceRepository) -> None:
        return None

    # any HTTP server will do: the API answers the CPEs' POST / with 405
    with serve_live_api(f"sqlite://{tmp_path}/x.db", tmp_path, nothing, time.time) as live:
        argv = ["simulate", "--acs-url", f"{live.base_url}/", "--cpes", "3", "--ramp", "0"]
        assert main([*argv, "--json"]) == 0
        captured = capsys.readouterr()
        summary = json.loads(captured.out)
        assert summary["sessions"] >= 3  # each CPE tried (and retried) its session
        assert summary["results"] == {"http_error(405)": summary["sessions"]}
        assert captured.err == ""

        tty = _Tty()
        monkeypatch.setattr(sys, "stderr", tty)
        assert main(argv) == 0
        assert "simulating [" in tty.getvalue()
        assert "] 0/3   0% http_error(405)=" in tty.getvalue()  # none completed
        assert capsys.readouterr().out.startswith("sessions: ")  # the summary for people
