from __future__ import annotations

import io
import json
from pathlib import Path

from tests.commands.conftest import Cli, device_row, write_csv
from traceacs.cli import main
from traceacs.commands.output import Progress
from traceacs.provisioning.device import Device
from traceacs.storage import SqlDeviceRepository


async def _all(repository: SqlDeviceRepository) -> list[Device]:
    return await repository.list_devices(limit=1000)


def test_import_good_csv_creates_then_updates(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "inv.csv", device_row("SN1"), device_row("SN2"), device_row("SN3"))

    first = cli("devices", "import", str(path))

    assert first.code == 0, first.err
    assert "3 created, 0 updated" in first.out
    assert [d.serial_number for d in cli.with_repository(_all)] == ["SN1", "SN2", "SN3"]

    write_csv(tmp_path / "inv.csv", device_row("SN1", service_plan="platinum"), device_row("SN4"))
    second = cli("devices", "import", str(path))
    assert second.code == 0, second.err
    assert "1 created, 1 updated" in second.out
    plans = {d.serial_number: d.service_plan for d in cli.with_repository(_all)}
    assert plans == {"SN1": "platinum", "SN2": "gold", "SN3": "gold", "SN4": "gold"}


def test_import_csv_with_only_the_required_columns(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "min.csv"
    path.write_text(
        "oui,serial_number,product_class,customer_id,service_plan,location_id\n"
        "00d09e,SNX,GW,C1,gold,L1\n",
        encoding="utf-8",
    )
    result = cli("devices", "import", str(path))
    assert result.code == 0, result.err
    [device] = cli.with_repository(_all)
    assert (device.oui, device.serial_number, device.customer_id) == ("00D09E", "SNX", "C1")


def test_import_json_list_with_json_output(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "inv.json"
    path.write_text(
        json.dumps(
            [
                {
                    "serial_number": "J1",
                    "oui": "00D09E",
                    "product_class": "GW",
                    "customer_id": "C1",
                    "service_plan": "gold",
                    "location_id": "L1",
                    "mac": "00:11:22:33:44:55",
                    "connection_request_username": "cr",
                    "connection_request_password": "cr-secret-1",
                },
                {
                    "serial_number": 12345,
                    "oui": "00D09E",
                    "product_class": "GW",
                    "customer_id": "C2",
                    "service_plan": "silver",
                    "location_id": "L2",
                },
            ]
        ),
        encoding="utf-8",
    )
    result = cli("devices", "import", str(path), "--json")

    assert result.code == 0, result.err
    assert json.loads(result.out) == {"imported": True, "created": 2, "updated": 0, "total": 2}
    devices = {d.serial_number: d for d in cli.with_repository(_all)}
    assert devices["J1"].connection_request_password == "cr-secret-1"
    assert devices["J1"].mac == "00:11:22:33:44:55"
    assert devices["12345"].service_plan == "silver"


def test_bad_rows_import_nothing_and_are_named_without_secrets(cli: Cli, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", device_row("KEEP", service_plan="gold"))
    assert cli("devices", "import", str(good)).code == 0
    bad = write_csv(
        tmp_path / "bad.csv",
        device_row("KEEP", service_plan="changed"),
        device_row("B1", oui="XYZ", connection_request_password="pw-in-bad-row"),
        device_row("B2"),
        device_row("B3", customer_id=""),
        device_row("B2"),
        device_row("B5", mac="not-a-mac"),
    )

    result = cli("devices", "import", str(bad))

    assert result.code == 2
    assert "nothing imported" in result.err
    assert "line 3: oui must be 6 hexadecimal digits" in result.err
    assert "line 5: customer_id is empty" in result.err
    assert "line 6: serial_number repeats device 00D09E/B2 of line 4" in result.err
    assert "line 7: mac must be a MAC address" in result.err
    assert "line 2" not in result.err  # the good row is not blamed
    assert "pw-in-bad-row" not in result.err + result.out
    devices = cli.with_repository(_all)
    assert [(d.serial_number, d.service_plan) for d in devices] == [("KEEP", "gold")]


def test_shifted_columns_are_reported_without_echoing_values(cli: Cli, tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", device_row("S1") + ",leaked-secret")
    result = cli("devices", "import", str(bad))
    assert result.code == 2
    assert "line 2: has 10 fields, the header has 9" in result.err
    assert "leaked-secret" not in result.err


def test_header_problems_are_reported_once(cli: Cli, tmp_path: Path) -> None:
    bad = write_csv(
        tmp_path / "bad.csv",
        "S1,00D09E,GW,C1,gold,pw",
        header="serial_number,oui,product_class,customer_id,service_plan,conection_password",
    )
    result = cli("devices", "import", str(bad))
    assert result.code == 2
    assert "header: missing column(s): location_id" in result.err
    assert "header: unknown column(s): conection_password" in result.err
    assert not (cli.data_dir / "traceacs.db").exists()  # nothing was even opened


def test_bad_json_items_are_named_by_index_and_field(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "inv.json"
    base = {
        "serial_number": "J1",
        "oui": "00D09E",
        "product_class": "GW",
        "customer_id": "C1",
        "service_plan": "gold",
        "location_id": "L1",
    }
    items = [base, {**base, "serial_number": "J2", "location_id": ["x"]}, "nope"]
    items.append({k: v for k, v in base.items() if k != "customer_id"} | {"serial_number": "J4"})
    path.write_text(json.dumps(items), encoding="utf-8")

    result = cli("devices", "import", str(path), "--json")

    assert result.code == 2
    problems = json.loads(result.out)["problems"]
    assert {"where": "[1]", "field": "location_id", "message": "must be a string"} in problems
    assert {"where": "[2]", "field": None, "message": "must be an object"} in problems
    assert {"where": "[3]", "field": "customer_id", "message": "is missing"} in problems
    assert not any(p["where"] == "[0]" for p in problems)
    assert not (cli.data_dir / "traceacs.db").exists()


def test_unreadable_file_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    result = cli("devices", "import", str(tmp_path / "missing.csv"))
    assert result.code == 2
    assert "cannot be read" in result.err


def test_dry_run_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "inv.csv", device_row("SN1"))
    result = cli("devices", "import", str(path), "--dry-run")
    assert result.code == 0
    assert "1 devices, no problems found" in result.out
    assert not (cli.data_dir / "traceacs.db").exists()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_for_large_work_only() -> None:
    tty = _Tty()
    progress = Progress("checking", 5000, stream=tty)
    for done in range(1, 5001):
        progress.update(done)
    progress.done()
    drawn = tty.getvalue()
    assert f"checking [{'#' * Progress.WIDTH}] 5000/5000 100%" in drawn
    assert "checking [##############..............] 2500/5000  50%" in drawn
    assert drawn.count("\r") <= 102  # about one redraw per percent, not per row

    small, pipe, scripted = _Tty(), io.StringIO(), _Tty()
    for stream, total, enabled in ((small, 10, True), (pipe, 5000, True), (scripted, 5000, False)):
        quiet = Progress("checking", total, stream=stream, enabled=enabled)
        quiet.update(total)
        quiet.message("writing")
        quiet.done()
        assert stream.getvalue() == ""


def test_simulator_inventory_and_profiles_import_as_written(cli: Cli, tmp_path: Path) -> None:
    """The files ``traceacs simulate --inventory-out`` writes are what the importers read."""
    inventory = tmp_path / "sim" / "inventory.csv"
    assert main(["simulate", "--cpes", "6", "--inventory-out", str(inventory)]) == 0

    devices = cli("devices", "import", str(inventory), "--json")
    profiles = cli("profiles", "import", str(inventory.with_name("profiles.yaml")), "--json")

    assert devices.code == 0, devices.err
    assert json.loads(devices.out)["created"] == len(inventory.read_text().splitlines()) - 1
    assert profiles.code == 0, profiles.err
    assert json.loads(profiles.out)["profiles"]
