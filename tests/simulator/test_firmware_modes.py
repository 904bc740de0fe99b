"""Simulated firmware: the version comes from the image, failures are injected per CPE."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.simulator.test_cpe import NOW, deliver, make_cpe
from traceacs.cwmp.messages import Download, TransferComplete
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import Failure, FaultPlan, parse_fail_spec
from traceacs.simulator.firmware import firmware_image, image_version

URL = "http://127.0.0.1/files/image.bin?token=abc"
VERSION = "Device.DeviceInfo.SoftwareVersion"


def test_an_image_names_its_version_in_its_first_line() -> None:
    image = firmware_image("5.1.0-rc2", 1000)
    assert len(image) == 1000
    assert image_version(image[:256]) == "5.1.0-rc2"
    assert image_version(b"\x7fELF...") is None
    assert image_version(b"TRACEACS-FIRMWARE 5.1") is None  # header cut before its end
    with pytest.raises(ValueError, match="one non-empty line"):
        firmware_image("1\n2")


def _downloaded(failure: Failure | None, fault_code: int = 0) -> SimulatedCpe:
    cpe = make_cpe(faults=FaultPlan(failure=failure) if failure else None)
    deliver(cpe)
    cpe.handle(Download("fw-1", "1 Firmware Upgrade Image", URL, file_size=1000), NOW)
    cpe.end_session()
    (transfer,) = cpe.take_transfers()
    assert transfer.file_size == 1000
    cpe.transfer_done(transfer, fault_code, NOW, NOW + timedelta(seconds=2), image_version="5.1.0")
    return cpe


def _reported(cpe: SimulatedCpe) -> TransferComplete:
    deliver(cpe)
    request = cpe.next_cpe_request()
    assert isinstance(request, TransferComplete)
    return request


def test_a_good_image_boots_into_the_version_it_carries() -> None:
    cpe = _downloaded(None)
    assert "1 BOOT" in {e.event_code for e in cpe.pending_events}
    assert _reported(cpe).fault.fault_code == 0
    assert cpe.value(VERSION) == "5.1.0"  # not the file name, not the URL's token


def test_corrupt_image_reports_9018_and_keeps_the_old_version() -> None:
    cpe = _downloaded(Failure.FIRMWARE_CORRUPT)
    done = _reported(cpe)
    assert done.fault.fault_code == 9018
    assert done.fault.fault_string
    assert cpe.value(VERSION) == cpe.identity.software_version


def test_timeout_never_reports() -> None:
    cpe = _downloaded(Failure.FIRMWARE_TIMEOUT)
    assert cpe.pending_events == ()
    assert cpe.next_cpe_request() is None
    assert cpe.value(VERSION) == cpe.identity.software_version


def test_wrong_version_reports_success_but_boots_the_old_one() -> None:
    cpe = _downloaded(Failure.FIRMWARE_WRONG_VERSION)
    assert _reported(cpe).fault.fault_code == 0
    assert cpe.value(VERSION) == cpe.identity.software_version


def test_a_failed_fetch_is_reported_as_is() -> None:
    cpe = _downloaded(None, fault_code=9010)
    assert _reported(cpe).fault.fault_code == 9010
    assert cpe.value(VERSION) == cpe.identity.software_version


def test_firmware_failures_can_be_asked_for_by_share() -> None:
    shares = parse_fail_spec("firmware_corrupt=10%,firmware_timeout=5%,firmware_wrong_version=1%")
    assert shares == {
        "firmware_corrupt": 0.10,
        "firmware_timeout": 0.05,
        "firmware_wrong_version": 0.01,
    }
