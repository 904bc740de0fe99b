"""The seam between the CWMP endpoint (which moves bytes) and the ACS's decisions.

The server layer parses each POST, drives the sans-IO session state machine, and asks a
`SessionHandler` what to answer; the handler (the provisioning workflow, tasks, ...)
never sees HTTP. One handler object lives for one CWMP session. ``now`` is always
passed in (seconds since the epoch, float) so handlers never read the clock.
"""

from __future__ import annotations

from typing import Final, Literal, Protocol, runtime_checkable

from traceacs.cwmp import messages as m
from traceacs.cwmp.faults import METHOD_NOT_SUPPORTED, make_fault
from traceacs.cwmp.messages import CwmpFault, Inform, InformResponse, Message

ACS_RPC_METHODS: tuple[str, ...] = (
    "GetRPCMethods",
    "Inform",
    "TransferComplete",
    "AutonomousTransferComplete",
)
"""What the ACS tells a CPE asking GetRPCMethods (TR-069 Table 'ACS methods')."""

INFORM_ACCEPTED: Final = m.InformResponse(max_envelopes=1)
"""The answer to an accepted Inform (a frozen value: one for every session)."""


def default_cpe_answer(request: Message) -> Message:
    """The plain answer to a CPE request, or fault 8000 for methods not supported.

    Every handler answers CPE requests it has no business with this way.
    """
    if isinstance(request, m.GetRPCMethods):
        return m.GetRPCMethodsResponse(method_list=ACS_RPC_METHODS)
    if isinstance(request, m.TransferComplete):
        return m.TransferCompleteResponse()
    if isinstance(request, m.AutonomousTransferComplete):
        return m.AutonomousTransferCompleteResponse()
    return make_fault(METHOD_NOT_SUPPORTED)


SessionEndReason = Literal[
    "completed", "timeout", "cpe_fault", "protocol_error", "dropped", "abandoned"
]
"""Why a session ended. ``abandoned``: the CPE opened a new session (a fresh Inform)
while this one waited on it with its connection gone or idle past a short grace (it
rebooted, lost power or dropped the connection); the old one is ended for the new one."""


class SessionHandler(Protocol):
    """Decides the ACS side of one CWMP session."""

    async def on_inform(self, inform: Inform, now: float) -> InformResponse | CwmpFault:
        """Answer the Inform; a `CwmpFault` refuses the session (it then ends)."""
        ...

    async def on_cpe_request(self, request: Message, now: float) -> Message:
        """Answer a CPE request other than Inform (TransferComplete, GetRPCMethods, ...).

        Return the response message, or a `CwmpFault` (8000 for methods not supported).
        """
        ...

    async def next_acs_request(self, now: float) -> Message | None:
        """The next RPC to send to the CPE, or ``None`` to end the session (HTTP 204)."""
        ...

    async def on_cpe_response(self, response: Message, now: float) -> None:
        """The CPE's answer (a response message or a `CwmpFault`) to the last RPC."""
        ...

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        """Called exactly once, whatever ended the session."""
        ...


@runtime_checkable
class QuietEnding(Protocol):
    """A `SessionHandler` that may know, once it has answered the Inform, that its
    session is quiet: no CPE request of its own to answer and nothing for the ACS to send.

    The endpoint reads `quiet` at the CPE's empty POST of such a session (sessions of
    one process only: a session shared through a store is snapshotted after each POST);
    while it is True it answers 204 and calls `end_quietly` instead of
    ``next_acs_request`` and ``on_session_end``, with nothing to await in between.
    """

    @property
    def quiet(self) -> bool:
        """True while ``next_acs_request`` would answer None at once and nothing else
        is pending; False once the session has gone (or was always) the general way."""
        ...

    def end_quietly(self, now: float) -> None:
        """The empty POST came and the session ended ``completed`` at ``now``: exactly
        what ``next_acs_request(now)`` (None) then ``on_session_end("completed", now)``
        do, in one call. A failure here is a failure of ``on_session_end``."""
        ...


class SessionHandlerFactory(Protocol):
    """Creates the handler for each new CWMP session."""

    def new_session(self, session_id: str) -> SessionHandler: ...
