from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path

import pytest

from tests.commands.conftest import Cli, device_row, write_csv
from traceacs.cli import main
from traceacs.commands.store import resolve_database_url
from traceacs.config import load_settings
from traceacs.storage.migrations import MIGRATIONS


def test_read_commands_do_not_create_a_store(cli: Cli) -> None:
    for argv in (("devices", "list"), ("devices", "show", "X"), ("profiles", "list")):
        result = cli(*argv)
        assert result.code == 3, argv
        assert "no TraceACS store at" in result.err
    assert not cli.data_dir.exists()


def test_db_migrate_creates_the_store_and_reports_the_version(cli: Cli) -> None:
    newest = max(m.version for m in MIGRATIONS)
    first = cli("db", "migrate")
    assert first.code == 0, first.err
    assert first.out.startswith(f"schema version {newest} (applied migration(s) 1")
    second = cli("db", "migrate", "--json")
    assert json.loads(second.out) == {"schema_version": newest, "applied": []}
    assert cli("devices", "list").code == 0


def test_environment_names_the_store_like_serve(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inventory = write_csv(tmp_path / "inv.csv", device_row("ENV1"))
    monkeypatch.setenv("TRACEACS_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("TRACEACS_CWMP_PORT", "not-a-port")  # irrelevant to these commands
    assert main(["devices", "import", str(inventory)]) == 0
    assert (tmp_path / "from-env" / "traceacs.db").is_file()

    monkeypatch.delenv("TRACEACS_DATA_DIR")
    monkeypatch.setenv("TRACEACS_DATABASE_URL", f"sqlite:///{tmp_path}/from-env/traceacs.db")
    capsys.readouterr()
    assert main(["devices", "show", "ENV1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["serial_number"] == "ENV1"


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        ([], {}),
        (["--data-dir", "/srv/a"], {"TRACEACS_DATA_DIR": "/srv/b"}),
        ([], {"TRACEACS_DATA_DIR": "/srv/b"}),
        (["--database-url", "sqlite:///x.db"], {"TRACEACS_DATABASE_URL": "postgresql://h/db"}),
        ([], {"TRACEACS_DATABASE_URL": "postgresql://h/db", "TRACEACS_DATA_DIR": "/srv/b"}),
        ([], {"TRACEACS_DATABASE_URL": "", "TRACEACS_DATA_DIR": ""}),
    ],
)
def test_resolution_agrees_with_serve_settings(argv: list[str], env: dict[str, str]) -> None:
    from traceacs.config import add_store_arguments

    parser = argparse.ArgumentParser()
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    assert resolve_database_url(args, env) == load_settings(args, env).database_url


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_database_is_exit_3_without_credentials(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"postgresql://acs:pw-do-not-print@127.0.0.1:{_closed_port()}/traceacs"
    assert main(["devices", "list", "--database-url", url]) == 3
    err = capsys.readouterr().err
    assert "cannot reach the database" in err
    assert "pw-do-not-print" not in err


def test_unsupported_database_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "migrate", "--database-url", "mysql://h/db"]) == 2
    assert "unsupported database URL scheme 'mysql'" in capsys.readouterr().err


def test_help_lists_the_operator_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("devices", "profiles", "db"):
        assert f"\n  {command} " in out
    with pytest.raises(SystemExit):
        main(["devices", "show", "--help"])
    assert "3  store unavailable" in capsys.readouterr().out
