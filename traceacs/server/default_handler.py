"""A SessionHandler that provisions nothing: the endpoint's stand-in workflow.

It lets `traceacs serve` complete real CWMP sessions before the provisioning workflow
is plugged in (through `traceacs.app`): every Inform is accepted, the CPE's own
requests get their empty responses, and the ACS sends no RPC, so each session ends
with a 204 right after the CPE's empty POST.
"""

from __future__ import annotations

from traceacs.cwmp import messages as m
from traceacs.provisioning.session_handler import (
    SessionEndReason,
    SessionHandler,
    default_cpe_answer,
)


class AcceptAllHandler:
    """Accepts the Inform, answers CPE requests, sends no RPC."""

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        return m.InformResponse(max_envelopes=1)

    async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
        return default_cpe_answer(request)

    async def next_acs_request(self, now: float) -> m.Message | None:
        return None

    async def on_cpe_response(self, response: m.Message, now: float) -> None:
        return None

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        return None


class AcceptAllHandlerFactory:
    """The default `SessionHandlerFactory` of `traceacs serve`."""

    def new_session(self, session_id: str) -> SessionHandler:
        return AcceptAllHandler()
