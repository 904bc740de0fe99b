"""The one-pass walk takes every well-formed message itself, and reads it as the
reference walk does; it hands the irregular ones over rather than guessing."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.cwmp.strategies import envelopes, message_of
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.parse_fast import RPC_PLANS, parse_rpc
from traceacs.cwmp.parse_tree import parse_body

RPC_MESSAGES = [cls for cls in m.ALL_MESSAGES if cls is not m.CwmpFault]


def body_of(wire: bytes) -> etree._Element:
    root = etree.fromstring(wire)
    return root[1]


@pytest.mark.parametrize("cls", RPC_MESSAGES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_well_formed_messages_are_taken_by_the_fast_walk(
    cls: type[m.Message], data: st.DataObject
) -> None:
    envelope = data.draw(envelopes(message_of(cls)))
    body = body_of(serialize_envelope(envelope))
    plan, namespace = RPC_PLANS[body[0].tag]
    fast = parse_rpc(plan, body[0])
    assert fast is not None, "the fast walk declined a well-formed message"
    assert (fast, namespace) == parse_body(body)
    assert fast == envelope.body


def test_parameters_built_slot_by_slot_are_ordinary_values() -> None:
    """The fast walk fills ParameterValueStruct's slots itself: that is only the same
    as calling it while the class has no __post_init__ and stays frozen and hashable."""
    assert not hasattr(m.ParameterValueStruct, "__post_init__")
    assert [f.name for f in dataclasses.fields(m.ParameterValueStruct)] == [
        "name",
        "value",
        "xsd_type",
    ]
    wire = serialize_envelope(
        m.Envelope(m.GetParameterValuesResponse((m.ParameterValueStruct("A.B", 7, "int"),)))
    )
    parsed = parse_envelope(wire).body
    assert isinstance(parsed, m.GetParameterValuesResponse)
    (pvs,) = parsed.parameters
    assert pvs == m.ParameterValueStruct("A.B", 7, "int")
    assert hash(pvs) == hash(m.ParameterValueStruct("A.B", 7, "int"))
    assert repr(pvs) == repr(m.ParameterValueStruct("A.B", 7, "int"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        pvs.name = "C.D"  # type: ignore[misc]


ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.mark.parametrize(
    "rpc",
    [
        "<cwmp:AddObjectResponse><Status>0</Status></cwmp:AddObjectResponse>",
        "<cwmp:ScheduleInform><DelaySeconds>soon</DelaySeconds></cwmp:ScheduleInform>",
        "<cwmp:GetParameterValuesResponse><ParameterList><ParameterValueStruct>"
        "<Value>x</Value></ParameterValueStruct></ParameterList></cwmp:GetParameterValuesResponse>",
    ],
)
def test_irregular_messages_are_handed_over(rpc: str) -> None:
    body = body_of(
        f'<s:Envelope xmlns:s="{ENV}" xmlns:cwmp="urn:dslforum-org:cwmp-1-0">'
        f"<s:Header/><s:Body>{rpc}</s:Body></s:Envelope>".encode()
    )
    plan, _ = RPC_PLANS[body[0].tag]
    assert parse_rpc(plan, body[0]) is None


INFORM = (
    "<cwmp:Inform><DeviceId><Manufacturer>M</Manufacturer><OUI>O</OUI>"
    "<ProductClass>P</ProductClass><SerialNumber>S</SerialNumber></DeviceId>"
    "<Event><EventStruct><EventCode>2 PERIODIC</EventCode><CommandKey></CommandKey>"
    "</EventStruct><EventStruct><EventCode>M Reboot</EventCode><CommandKey>k</CommandKey>"
    "</EventStruct></Event><MaxEnvelopes>{max}</MaxEnvelopes>"
    "<CurrentTime>2024-05-01T10:00:00Z</CurrentTime><RetryCount>{retry}</RetryCount>"
    "<ParameterList></ParameterList></cwmp:Inform>"
)


@pytest.mark.parametrize(
    ("rpc", "max_envelopes", "retry_count"),
    [
        (INFORM.format(max="1", retry="0"), 1, 0),  # in schema order: read positionally
        (INFORM.format(max="007", retry=" 300 "), 7, 300),  # beyond the small-int table
        (  # DeviceId out of order, a field qualified: the by-tag loop
            INFORM.format(max="255", retry="256").replace(
                "<Manufacturer>M</Manufacturer><OUI>O</OUI>",
                "<cwmp:OUI>O</cwmp:OUI><Manufacturer>M</Manufacturer>",
            ),
            255,
            256,
        ),
    ],
)
def test_informs_read_in_order_or_by_tag_are_the_reference_walks(
    rpc: str, max_envelopes: int, retry_count: int
) -> None:
    body = body_of(
        f'<s:Envelope xmlns:s="{ENV}" xmlns:cwmp="urn:dslforum-org:cwmp-1-0">'
        f"<s:Header/><s:Body>{rpc}</s:Body></s:Envelope>".encode()
    )
    plan, namespace = RPC_PLANS[body[0].tag]
    fast = parse_rpc(plan, body[0])
    assert (fast, namespace) == parse_body(body)
    assert isinstance(fast, m.Inform)
    assert fast.device_id == m.DeviceId("M", "O", "P", "S")
    assert fast.events == (m.EventStruct("2 PERIODIC"), m.EventStruct("M Reboot", "k"))
    assert (fast.max_envelopes, fast.retry_count) == (max_envelopes, retry_count)
