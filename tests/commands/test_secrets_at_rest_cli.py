"""The CLI writes secrets sealed and prints none of them, in text or ``--json``.

Devices (connection-request password), profiles (Wi-Fi key, SIP password) and a task
(a Wi-Fi key to set) go in through the commands; the SQLite file is then read with
the standard library's sqlite3, as anyone with a copy of it could, and every output
of the commands that show them is searched for the secrets.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import stat
from pathlib import Path

from tests.commands.conftest import Cli, device_row, write_csv
from tests.commands.test_profiles import PROFILES, SECRETS, _write
from traceacs.config import DATABASE_FILE
from traceacs.storage.secret_key import KEY_FILE

CR_SECRET = "cr-pw-do-not-store"
TASK_SECRET = "task-wifi-key-do-not-store"
ALL_SECRETS = (*SECRETS, CR_SECRET, TASK_SECRET)


def database_bytes(data_dir: Path) -> str:
    with contextlib.closing(sqlite3.connect(data_dir / DATABASE_FILE)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [db.execute(f"SELECT * FROM {t}").fetchall() for t in tables]
    return repr(rows)


def test_commands_seal_what_they_store_and_print_no_secret(cli: Cli, tmp_path: Path) -> None:
    row = device_row(
        "SEAL1", connection_request_username="cr", connection_request_password=CR_SECRET
    )
    inventory = write_csv(tmp_path / "inv.csv", row)
    profiles = _write(tmp_path, PROFILES)
    outputs = [cli("devices", "import", str(inventory)), cli("profiles", "import", str(profiles))]
    wifi = "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"
    values = json.dumps([[wifi, TASK_SECRET, "xsd:string"]])
    task = ("SEAL1", "setParameterValues", "--arg", f"parameterValues={values}", "--json")
    outputs.append(cli("tasks", "add", *task))
    assert [o.code for o in outputs] == [0, 0, 0], [o.err for o in outputs]
    for argv in (
        ("devices", "show", "SEAL1"),
        ("devices", "show", "SEAL1", "--json"),
        ("devices", "list", "--json"),
        ("profiles", "show", "gold"),
        ("profiles", "show", "gold", "--json"),
        ("profiles", "list", "--json"),
        ("tasks", "list", "SEAL1", "--json"),
    ):
        shown = cli(*argv)
        assert shown.code == 0, (argv, shown.err)
        outputs.append(shown)
    printed = "".join(o.out + o.err for o in outputs)
    assert not [s for s in ALL_SECRETS if s in printed]

    stored = database_bytes(cli.data_dir)
    assert not [s for s in ALL_SECRETS if s in stored]
    assert "enc:v1:" in stored
    key_file = cli.data_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    # ...and what was sealed opens again: the task runner would send the real key.
    async def task_argument(repository: object) -> str:
        from traceacs.storage.repository import SqlDeviceRepository
        from traceacs.storage.tasks import SqlTaskStore

        assert isinstance(repository, SqlDeviceRepository)
        [task] = await SqlTaskStore(repository.db, repository.secrets).device_tasks(
            "00D09E", "SEAL1"
        )
        return str(task.arguments)

    assert TASK_SECRET in cli.with_repository(task_argument)


def sealed_key_ids(data_dir: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(data_dir / DATABASE_FILE)) as db:
        rows = db.execute("SELECT connection_request_password FROM devices").fetchall()
    return {value.split(":")[2] for (value,) in rows}


def test_rotate_key_reseals_and_drops_the_old_key_when_told(cli: Cli, tmp_path: Path) -> None:
    from traceacs.storage.secret_box import decode_key, key_id

    row = device_row(
        "ROT1", connection_request_username="cr", connection_request_password=CR_SECRET
    )
    assert cli("devices", "import", str(write_csv(tmp_path / "inv.csv", row))).code == 0
    key_file = cli.data_dir / KEY_FILE
    [first] = key_file.read_text().split()
    assert sealed_key_ids(cli.data_dir) == {key_id(decode_key(first))}

    rotated = cli("db", "rotate-key")
    assert rotated.code == 0, rotated.err
    new, old = key_file.read_text().split()
    assert old == first
    assert sealed_key_ids(cli.data_dir) == {key_id(decode_key(new))}
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    dropped = cli("db", "rotate-key", "--drop-old")
    assert dropped.code == 0, dropped.err
    assert key_file.read_text().split() == [new]
    shown = cli("devices", "show", "ROT1", "--json")
    assert shown.code == 0
    assert CR_SECRET not in rotated.out + dropped.out + shown.out

    async def password(repository: object) -> str | None:
        from traceacs.storage.repository import SqlDeviceRepository

        assert isinstance(repository, SqlDeviceRepository)
        device = await repository.get_device("00D09E", "ROT1")
        assert device is not None
        return device.connection_request_password

    assert cli.with_repository(password) == CR_SECRET


def test_new_key_prints_a_usable_key(cli: Cli) -> None:
    from traceacs.storage.secret_box import decode_key

    printed = cli("db", "new-key")
    assert printed.code == 0
    assert len(decode_key(printed.out.strip())) == 32
    assert cli("db", "new-key").out != printed.out
