from __future__ import annotations

from datetime import UTC, datetime

from traceacs.cwmp import messages as m
from traceacs.server.default_handler import AcceptAllHandlerFactory

T = datetime(2026, 1, 1, tzinfo=UTC)


async def test_accepts_inform_answers_cpe_requests_and_sends_nothing() -> None:
    handler = AcceptAllHandlerFactory().new_session("s1")
    inform = m.Inform(m.DeviceId("A", "B", "C", "D"), (m.EventStruct("2 PERIODIC"),), 1, T, 0)
    assert await handler.on_inform(inform, 0.0) == m.InformResponse(max_envelopes=1)
    tc = m.TransferComplete("k", m.FaultStruct(), T, T)
    assert await handler.on_cpe_request(tc, 0.0) == m.TransferCompleteResponse()
    atc = m.AutonomousTransferComplete(
        "", "u", True, "1 Firmware Upgrade Image", 1, "", m.FaultStruct(), T, T
    )
    assert await handler.on_cpe_request(atc, 0.0) == m.AutonomousTransferCompleteResponse()
    methods = await handler.on_cpe_request(m.GetRPCMethods(), 0.0)
    assert isinstance(methods, m.GetRPCMethodsResponse)
    assert "Inform" in methods.method_list
    kicked = await handler.on_cpe_request(m.Kicked("c", "r", "a", "n"), 0.0)
    assert isinstance(kicked, m.CwmpFault)
    assert kicked.fault_code == 8000
    assert await handler.next_acs_request(0.0) is None
