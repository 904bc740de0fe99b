"""The codec's fast paths against its reference paths, the code as it was without them.

The one-pass parser (`parse_fast`, declining to the reference walk) and the batched
array writers must change nothing but the CPU they cost: the same envelope or the same
error (message, fault code, echoed ID and namespace) as `parse_envelope_reference` (the
reference walk `parse_tree` alone) for any input, the same bytes as
`serialize_envelope_reference` (every item written on its own, nothing cached) for any
message; and the value shortcuts the same results as the general conversions.

The reference paths are in-tree, so this holds the shortcuts to them, not the codec to
its past: what the codec does at all is pinned by the other tests of this directory.
Inputs: every message in every namespace, the quirk fixtures, and those messages taken
apart at the XML level (elements dropped, doubled, renamed, qualified, reordered, values
and xsi:types changed) so that every way of declining is exercised.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.cwmp.strategies import (
    envelopes,
    message_of,
    parameter_value_structs,
    typed_values,
    xml_text,
)
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.errors import CwmpParseError, CwmpSerializeError
from traceacs.cwmp.namespaces import XSI
from traceacs.cwmp.parse import parse_envelope_reference
from traceacs.cwmp.serialize import serialize_envelope_reference
from traceacs.cwmp.values import (
    format_value,
    format_value_reference,
    parse_datetime,
    parse_datetime_reference,
)

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.xml"))
any_envelope = envelopes(st.sampled_from(m.ALL_MESSAGES).flatmap(message_of))


def parsed(parse: Any, data: bytes) -> Any:
    """What a parser makes of ``data``: the envelope, or its error's every detail."""
    try:
        return parse(data)
    except CwmpParseError as exc:
        return ("error", exc.message, exc.fault_code, exc.cwmp_id, exc.namespace)


def same_parse(data: bytes) -> None:
    assert parsed(parse_envelope, data) == parsed(parse_envelope_reference, data)


def written(serialize: Any, envelope: m.Envelope) -> Any:
    try:
        return serialize(envelope)
    except CwmpSerializeError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("cls", m.ALL_MESSAGES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_message_is_written_and_read_as_before(
    cls: type[m.Message], data: st.DataObject
) -> None:
    envelope = data.draw(envelopes(message_of(cls)))
    wire = serialize_envelope(envelope)
    assert wire == serialize_envelope_reference(envelope)
    same_parse(wire)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_quirk_fixtures_parse_as_before(path: Path) -> None:
    same_parse(path.read_bytes())


_BAD_TEXT = st.sampled_from(["key\x00", "\x1b[31m", "\ud800", "\uffff", "a\rb", '<&>"'])


@settings(max_examples=200, deadline=None)
@given(
    params=st.lists(parameter_value_structs, max_size=5),
    names=st.lists(xml_text | _BAD_TEXT, max_size=5),
    bad=_BAD_TEXT,
    where=st.sampled_from(["name", "value", "names", "none"]),
)
def test_arrays_with_text_to_escape_or_refuse_are_written_as_before(
    params: list[m.ParameterValueStruct], names: list[str], bad: str, where: str
) -> None:
    """The batched array writers escape (or refuse) exactly as the per-item ones did."""
    if where == "name":
        params.append(m.ParameterValueStruct(bad, "v"))
    elif where == "value":
        params.append(m.ParameterValueStruct("Device.X", bad))
    elif where == "names":
        names.append(bad)
    for body in (m.SetParameterValues(tuple(params)), m.GetParameterValues(tuple(names))):
        envelope = m.Envelope(body, cwmp_id="1")
        assert written(serialize_envelope, envelope) == written(
            serialize_envelope_reference, envelope
        )


@pytest.mark.parametrize(
    "body",
    [m.InformResponse(1), m.InformResponse(True), m.InformResponse(7), m.RebootResponse()],
    ids=repr,
)
def test_small_bodies_are_written_as_before_every_time(body: m.Message) -> None:
    """Kept once written: the second serialization is still the reference's bytes."""
    for namespace in ("urn:dslforum-org:cwmp-1-2", 'urn:x&"<'):
        envelope = m.Envelope(body, cwmp_id="9", namespace=namespace, hold_requests=False)
        expected = serialize_envelope_reference(envelope)
        assert serialize_envelope(envelope) == expected
        assert serialize_envelope(envelope) == expected


# --------------------------------------------------------------- messages taken apart

_TAGS = [
    "Name",
    "Value",
    "ParameterValueStruct",
    "string",
    "X",
    "{urn:dslforum-org:cwmp-1-0}Name",
    "{urn:x}Value",
    "{urn:x}DeviceId",
    "EventCode",
    "CurrentTime",
]
_TEXTS = [
    "",
    " 1 ",
    "1",
    "0",
    "true",
    "FALSE",
    "abc",
    "-5",
    "+7",
    "99999999999",
    "123456789",
    "1234567890",
    "\u0661\u0662",
    "2024-01-01T00:00:00",
    "2024-01-01T00:00:00.5+02:00",
    "0001-01-01T00:00:00Z",
    "AAEC",
    "not base64!",
]
_TYPES = [
    None,
    "",
    "xsd:string",
    "xsd:int",
    "xsd:unsignedInt",
    "xsd:boolean",
    "xsd:dateTime",
    "xsd:base64",
    "xsd:long",
    "xsd:unsignedLong",
    "xsd:hexBinary",
    "cwmp:vendor",
    " xsd:string ",
    "xsd:Boolean",
]
_XSI_TYPE = f"{{{XSI}}}type"


def _mutate(el: etree._Element, op: str, arg: int) -> None:
    parent = el.getparent()
    if op == "delete" and parent is not None:
        parent.remove(el)
    elif op == "duplicate" and parent is not None:
        twin = copy.deepcopy(el)  # which of the two counts must show
        leaves = [e for e in twin.iter(etree.Element) if len(e) == 0]
        (leaves[0] if leaves else twin).text = "dup"
        el.addnext(twin)
    elif op == "rename":
        el.tag = _TAGS[arg % len(_TAGS)]
    elif op == "qualify":
        local = el.tag.rpartition("}")[2] if isinstance(el.tag, str) else "X"
        el.tag = f"{{{['urn:dslforum-org:cwmp-1-2', 'urn:x'][arg % 2]}}}{local}"
    elif op == "text":
        el.text = _TEXTS[arg % len(_TEXTS)]
    elif op == "xsi_type":
        xsd_type = _TYPES[arg % len(_TYPES)]
        if xsd_type is None:
            if _XSI_TYPE in el.attrib:
                del el.attrib[_XSI_TYPE]
        else:
            el.set(_XSI_TYPE, xsd_type)
    elif op == "add_child":
        etree.SubElement(el, _TAGS[arg % len(_TAGS)]).text = _TEXTS[arg % len(_TEXTS)]
    elif op == "reverse":
        el[:] = list(reversed(el))
    elif op == "comment":
        el.append(etree.Comment("c"))


@st.composite
def taken_apart(draw: st.DrawFn) -> bytes:
    envelope = draw(any_envelope)
    root = etree.fromstring(serialize_envelope(envelope))
    for _ in range(draw(st.integers(1, 4))):
        elements = list(root.iter(etree.Element))
        el = elements[draw(st.integers(0, len(elements) - 1))]
        op = draw(
            st.sampled_from(
                [
                    "delete",
                    "duplicate",
                    "rename",
                    "qualify",
                    "text",
                    "xsi_type",
                    "add_child",
                    "reverse",
                    "comment",
                ]
            )
        )
        _mutate(el, op, draw(st.integers(0, 1000)))
    return etree.tostring(root)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(taken_apart())
def test_messages_taken_apart_parse_as_before(data: bytes) -> None:
    same_parse(data)


_INFORM_PARAMETERS = st.lists(
    st.tuples(st.sampled_from(_TYPES), st.sampled_from(_TEXTS)), min_size=1, max_size=6
)


@settings(max_examples=300, deadline=None)
@given(values=_INFORM_PARAMETERS)
def test_typed_parameter_values_parse_as_before(values: list[tuple[str | None, str]]) -> None:
    """Every xsi:type with every kind of text: converted, or kept as the CPE's text,
    in a GetParameterValuesResponse and in an Inform;
    the Inform's CurrentTime is any of the texts too."""
    items = "".join(
        "<ParameterValueStruct><Name>P</Name><Value"
        + ("" if xsd_type is None else f' xsi:type="{xsd_type}"')
        + f">{text}</Value></ParameterValueStruct>"
        for xsd_type, text in values
    )
    data = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
        f' xmlns:xsi="{XSI}" xmlns:cwmp="urn:dslforum-org:cwmp-1-1">'
        "<s:Body><cwmp:GetParameterValuesResponse><ParameterList>"
        f"{items}</ParameterList></cwmp:GetParameterValuesResponse></s:Body></s:Envelope>"
    ).encode()
    same_parse(data)
    inform = (
        "<cwmp:Inform><DeviceId><Manufacturer/><OUI/><ProductClass/><SerialNumber/>"
        "</DeviceId><Event/><MaxEnvelopes>1</MaxEnvelopes><CurrentTime>"
        f"{values[0][1]}</CurrentTime><RetryCount>0</RetryCount><ParameterList>{items}"
        "</ParameterList></cwmp:Inform>"
    )
    same_parse(
        data.replace(data[data.index(b"<cwmp:Get") : data.index(b"</s:Body>")], inform.encode())
    )


def _value_or_error(convert: Any, text: str) -> Any:
    try:
        value = convert(text)
    except CwmpParseError as exc:
        return ("error", exc.message)
    return value, repr(value)  # the type and time zone too


_DATES = st.builds(
    "{}-{}-{}T{}:{}:{}{}{}".format,
    st.sampled_from(["2024", "0001", "9999", "0000", "12345"]),
    st.sampled_from(["01", "02", "12", "13", "00"]),
    st.sampled_from(["01", "28", "29", "30", "31", "32"]),
    st.sampled_from(["00", "23", "24"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["", ".5", ",123456789", "."]),
    st.sampled_from(["", "Z", "z", "+02:00", "-0130", "+24:00", "+23:59", "Q"]),
)


@settings(max_examples=400, deadline=None)
@given(
    text=_DATES | st.sampled_from(_TEXTS) | st.text(max_size=12),
    pad=st.sampled_from(["", " ", "\n"]),
)
def test_datetimes_convert_as_before(text: str, pad: str) -> None:
    """The whole-seconds-UTC shortcut reads every text as the general reading does."""
    text = pad + text + pad
    assert _value_or_error(parse_datetime, text) == _value_or_error(parse_datetime_reference, text)


class _Level(int):
    """An int subclass (an IntEnum-like value): formatted by the general path."""

    def __str__(self) -> str:
        return f"Level {int(self)}"


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        typed_values.map(lambda tv: tv[0]),
        st.sampled_from(["true", " FALSE ", "1", "yes", ""]),
        st.integers(0, 9).map(_Level),
    ),
    xsd_type=st.sampled_from(["string", "boolean", "Boolean", "int", "unsignedInt", "x"]),
)
def test_values_are_formatted_as_before(value: m.ParamValue, xsd_type: str) -> None:
    assert format_value(value, xsd_type) == format_value_reference(value, xsd_type)


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T10:00:00Z",  # the shape fromisoformat reads
        "0001-01-01T00:00:00Z",  # the unknown time
        "2024-02-29T23:59:59Z",
        "2023-02-29T00:00:00Z",  # the shape, an impossible date: the general reading's error
        "2024-13-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T23:59:60Z",
        " 2024-05-01T10:00:00Z",  # any other shape: the general reading
        "2024-05-01T10:00:00Z\n",
        "2024-05-01T10:00:00z",
        "2024-05-01T10:00:00",
        "2024-05-01T10:00:00+00:00",
        "2024-05-01T10:00:00.5Z",
        "2024-05-01 10:00:00Z",  # fromisoformat would read these three
        "2024-W18-3T10:00:00Z",
        "20240501T100000Z",
        "\u0662\u0660\u0662\u0664-05-01T10:00:00Z",  # non-ASCII digits
    ],
)
def test_datetimes_outside_the_shortcut_take_the_general_reading(text: str) -> None:
    assert _value_or_error(parse_datetime, text) == _value_or_error(parse_datetime_reference, text)
