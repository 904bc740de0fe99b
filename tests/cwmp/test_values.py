"""xsd value conversion, both ways, including the quirks real CPEs need."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.cwmp.strategies import typed_values
from traceacs.cwmp.errors import CwmpParseError
from traceacs.cwmp.messages import ParamValue
from traceacs.cwmp.values import UNKNOWN_TIME, format_value, parse_value


@pytest.mark.parametrize("text", ["true", "TRUE", "True", "1", " 1 "])
def test_booleans_read_true_in_any_spelling(text: str) -> None:
    assert parse_value(text, "boolean") is True


@pytest.mark.parametrize("text", ["false", "FALSE", "False", "0"])
def test_booleans_read_false_in_any_spelling(text: str) -> None:
    assert parse_value(text, "boolean") is False


def test_booleans_are_written_as_1_and_0() -> None:
    assert format_value(True, "boolean") == "1"
    assert format_value(False, "boolean") == "0"
    assert format_value("true", "boolean") == "1"
    assert format_value("FALSE", "boolean") == "0"


@pytest.mark.parametrize(
    ("text", "xsd_type", "expected"),
    [
        ("42", "int", 42),
        ("-2147483648", "int", -(2**31)),
        ("4294967295", "unsignedInt", 2**32 - 1),
        ("-9223372036854775808", "long", -(2**63)),
        ("18446744073709551615", "unsignedLong", 2**64 - 1),
        (" 7\n", "unsignedInt", 7),
    ],
)
def test_integers(text: str, xsd_type: str, expected: int) -> None:
    assert parse_value(text, xsd_type) == expected


@pytest.mark.parametrize(
    ("text", "xsd_type"),
    [
        ("-1", "unsignedInt"),
        ("4294967296", "unsignedInt"),
        ("2147483648", "int"),
        ("1.5", "int"),
        ("", "int"),
        ("maybe", "boolean"),
        ("2024-13-01T00:00:00Z", "dateTime"),
        ("yesterday", "dateTime"),
        ("not base64!", "base64"),
    ],
)
def test_bad_values_raise_a_parse_error_without_quoting_them(text: str, xsd_type: str) -> None:
    with pytest.raises(CwmpParseError) as info:
        parse_value(text, xsd_type)
    assert info.value.fault_code == 8003
    if text.strip():
        assert text not in str(info.value)


def test_datetime_without_time_zone_is_utc() -> None:
    assert parse_value("2024-05-01T10:20:30", "dateTime") == datetime(
        2024, 5, 1, 10, 20, 30, tzinfo=UTC
    )


def test_datetime_with_offset_is_converted_to_utc() -> None:
    value = parse_value("2024-05-01T12:20:30+02:00", "dateTime")
    assert value == datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)
    assert isinstance(value, datetime)
    assert value.utcoffset() == timedelta(0)


def test_datetime_accepts_fractional_seconds_and_never_emits_them() -> None:
    value = parse_value("2024-05-01T10:20:30.123456789Z", "dateTime")
    assert value == datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=UTC)
    assert format_value(value, "dateTime") == "2024-05-01T10:20:30Z"


def test_the_unknown_time() -> None:
    assert parse_value("0001-01-01T00:00:00Z", "dateTime") == UNKNOWN_TIME
    assert parse_value("0001-01-01T00:00:00", "dateTime") == UNKNOWN_TIME
    assert format_value(UNKNOWN_TIME, "dateTime") == "0001-01-01T00:00:00Z"


def test_datetime_is_written_in_utc() -> None:
    paris = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_value(paris, "dateTime") == "2024-05-01T10:00:00Z"


def test_base64_both_ways_and_tolerates_line_breaks() -> None:
    assert format_value(b"\x00\xffhello", "base64") == "AP9oZWxsbw=="
    assert parse_value("AP9o\nZWxs bw==", "base64") == b"\x00\xffhello"


def test_hex_binary_and_unknown_types_stay_text() -> None:
    assert parse_value("00FF", "hexBinary") == "00FF"
    assert parse_value(" any thing ", "X_ACME_Type") == " any thing "


def test_strings_keep_their_whitespace() -> None:
    assert parse_value("  my ssid \n", "string") == "  my ssid \n"


@given(typed_values)
def test_format_then_parse_round_trips(typed: tuple[ParamValue, str]) -> None:
    value, xsd_type = typed
    assert parse_value(format_value(value, xsd_type), xsd_type) == value


@given(
    st.text(max_size=30), st.sampled_from(["int", "unsignedInt", "boolean", "dateTime", "base64"])
)
def test_parse_value_raises_only_parse_errors(text: str, xsd_type: str) -> None:
    with contextlib.suppress(CwmpParseError):
        parse_value(text, xsd_type)
