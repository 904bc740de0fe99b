"""The seam between the CWMP endpoint (which moves bytes) and the ACS's decisions.

The server layer parses each POST, drives the sans-IO session state machine, and asks a
`SessionHandler` what to answer; the handler (the provisioning workflow, tasks, ...)
never sees HTTP. One handler object lives for one CWMP session. ``now`` is always
passed in (seconds since the epoch, float) so handlers never read the clock.
"""

from __future__ import annotations

from typing import Literal, Protocol

from traceacs.cwmp.messages import CwmpFault, Inform, InformResponse, Message

SessionEndReason = Literal["completed", "timeout", "cpe_fault", "protocol_error", "dropped"]


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


class SessionHandlerFactory(Protocol):
    """Creates the handler for each new CWMP session."""

    def new_session(self, session_id: str) -> SessionHandler: ...
