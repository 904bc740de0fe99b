"""The CWMP session state machine, as an explicit transition table (sans-IO).

A CWMP session has a fixed shape (TR-069 section 3.7.1): it opens with the CPE's
Inform; the CPE then sends its own requests (TransferComplete, GetRPCMethods, ...)
until it sends an empty POST; from then on the ACS sends one RPC at a time and waits
for each answer, and the session ends when the ACS answers with an empty HTTP 204.
This module writes that shape down as data, the way h11 does: `State` values, frozen
event objects, and `TRANSITIONS`, a dict ``(state, event type) -> next state``. Any
move not in the table raises `ProtocolError` naming the state and the event, so the
adapter can refuse it cleanly instead of guessing.

HoldRequests: when the ACS's answer to an Inform or a CPE request carries
``HoldRequests=1``, the CPE must not send a request in its next POST. The adapter says
so on the event it fires (``InformReceived(hold_requests=True)``); the flag covers only
the CPE's next message, as TR-069 prescribes.

A deliberate strictness: once the CPE has sent its empty POST, a CPE request is
illegal (MaxEnvelopes is 1, so each CPE POST during the ACS phase must answer the
pending RPC).

Time is passed in (``now``, seconds, any monotonic-enough origin the caller picks);
nothing here reads a clock. The session expires ``timeout`` seconds after the last
event: `is_expired` tells, and the adapter then fires `TimedOut`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from traceacs.cwmp.errors import ProtocolError

DEFAULT_SESSION_TIMEOUT: Final = 30.0
"""Seconds of silence after which a session is abandoned (TR-069 suggests 30 s)."""


class State(enum.Enum):
    """Where a CWMP session stands, between two messages."""

    AWAITING_INFORM = "awaiting_inform"
    """Nothing received yet: only an Inform may open the session."""
    CPE_REQUESTS = "cpe_requests"
    """Inform answered; the CPE may send requests until its empty POST."""
    ACS_REQUESTS = "acs_requests"
    """The CPE has nothing more to ask; the ACS sends an RPC or ends (204)."""
    AWAITING_CPE_RESPONSE = "awaiting_cpe_response"
    """An ACS RPC is out; the CPE's next POST must be its response or fault."""
    ENDED = "ended"
    """Final: ended by 204, timeout or abort. Nothing is legal any more."""

    # Members are singletons compared by identity: hashed by identity too, in C, not by
    # `enum.Enum.__hash__` (a Python call per `TRANSITIONS` lookup).
    __hash__ = object.__hash__


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every session event."""


@dataclass(frozen=True, slots=True)
class InformReceived(Event):
    """The CPE's Inform. ``hold_requests``: the ACS's InformResponse carries HoldRequests=1."""

    hold_requests: bool = False


@dataclass(frozen=True, slots=True)
class CpeRequestReceived(Event):
    """A CPE request other than Inform (``method`` names it, for error messages)."""

    method: str = ""
    hold_requests: bool = False


@dataclass(frozen=True, slots=True)
class EmptyPostReceived(Event):
    """The CPE's empty POST: it has no more requests."""


@dataclass(frozen=True, slots=True)
class EmptyPostEndsSession(Event):
    """The CPE's empty POST, with nothing for the ACS to send: it answers HTTP 204 at once.

    One move for `EmptyPostReceived` followed by `NoMoreAcsRequests`, the whole ACS
    phase of a session whose handler knew before the empty POST that it has nothing to
    send (a quiet periodic session): the same end, without the passage through
    ``ACS_REQUESTS`` that exists to let the ACS choose.
    """


@dataclass(frozen=True, slots=True)
class AcsRequestSent(Event):
    """The ACS sent an RPC (``method`` names it) in its HTTP response."""

    method: str = ""


@dataclass(frozen=True, slots=True)
class CpeResponseReceived(Event):
    """The CPE's response, or CWMP fault, to the pending ACS RPC."""

    method: str = ""


@dataclass(frozen=True, slots=True)
class NoMoreAcsRequests(Event):
    """The ACS has nothing more to send: it answers HTTP 204 and the session ends."""


@dataclass(frozen=True, slots=True)
class TimedOut(Event):
    """The session was silent for longer than its timeout."""


@dataclass(frozen=True, slots=True)
class Aborted(Event):
    """The session ends early: Inform refused, connection dropped, server stopping."""

    reason: str = ""


_LIVE_STATES: Final = (
    State.AWAITING_INFORM,
    State.CPE_REQUESTS,
    State.ACS_REQUESTS,
    State.AWAITING_CPE_RESPONSE,
)

TRANSITIONS: Final[dict[tuple[State, type[Event]], State]] = {
    (State.AWAITING_INFORM, InformReceived): State.CPE_REQUESTS,
    (State.CPE_REQUESTS, CpeRequestReceived): State.CPE_REQUESTS,
    (State.CPE_REQUESTS, EmptyPostReceived): State.ACS_REQUESTS,
    (State.CPE_REQUESTS, EmptyPostEndsSession): State.ENDED,
    (State.ACS_REQUESTS, AcsRequestSent): State.AWAITING_CPE_RESPONSE,
    (State.AWAITING_CPE_RESPONSE, CpeResponseReceived): State.ACS_REQUESTS,
    (State.ACS_REQUESTS, NoMoreAcsRequests): State.ENDED,
    **{(state, TimedOut): State.ENDED for state in _LIVE_STATES},
    **{(state, Aborted): State.ENDED for state in _LIVE_STATES},
}
"""Every legal move. Anything else is a `ProtocolError`."""

_SETS_HOLD_REQUESTS: Final = (InformReceived, CpeRequestReceived)
_LIFTS_HOLD_REQUESTS: Final = (EmptyPostReceived, CpeResponseReceived, EmptyPostEndsSession)


def _describe(event: Event) -> str:
    method = getattr(event, "method", "")
    name = type(event).__name__
    return f"{name}({method})" if method else name


class CwmpSession:
    """One CWMP session's protocol state; drive it with `handle`.

    ``started_at`` and ``last_activity`` are in the caller's time unit (seconds).
    """

    __slots__ = ("_hold_requests", "last_activity", "started_at", "state", "timeout")

    def __init__(self, now: float, *, timeout: float = DEFAULT_SESSION_TIMEOUT) -> None:
        if timeout <= 0:
            raise ValueError("session timeout must be positive")
        self.state: State = State.AWAITING_INFORM
        self.timeout = timeout
        self.started_at = now
        self.last_activity = now
        self._hold_requests = False

    @classmethod
    def resumed(
        cls,
        state: State,
        *,
        started_at: float,
        last_activity: float,
        timeout: float,
        hold_requests: bool = False,
    ) -> CwmpSession:
        """A session in ``state`` as another process left it (shared session store)."""
        session = cls(started_at, timeout=timeout)
        session.state = state
        session.last_activity = last_activity
        session._hold_requests = hold_requests
        return session

    @property
    def hold_requests(self) -> bool:
        """Whether the CPE's next message must not be a request (HoldRequests=1 sent)."""
        return self._hold_requests

    @property
    def ended(self) -> bool:
        return self.state is State.ENDED

    def is_expired(self, now: float) -> bool:
        """True when the session is live and silent for longer than its timeout."""
        return not self.ended and now - self.last_activity > self.timeout

    def next_state(self, event: Event) -> State:
        """The state ``event`` would lead to; raises `ProtocolError` if it is illegal.

        Does not change anything, so the adapter can refuse a message before acting on it.
        """
        target = TRANSITIONS.get((self.state, type(event)))
        if target is None:
            raise ProtocolError(
                f"CWMP session in state {self.state.name} cannot handle {_describe(event)}"
            )
        if self._hold_requests and isinstance(event, CpeRequestReceived):
            raise ProtocolError(
                f"CWMP session in state {self.state.name} cannot handle "
                f"{_describe(event)}: the ACS sent HoldRequests"
            )
        return target

    def handle(self, event: Event, now: float) -> State:
        """Apply ``event`` at time ``now``; returns the new state.

        Raises `ProtocolError` (state unchanged) for a move not in `TRANSITIONS`.
        """
        target = self.next_state(event)
        self.state = target
        self.last_activity = now
        if isinstance(event, _SETS_HOLD_REQUESTS):
            self._hold_requests = event.hold_requests
        elif isinstance(event, _LIFTS_HOLD_REQUESTS):
            self._hold_requests = False
        return target
