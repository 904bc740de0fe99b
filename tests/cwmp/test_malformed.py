"""Hostile and broken input: always a CwmpParseError with a clear message, nothing else."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.errors import CwmpParseError

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CWMP = "urn:dslforum-org:cwmp-1-0"


def envelope(body: str, header: str = "", *, cwmp: str = CWMP, env: str = ENV) -> bytes:
    return (
        f'<?xml version="1.0"?><s:Envelope xmlns:s="{env}" xmlns:cwmp="{cwmp}">'
        f"{header}<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


VALID = serialize_envelope(
    m.Envelope(
        m.SetParameterValuesResponse(status=0), cwmp_id="42", namespace="urn:dslforum-org:cwmp-1-2"
    )
)
INFORM = serialize_envelope(
    m.Envelope(
        m.Inform(
            m.DeviceId("Acme", "00D09E", "IGD", "SN1"),
            (m.EventStruct("1 BOOT"),),
            1,
            datetime(2024, 1, 1, tzinfo=UTC),
            0,
            (m.ParameterValueStruct("Device.WiFi.SSID.1.SSID", "Wi-Fi"),),
        ),
        cwmp_id="1",
    )
)


def parse_error(data: bytes, **kwargs: int) -> CwmpParseError:
    with pytest.raises(CwmpParseError) as info:
        parse_envelope(data, **kwargs)
    return info.value


def test_truncated_xml() -> None:
    err = parse_error(INFORM[: len(INFORM) // 2])
    assert "malformed XML" in err.message
    assert err.fault_code == 8003


def test_empty_input() -> None:
    assert "empty envelope" in parse_error(b"").message
    assert "empty envelope" in parse_error(b"  \r\n").message


def test_doctype_is_rejected() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ELEMENT x ANY>]>' + VALID.split(b"?>", 1)[1]
    assert "DOCTYPE" in parse_error(data).message


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><s:Body><cwmp:Reboot>
  <CommandKey>&lol4;</CommandKey></cwmp:Reboot></s:Body></s:Envelope>"""


def test_billion_laughs_entity_bomb() -> None:
    assert "DOCTYPE" in parse_error(BILLION_LAUGHS).message


def test_xxe_external_entity() -> None:
    data = BILLION_LAUGHS.replace(
        b'<!ENTITY lol "lol">', b'<!ENTITY lol SYSTEM "file:///etc/passwd">'
    )
    err = parse_error(data)
    assert "DOCTYPE" in err.message
    assert "root:" not in err.message


def test_doctype_in_utf16_is_still_rejected() -> None:
    """The cheap byte scan misses UTF-16; the check after parsing does not."""
    text = BILLION_LAUGHS.decode().replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>'
    )
    assert "DOCTYPE" in parse_error(text.encode("utf-16")).message


def test_undeclared_entity_is_malformed() -> None:
    data = envelope("<cwmp:Reboot><CommandKey>&secret;</CommandKey></cwmp:Reboot>")
    assert "malformed XML" in parse_error(data).message


def test_wrong_envelope_namespace() -> None:
    soap12 = "http://www.w3.org/2003/05/soap-envelope"
    err = parse_error(envelope("<cwmp:RebootResponse/>", env=soap12))
    assert "expected a SOAP 1.1 Envelope" in err.message
    assert soap12 in err.message


def test_root_is_not_an_envelope() -> None:
    assert "expected a SOAP 1.1 Envelope" in parse_error(b"<html><body/></html>").message


def test_wrong_cwmp_namespace() -> None:
    err = parse_error(envelope("<cwmp:RebootResponse/>", cwmp="urn:dslforum-org:cwmp-9-9"))
    assert "not in a CWMP namespace" in err.message
    assert err.fault_code == 8003


def test_unqualified_rpc_element() -> None:
    assert "not in a CWMP namespace" in parse_error(envelope("<RebootResponse/>")).message


def test_missing_body() -> None:
    data = (
        f'<s:Envelope xmlns:s="{ENV}" xmlns:cwmp="{CWMP}"><s:Header>'
        '<cwmp:ID s:mustUnderstand="1">77</cwmp:ID></s:Header></s:Envelope>'
    ).encode()
    err = parse_error(data)
    assert "no SOAP Body" in err.message
    assert err.cwmp_id == "77"
    assert err.namespace == CWMP


def test_empty_body() -> None:
    assert "Body is empty" in parse_error(envelope("")).message


def test_two_body_elements() -> None:
    err = parse_error(envelope("<cwmp:RebootResponse/><cwmp:FactoryResetResponse/>"))
    assert "holds 2 elements" in err.message


def test_unknown_method_is_fault_8000_with_id_and_namespace() -> None:
    ns = "urn:dslforum-org:cwmp-1-2"
    header = '<s:Header><cwmp:ID s:mustUnderstand="1">abc</cwmp:ID></s:Header>'
    err = parse_error(envelope("<cwmp:GetQueuedTransfers/>", header, cwmp=ns))
    assert err.fault_code == 8000
    assert "GetQueuedTransfers" in err.message
    assert err.cwmp_id == "abc"
    assert err.namespace == ns


def test_missing_required_element_names_the_path() -> None:
    err = parse_error(
        envelope("<cwmp:AddObjectResponse><Status>0</Status></cwmp:AddObjectResponse>")
    )
    assert err.message == "AddObjectResponse: missing element InstanceNumber"


_GPV = (
    '<cwmp:GetParameterValuesResponse><ParameterList s:arrayType="cwmp:ParameterValueStruct[2]">'
    "<ParameterValueStruct><Name>A.B</Name><Value>1</Value></ParameterValueStruct>"
    "<ParameterValueStruct>{second}</ParameterValueStruct>"
    "</ParameterList></cwmp:GetParameterValuesResponse>"
)


def test_a_parameter_without_a_name_names_its_place_in_the_array() -> None:
    err = parse_error(envelope(_GPV.format(second="<Value>s3cr3t</Value>")))
    assert err.message == "GetParameterValuesResponse/ParameterList[1]: missing element Name"
    assert "s3cr3t" not in str(err)


def test_parameter_fields_qualified_duplicated_or_missing_value() -> None:
    """First Name and Value win, a prefix is no matter, no Value reads as an empty string."""
    body = m.GetParameterValuesResponse
    parsed = parse_envelope(
        envelope(_GPV.format(second="<cwmp:Name>C.D</cwmp:Name><Name>E.F</Name>"))
    ).body
    assert isinstance(parsed, body)
    assert parsed.parameters == (
        m.ParameterValueStruct("A.B", "1"),
        m.ParameterValueStruct("C.D", "", "string"),
    )


def test_bad_scalar_value_names_the_field_but_not_the_text() -> None:
    err = parse_error(
        envelope("<cwmp:ScheduleInform><DelaySeconds>s3cr3t</DelaySeconds></cwmp:ScheduleInform>")
    )
    assert "ScheduleInform/DelaySeconds" in err.message
    assert "s3cr3t" not in err.message


def test_body_over_the_cap_is_refused_before_parsing() -> None:
    err = parse_error(VALID, max_size=len(VALID) - 1)
    assert err.fault_code == 8004
    assert "exceeds" in err.message
    assert parse_envelope(VALID, max_size=len(VALID)).body == m.SetParameterValuesResponse(0)


def test_huge_body_with_the_default_cap() -> None:
    names = "".join(f"<string>Device.X.{i}.</string>" for i in range(200_000))
    data = envelope(
        f"<cwmp:GetParameterValues><ParameterNames>{names}</ParameterNames></cwmp:GetParameterValues>"
    )
    assert parse_error(data).fault_code == 8004


def test_deep_nesting() -> None:
    deep = "<a>" * 5000 + "</a>" * 5000
    data = envelope(f"<cwmp:Reboot><CommandKey>{deep}</CommandKey></cwmp:Reboot>")
    assert "malformed XML" in parse_error(data).message


def test_invalid_utf8() -> None:
    data = envelope("<cwmp:Reboot><CommandKey>caf\xe9</CommandKey></cwmp:Reboot>")
    data = data.replace("caf\xe9".encode(), b"caf\xe9\xff")
    err = parse_error(data)
    assert "malformed XML" in err.message
    assert "\\xff" not in err.message
    assert "0xFF" not in err.message


def test_soap_fault_without_cwmp_detail() -> None:
    body = "<s:Fault><faultcode>Server</faultcode><faultstring>oops</faultstring></s:Fault>"
    assert "detail/cwmp:Fault" in parse_error(envelope(body)).message


def only_parse_errors(data: bytes) -> None:
    with contextlib.suppress(CwmpParseError):
        parse_envelope(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_parse_errors(data: bytes) -> None:
    only_parse_errors(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([VALID, INFORM])))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        pos = draw(st.integers(0, len(data) - 1)) if data else 0
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 20))]
        elif op == "insert":
            snippet = draw(
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"&",
                        b"</x>",
                        b"<!DOCTYPE a>",
                        b"\xff",
                        b'"',
                        b"&#0;",
                        b"<![CDATA[",
                    ]
                )
            )
            data[pos:pos] = snippet
        else:
            del data[pos:]
    return bytes(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages_raise_only_parse_errors(data: bytes) -> None:
    only_parse_errors(data)
