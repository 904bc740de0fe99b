"""Regressions found by fuzzing the codec (bench/fuzz/fuzz_codec.py, RESULTS.md).

Each input is the smallest form of what the fuzzer or the hostile-input tests found;
the contract is the harness's: `parse_envelope` raises only `CwmpParseError`, and what
parses serialises to bytes that parse back to the same serialisation.
"""

from __future__ import annotations

import pytest

from tests.reliability.harness import envelope
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.errors import CwmpParseError
from traceacs.cwmp.values import parse_int, parse_value


def fault_with_code(faultcode: str) -> bytes:
    wire = envelope(m.CwmpFault(9002, "Internal error", "Client"))
    return wire.replace(
        b"<faultcode>Client</faultcode>", f"<faultcode>{faultcode}</faultcode>".encode()
    )


@pytest.mark.parametrize(
    ("faultcode", "expected"),
    [
        ("SOAP-ENV:&#13;Client", "Client"),  # the fuzzer's find: CR after the prefix
        ("soap:  Server ", "Server"),
        (" Client", "Client"),
        ("Client", "Client"),
    ],
)
def test_soap_fault_code_is_read_stably(faultcode: str, expected: str) -> None:
    parsed = parse_envelope(fault_with_code(faultcode))
    assert isinstance(parsed.body, m.CwmpFault)
    assert parsed.body.soap_fault_code == expected
    wire = serialize_envelope(parsed)
    assert serialize_envelope(parse_envelope(wire)) == wire


@pytest.mark.parametrize("digits", [21, 4301, 5000, 100_000])
def test_integers_too_long_for_any_xsd_type_are_parse_errors(digits: int) -> None:
    text = "7" * digits
    with pytest.raises(CwmpParseError):
        parse_int(text, "unsignedLong")
    with pytest.raises(CwmpParseError):
        parse_value(text, "int")


def test_leading_zeros_do_not_count_against_the_digit_limit() -> None:
    assert parse_int("0" * 100 + "42", "unsignedInt") == 42
    assert parse_int("+" + "0" * 30 + "18446744073709551615", "unsignedLong") == 2**64 - 1
    assert parse_int("-9223372036854775808", "long") == -(2**63)


def test_a_huge_integer_in_an_envelope_is_a_parse_error_with_fault_8003() -> None:
    wire = envelope(m.CwmpFault(9002, "x", "Client")).replace(
        b"<FaultCode>9002", b"<FaultCode>" + b"9" * 5000
    )
    with pytest.raises(CwmpParseError) as refused:
        parse_envelope(wire)
    assert refused.value.fault_code == 8003


def test_a_huge_integer_typed_parameter_value_is_kept_as_text() -> None:
    """Like any value that does not parse as its xsi:type (QUIRKS.md): kept raw."""
    value = "1" * 5000
    wire = envelope(
        m.GetParameterValuesResponse(
            parameters=(m.ParameterValueStruct("Device.X", 1, "unsignedInt"),)
        )
    ).replace(b">1</Value>", f">{value}</Value>".encode())
    parsed = parse_envelope(wire)
    assert isinstance(parsed.body, m.GetParameterValuesResponse)
    assert parsed.body.parameters[0].value == value
