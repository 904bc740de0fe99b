"""The firmware step's pure decisions: when to upgrade, how a transfer is judged, and
the transfer's round trip through an attempt's details."""

from __future__ import annotations

from datetime import UTC, datetime

from traceacs.cwmp import messages as m
from traceacs.provisioning.firmware import (
    FirmwareTransfer,
    command_key_for,
    download_for,
    judge_transfer,
    needs_upgrade,
)
from traceacs.provisioning.profile import FirmwareTarget

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TRANSFER = FirmwareTransfer(
    command_key=command_key_for(41),
    file="gw.bin",
    file_size=123,
    target_version="2.0",
    from_version="1.0",
    sent_at=1000.0,
    timeout_s=1800.0,
)


def done(code: int = 0, text: str = "") -> m.TransferComplete:
    return m.TransferComplete(TRANSFER.command_key, m.FaultStruct(code, text), T0, T0)


def test_upgrade_only_when_a_target_differs_from_the_reported_version() -> None:
    target = FirmwareTarget("GW", "2.0", "gw.bin")
    assert needs_upgrade(target, "1.0")
    assert needs_upgrade(target, None)  # unknown version: install the target
    assert not needs_upgrade(target, "2.0")
    assert not needs_upgrade(None, "1.0")


def test_the_download_is_a_firmware_image_with_size_and_a_short_command_key() -> None:
    request = download_for(TRANSFER.command_key, "http://acs/files/gw.bin?token=t", 123)
    assert (request.file_type, request.file_size) == ("1 Firmware Upgrade Image", 123)
    assert len(command_key_for(10**12)) <= 32  # CommandKey is a string(32)


def test_transfer_verdicts() -> None:
    assert judge_transfer(TRANSFER, done(), "2.0") is None
    corrupt = judge_transfer(TRANSFER, done(9018, "File corrupted"), "1.0")
    assert corrupt is not None
    assert (corrupt.fault_code, corrupt.fault_string) == (9018, "File corrupted")
    assert "9018" in corrupt.message
    wrong = judge_transfer(TRANSFER, done(), "1.0")
    assert wrong is not None
    assert wrong.message == "still running 1.0 after upgrade to 2.0"
    assert wrong.fault_code is None


def test_transfer_round_trips_through_attempt_details() -> None:
    details = TRANSFER.to_details()
    assert FirmwareTransfer.from_details(details) == TRANSFER
    assert TRANSFER.deadline == 2800.0
    assert TRANSFER.timeout_reason() == "firmware download timed out after 1800 s"
    assert FirmwareTransfer.from_details({}) is None
    assert FirmwareTransfer.from_details({"firmware": {"file": "x"}}) is None
    assert "url" not in str(details).lower()
