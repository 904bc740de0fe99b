from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.commands.conftest import Cli, device_row, write_csv
from traceacs.provisioning.device import DeviceIdentity, InformFacts, ProvisioningState
from traceacs.storage import SqlDeviceRepository

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z
MISMATCHED = "Device.WiFi.SSID.1.SSID"
FAULTY = "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.SIP.AuthPassword"


@pytest.fixture
def fleet(cli: Cli, tmp_path: Path) -> Cli:
    """Four devices: A1 provisioned, B2 failed at verify, C3 failed at push, D4 new."""
    path = write_csv(
        tmp_path / "inv.csv",
        device_row("A1", customer_id="CUST-1", service_plan="gold"),
        device_row(
            "B2", customer_id="CUST-2", service_plan="gold", connection_request_password="cr-pw-B2"
        ),
        device_row("C3", customer_id="CUST-2", service_plan="silver"),
        device_row("D4", customer_id="CUST-3", service_plan="silver"),
    )
    assert cli("devices", "import", str(path)).code == 0

    async def seed(repository: SqlDeviceRepository) -> None:
        for serial, model in (("A1", "GW-1000"), ("B2", "GW-2000"), ("C3", "GW-2000")):
            facts = InformFacts(
                manufacturer="Trace",
                model=model,
                firmware_version="3.2.1",
                data_model_root="Device.",
                is_boot=True,
            )
            await repository.record_inform("00D09E", serial, T0, facts)
        ok = await repository.start_attempt(DeviceIdentity("00D09E", "A1"), T0, "a" * 32)
        await repository.finish_attempt(ok, T0 + 2, "success")
        old = await repository.start_attempt(DeviceIdentity("00D09E", "B2"), T0, "b" * 32)
        await repository.finish_attempt(old, T0 + 1, "no_profile", failing_step="fetch_profile")
        last = await repository.start_attempt(DeviceIdentity("00D09E", "B2"), T0 + 60, "c" * 32)
        await repository.finish_attempt(
            last,
            T0 + 63.5,
            "verification_failed",
            failing_step="verify",
            fault_string="2 parameters differ after SetParameterValues",
            failure_reason="values read back differ from the values pushed",
            details={
                "mismatched_parameters": [MISMATCHED],
                "parameter_faults": {FAULTY: {"fault_code": 9007}},
            },
        )
        push = await repository.start_attempt(DeviceIdentity("00D09E", "C3"), T0, "d" * 32)
        await repository.finish_attempt(
            push,
            T0 + 1,
            "config_push_failed",
            failing_step="push_config",
            fault_code=9003,
            fault_string="Invalid arguments",
        )

    cli.with_repository(seed)
    return cli


def _serials(result_out: str) -> list[str]:
    return [d["serial_number"] for d in json.loads(result_out)["devices"]]


def test_list_filters_sort_and_pages(fleet: Cli) -> None:
    assert _serials(fleet("devices", "list", "--json").out) == ["A1", "B2", "C3", "D4"]
    assert _serials(fleet("devices", "list", "--state", "failed", "--json").out) == ["B2", "C3"]
    assert _serials(fleet("devices", "list", "--failed-step", "verify", "--json").out) == ["B2"]
    assert _serials(fleet("devices", "list", "--customer-id", "CUST-2", "--json").out) == [
        "B2",
        "C3",
    ]
    assert _serials(fleet("devices", "list", "--plan", "silver", "--json").out) == ["C3", "D4"]
    assert _serials(fleet("devices", "list", "--model", "GW-2000", "--json").out) == ["B2", "C3"]
    page = json.loads(
        fleet(
            "devices",
            "list",
            "--sort",
            "serial_number",
            "--desc",
            "--limit",
            "2",
            "--offset",
            "1",
            "--json",
        ).out
    )
    assert [d["serial_number"] for d in page["devices"]] == ["C3", "B2"]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)


def test_list_table_for_people(fleet: Cli) -> None:
    result = fleet("devices", "list", "--state", "failed")
    assert result.code == 0
    header, *rows, footer = result.out.splitlines()
    assert header.split()[:3] == ["SERIAL", "OUI", "MODEL"]
    assert [r.split()[0] for r in rows] == ["B2", "C3"]
    assert "verify" in rows[0]
    assert "push_config" in rows[1]
    assert footer == "1-2 of 2 devices"
    assert "cr-pw-B2" not in result.out


def test_list_rejects_a_negative_limit(fleet: Cli) -> None:
    with pytest.raises(SystemExit) as exc:
        fleet("devices", "list", "--limit", "-1")
    assert exc.value.code == 2


def test_show_failed_device_names_step_reason_and_parameters(fleet: Cli) -> None:
    result = fleet("devices", "show", "B2")

    assert result.code == 0, result.err
    out = result.out
    assert "device 00D09E/B2" in out
    assert "state:              failed" in out
    assert "failed step:        verify" in out
    assert "values read back differ from the values pushed" in out
    assert "customer:           CUST-2" in out
    assert "model:              GW-2000" in out
    assert "firmware:           3.2.1" in out
    assert "last inform:        2024-05-01T12:00:00Z" in out
    last = out.split("last attempt", 1)[1]
    assert "result:       verification_failed" in last
    assert "failing step: verify" in last
    assert "2 parameters differ after SetParameterValues" in last
    assert "duration:     3.5 s" in last
    assert "c" * 32 in last
    assert MISMATCHED in last
    assert f"{FAULTY}: fault_code=9007" in last
    history = out.split("\nhistory\n", 1)[1].splitlines()
    assert "verification_failed" in history[1]
    assert "no_profile" in history[2]
    assert "cr-pw-B2" not in out


def test_show_json(fleet: Cli) -> None:
    result = fleet("devices", "show", "B2", "--json")
    assert result.code == 0
    view = json.loads(result.out)
    assert view["state"] == "failed"
    assert view["connection_request_password"] == "********"
    assert view["last_attempt"]["failing_step"] == "verify"
    assert view["last_attempt"]["result"] == "verification_failed"
    assert view["last_attempt"]["trace_id"] == "c" * 32
    assert view["last_attempt"]["details"]["mismatched_parameters"] == [MISMATCHED]
    assert [a["result"] for a in view["attempts"]] == ["verification_failed", "no_profile"]
    assert "cr-pw-B2" not in result.out


def test_show_push_fault_code(fleet: Cli) -> None:
    result = fleet("devices", "show", "C3")
    assert "fault code:   9003" in result.out
    assert "fault string: Invalid arguments" in result.out


def test_show_unknown_device_is_exit_4_not_found(fleet: Cli) -> None:
    result = fleet("devices", "show", "NOPE")
    assert result.code == 4
    assert "no device with serial number 'NOPE'" in result.err
    assert result.out == ""


def test_show_ambiguous_serial_needs_the_oui(fleet: Cli, tmp_path: Path) -> None:
    other = write_csv(tmp_path / "other.csv", device_row("B2", oui="A0B1C2", customer_id="OTHER"))
    assert fleet("devices", "import", str(other)).code == 0

    ambiguous = fleet("devices", "show", "B2")
    assert ambiguous.code == 2
    assert "give the OUI" in ambiguous.err

    chosen = fleet("devices", "show", "B2", "--oui", "a0b1c2", "--json")
    assert chosen.code == 0
    assert json.loads(chosen.out)["customer_id"] == "OTHER"


def test_reprovision_sets_the_state_back_to_new(fleet: Cli) -> None:
    result = fleet("devices", "reprovision", "B2")

    assert result.code == 0, result.err
    assert "failed -> new" in result.out

    async def state(repository: SqlDeviceRepository) -> tuple[ProvisioningState, str | None]:
        device = await repository.get_device("00D09E", "B2")
        assert device is not None
        return device.state, device.failed_step

    assert fleet.with_repository(state) == (ProvisioningState.NEW, None)
    assert fleet("devices", "reprovision", "NOPE").code == 4


def test_delete_removes_the_device(fleet: Cli) -> None:
    assert fleet("devices", "delete", "C3").code == 0
    assert fleet("devices", "show", "C3").code == 4
    assert _serials(fleet("devices", "list", "--json").out) == ["A1", "B2", "D4"]
    assert fleet("devices", "delete", "C3").code == 4
