from __future__ import annotations

import pytest

from traceacs.cwmp.errors import ProtocolError
from traceacs.cwmp.session import (
    TRANSITIONS,
    Aborted,
    AcsRequestSent,
    CpeRequestReceived,
    CpeResponseReceived,
    CwmpSession,
    EmptyPostEndsSession,
    EmptyPostReceived,
    Event,
    InformReceived,
    NoMoreAcsRequests,
    State,
    TimedOut,
)

ALL_EVENTS: tuple[Event, ...] = (
    InformReceived(),
    CpeRequestReceived("TransferComplete"),
    EmptyPostReceived(),
    EmptyPostEndsSession(),
    AcsRequestSent("GetParameterValues"),
    CpeResponseReceived("GetParameterValuesResponse"),
    NoMoreAcsRequests(),
    TimedOut(),
    Aborted("dropped"),
)

EXPECTED_TABLE = {
    (State.AWAITING_INFORM, InformReceived): State.CPE_REQUESTS,
    (State.CPE_REQUESTS, CpeRequestReceived): State.CPE_REQUESTS,
    (State.CPE_REQUESTS, EmptyPostReceived): State.ACS_REQUESTS,
    (State.CPE_REQUESTS, EmptyPostEndsSession): State.ENDED,
    (State.ACS_REQUESTS, AcsRequestSent): State.AWAITING_CPE_RESPONSE,
    (State.AWAITING_CPE_RESPONSE, CpeResponseReceived): State.ACS_REQUESTS,
    (State.ACS_REQUESTS, NoMoreAcsRequests): State.ENDED,
}


def session_in(state: State, now: float = 0.0) -> CwmpSession:
    session = CwmpSession(now)
    session.state = state
    return session


def test_the_table_is_exactly_the_cwmp_session_shape() -> None:
    live = [s for s in State if s is not State.ENDED]
    expected = dict(EXPECTED_TABLE)
    for state in live:
        expected[(state, TimedOut)] = State.ENDED
        expected[(state, Aborted)] = State.ENDED
    assert expected == TRANSITIONS


@pytest.mark.parametrize(("state", "event"), [(s, e) for s in State for e in ALL_EVENTS])
def test_every_pair_is_either_a_table_move_or_a_precise_protocol_error(
    state: State, event: Event
) -> None:
    session = session_in(state)
    target = TRANSITIONS.get((state, type(event)))
    if target is not None:
        assert session.handle(event, 1.0) is target
        assert session.state is target
        assert session.last_activity == 1.0
    else:
        with pytest.raises(ProtocolError) as info:
            session.handle(event, 1.0)
        message = str(info.value)
        assert state.name in message
        assert type(event).__name__ in message
        assert session.state is state, "an illegal move must not change the state"
        assert session.last_activity == 0.0


def test_a_whole_session_walks_through_the_states() -> None:
    session = CwmpSession(100.0)
    steps: list[tuple[Event, State]] = [
        (InformReceived(), State.CPE_REQUESTS),
        (CpeRequestReceived("TransferComplete"), State.CPE_REQUESTS),
        (EmptyPostReceived(), State.ACS_REQUESTS),
        (AcsRequestSent("SetParameterValues"), State.AWAITING_CPE_RESPONSE),
        (CpeResponseReceived("SetParameterValuesResponse"), State.ACS_REQUESTS),
        (AcsRequestSent("GetParameterValues"), State.AWAITING_CPE_RESPONSE),
        (CpeResponseReceived("Fault"), State.ACS_REQUESTS),
        (NoMoreAcsRequests(), State.ENDED),
    ]
    for i, (event, expected) in enumerate(steps):
        assert session.handle(event, 100.0 + i) is expected
    assert session.ended


@pytest.mark.parametrize("hold", [False, True])
def test_an_empty_post_that_ends_the_session_is_the_empty_post_then_nothing_to_send(
    hold: bool,
) -> None:
    """`EmptyPostEndsSession` leaves the session where `EmptyPostReceived` followed by
    `NoMoreAcsRequests` leaves it, at the same time, from the one state both accept."""
    one, two = CwmpSession(0.0), CwmpSession(0.0)
    for session in (one, two):
        session.handle(InformReceived(hold_requests=hold), 1.0)
        if not hold:  # a request of the CPE first (HoldRequests forbids it)
            session.handle(CpeRequestReceived("GetRPCMethods"), 2.0)
    assert one.handle(EmptyPostEndsSession(), 5.0) is State.ENDED
    two.handle(EmptyPostReceived(), 5.0)
    two.handle(NoMoreAcsRequests(), 5.0)
    for attribute in ("state", "last_activity", "started_at", "hold_requests", "ended"):
        assert getattr(one, attribute) == getattr(two, attribute), attribute
    assert not one.hold_requests
    assert not one.is_expired(1_000.0), "ended: never expires"


@pytest.mark.parametrize("state", [s for s in State if s is not State.CPE_REQUESTS])
def test_an_empty_post_ends_a_session_only_in_the_cpe_phase(state: State) -> None:
    """Once the ACS has sent an RPC the CPE's empty POST is no end (it must answer)."""
    session = session_in(state)
    with pytest.raises(ProtocolError, match=f"{state.name} cannot handle EmptyPostEndsSession"):
        session.handle(EmptyPostEndsSession(), 1.0)
    assert session.state is state


def test_error_message_names_the_method() -> None:
    session = session_in(State.AWAITING_INFORM)
    with pytest.raises(
        ProtocolError, match=r"state AWAITING_INFORM cannot handle CpeRequestReceived\(Kicked\)"
    ):
        session.handle(CpeRequestReceived("Kicked"), 0.0)


def test_second_inform_in_a_session_is_illegal() -> None:
    session = CwmpSession(0.0)
    session.handle(InformReceived(), 0.0)
    with pytest.raises(ProtocolError, match="CPE_REQUESTS cannot handle InformReceived"):
        session.handle(InformReceived(), 1.0)


def test_hold_requests_forbids_a_cpe_request_in_the_next_message_only() -> None:
    session = CwmpSession(0.0)
    session.handle(InformReceived(hold_requests=True), 0.0)
    assert session.hold_requests
    with pytest.raises(ProtocolError, match="HoldRequests"):
        session.handle(CpeRequestReceived("TransferComplete"), 1.0)
    assert session.state is State.CPE_REQUESTS
    # The empty POST is still fine, and clears the hold.
    session.handle(EmptyPostReceived(), 1.0)
    assert not session.hold_requests


def test_hold_requests_is_lifted_by_an_answer_without_it() -> None:
    session = CwmpSession(0.0)
    session.handle(InformReceived(hold_requests=False), 0.0)
    session.handle(CpeRequestReceived("GetRPCMethods", hold_requests=True), 0.0)
    with pytest.raises(ProtocolError):
        session.handle(CpeRequestReceived("TransferComplete"), 1.0)
    session2 = CwmpSession(0.0)
    session2.handle(InformReceived(), 0.0)
    session2.handle(CpeRequestReceived("TransferComplete"), 0.0)
    session2.handle(CpeRequestReceived("TransferComplete"), 0.0)
    assert session2.state is State.CPE_REQUESTS


def test_next_state_does_not_move() -> None:
    session = CwmpSession(0.0)
    assert session.next_state(InformReceived()) is State.CPE_REQUESTS
    assert session.state is State.AWAITING_INFORM


def test_timeout_is_measured_from_the_last_event() -> None:
    session = CwmpSession(1000.0, timeout=30.0)
    assert not session.is_expired(1030.0)
    assert session.is_expired(1030.5)
    session.handle(InformReceived(), 1020.0)
    assert not session.is_expired(1050.0)
    assert session.is_expired(1050.1)
    session.handle(TimedOut(), 1051.0)
    assert session.ended
    assert not session.is_expired(5000.0), "an ended session is not 'expired' again"


def test_default_timeout_is_thirty_seconds() -> None:
    session = CwmpSession(0.0)
    assert not session.is_expired(30.0)
    assert session.is_expired(30.01)


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        CwmpSession(0.0, timeout=0)


def test_events_are_frozen_values() -> None:
    event = CpeRequestReceived("TransferComplete")
    assert event == CpeRequestReceived("TransferComplete")
    with pytest.raises(AttributeError):
        event.method = "x"  # type: ignore[misc]
