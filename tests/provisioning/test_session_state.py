"""Each `ProvisioningSession` / `TaskSession` starts from its own empty state.

A session is made per CWMP session by a shared factory (shared caches, ids, settings);
these tests pin that a session's changes never show in another session made by the
same factory (no per-session state may live in the class or the factory).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from traceacs.cwmp import messages as m
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.provisioning.workflow import ProvisioningHandlerFactory, ProvisioningSession
from traceacs.storage import open_repository
from traceacs.storage.tasks import SqlTaskStore
from traceacs.tasks.runner import TaskHandlerFactory

UNKNOWN = m.Inform(
    device_id=m.DeviceId("Acme", "00D09E", "RG", "NOT-IN-INVENTORY"),
    events=(m.EventStruct("2 PERIODIC"),),
    max_envelopes=1,
    current_time=datetime(2026, 1, 1, tzinfo=UTC),
    retry_count=0,
    parameters=(m.ParameterValueStruct("Device.DeviceInfo.SoftwareVersion", "1.0"),),
)


async def test_a_session_s_state_is_its_own(tmp_path: Path) -> None:
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    try:
        clock = iter(range(100)).__next__
        factory = ProvisioningHandlerFactory(
            repo, EmbeddedProfileSource(repo), clock=lambda: float(clock())
        )
        first = factory.new_session("s1")
        assert isinstance(first, ProvisioningSession)
        answer = await first.on_inform(UNKNOWN, 10.0)
        assert isinstance(answer, m.CwmpFault)
        await first.on_session_end("completed", 11.0)
        used = first.snapshot()
        assert used["step_durations"] == {"authenticate": 1000.0}
        assert used["outcome"] is not None
        assert used["ended"] is True

        second = factory.new_session("s2")
        assert isinstance(second, ProvisioningSession)
        fresh = second.snapshot()
        assert fresh["step_durations"] == {}
        assert (fresh["outcome"], fresh["ended"], fresh["inform"], fresh["device"]) == (
            None,
            False,
            None,
            None,
        )
        assert fresh["plan"] == "wait"
        assert fresh["step"] is None
        assert second.trace.trace_id != first.trace.trace_id
        assert second.trace.spans == []
        assert first.trace.spans
    finally:
        await repo.close()


async def test_a_task_session_s_state_is_its_own(tmp_path: Path) -> None:
    repo = await open_repository(f"sqlite:///{tmp_path / 'acs.db'}")
    try:
        factory = TaskHandlerFactory(SqlTaskStore(repo.db))
        first = factory.new_session("s1")
        await first.on_inform(UNKNOWN, 10.0)
        first.no_tasks_queued()
        assert await first.next_acs_request(10.0) is None
        await first.on_session_end("completed", 11.0)
        used = first.snapshot()
        assert (used["queue"], used["ended"]) == ([], True)
        fresh = factory.new_session("s2").snapshot()
        assert (fresh["queue"], fresh["ended"], fresh["inform"], fresh["tasks_run"]) == (
            None,
            False,
            None,
            0,
        )
    finally:
        await repo.close()
