"""parse(serialize(envelope)) == envelope, for every message type and every header."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cwmp.strategies import envelopes, message_of
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.rpc_schema import RPC_SPECS


def test_the_element_table_covers_every_message() -> None:
    assert set(RPC_SPECS) | {m.CwmpFault} == set(m.ALL_MESSAGES)


@pytest.mark.parametrize("cls", m.ALL_MESSAGES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_message_round_trips(cls: type[m.Message], data: st.DataObject) -> None:
    envelope = data.draw(envelopes(message_of(cls)))
    wire = serialize_envelope(envelope)
    assert parse_envelope(wire) == envelope


@settings(max_examples=200, deadline=None)
@given(envelope=envelopes(st.sampled_from(m.ALL_MESSAGES).flatmap(message_of)))
def test_serialization_is_stable(envelope: m.Envelope) -> None:
    """Serializing what was parsed gives the same bytes: nothing drifts on a relay."""
    wire = serialize_envelope(envelope)
    assert serialize_envelope(parse_envelope(wire)) == wire
