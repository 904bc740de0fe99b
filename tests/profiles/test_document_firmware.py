"""The ``firmware`` key of a profile document: target image per model, precise errors."""

from __future__ import annotations

from typing import Any

import pytest

from traceacs.profiles.document import (
    ProfileDocumentError,
    profile_from_document,
    profile_to_document,
)
from traceacs.provisioning.profile import FirmwareTarget


def document(firmware: object) -> dict[str, Any]:
    return {"name": "basic", "services": ["internet"], "firmware": firmware}


def problems(firmware: object) -> list[str]:
    with pytest.raises(ProfileDocumentError) as info:
        profile_from_document(document(firmware))
    return [str(p) for p in info.value.problems]


def test_targets_per_model_are_read_and_looked_up_by_product_class() -> None:
    profile = profile_from_document(
        document(
            {
                "TraceGW-3": {"version": "2.0.1", "file": "tracegw3-2.0.1.bin"},
                "TraceGW-4": {"version": "4.1", "file": "gw4_4.1.img"},
            }
        )
    )
    assert profile.firmware_for("TraceGW-3") == FirmwareTarget(
        "TraceGW-3", "2.0.1", "tracegw3-2.0.1.bin"
    )
    assert profile.firmware_for("TraceGW-4") == FirmwareTarget("TraceGW-4", "4.1", "gw4_4.1.img")
    assert profile.firmware_for("Other") is None


def test_round_trip_keeps_the_targets() -> None:
    source = document({"TraceGW-3": {"version": "2.0.1", "file": "fw.bin"}})
    profile = profile_from_document(source)
    again = profile_to_document(profile)
    assert again["firmware"] == {"TraceGW-3": {"version": "2.0.1", "file": "fw.bin"}}
    assert profile_from_document(again) == profile


def test_no_firmware_key_means_no_targets() -> None:
    profile = profile_from_document({"name": "basic", "services": ["internet"]})
    assert profile.firmware == ()
    assert "firmware" not in profile_to_document(profile)


@pytest.mark.parametrize(
    ("firmware", "expected"),
    [
        ("2.0.1", ["firmware: must be an object, got string"]),
        ({"GW": "2.0.1"}, ["firmware.GW: must be an object, got string"]),
        ({"GW": {"file": "fw.bin"}}, ["firmware.GW.version: is required"]),
        ({"GW": {"version": "2"}}, ["firmware.GW.file: is required"]),
        (
            {"GW": {"version": 2, "file": "fw.bin"}},
            ["firmware.GW.version: must be a string, got number"],
        ),
        ({"GW": {"version": " ", "file": "fw.bin"}}, ["firmware.GW.version: must not be empty"]),
        (
            {"GW": {"version": "2", "file": "fw.bin", "url": "http://x/"}},
            ["firmware.GW.url: unknown field (expected version, file)"],
        ),
        (
            {"GW": {"version": "2", "file": "../etc/passwd"}},
            [
                "firmware.GW.file: '../etc/passwd': file names use letters, digits, '.', '_'"
                " and '-' only"
            ],
        ),
        (
            {"": {"version": "2", "file": "fw.bin"}},
            ["firmware: model '' must be a non-empty ProductClass"],
        ),
    ],
)
def test_bad_targets_are_refused_with_their_field_path(
    firmware: object, expected: list[str]
) -> None:
    assert problems(firmware) == expected


def test_every_bad_model_is_reported_at_once() -> None:
    found = problems({"A": {"version": "1"}, "B": {"file": "x.bin"}, "C": 3})
    assert found == [
        "firmware.A.file: is required",
        "firmware.B.version: is required",
        "firmware.C: must be an object, got number",
    ]
