"""The task session and the composite handler without HTTP: order, routing, spans."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from traceacs.cwmp import messages as m
from traceacs.provisioning.session_handler import SessionEndReason
from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.telemetry_port import ProvisioningOutcome
from traceacs.provisioning.trace_recorder import TraceRecorder
from traceacs.tasks.composite import CompositeSessionHandler
from traceacs.tasks.model import Task, TaskError, TaskRetryPolicy, TaskStatus, validate_task
from traceacs.tasks.runner import TaskSession

OUI, SERIAL = "00D09E", "S1"
INFORM = m.Inform(
    device_id=m.DeviceId("Acme", OUI, "RG", SERIAL),
    events=(m.EventStruct("6 CONNECTION REQUEST"),),
    max_envelopes=1,
    current_time=datetime(2026, 1, 1, tzinfo=UTC),
    retry_count=0,
    parameters=(m.ParameterValueStruct("Device.ManagementServer.ParameterKey", "pk-1"),),
)


@dataclass
class MemoryStore:
    tasks: dict[int, Task] = field(default_factory=dict)

    def queue(self, name: str, arguments: Mapping[str, Any] | None = None) -> Task:
        task = Task(
            len(self.tasks) + 1, OUI, SERIAL, name, dict(arguments or {}),
            TaskStatus.QUEUED, 0, 0.0, 0.0, 0.0,
        )  # fmt: skip
        self.tasks[task.id] = task
        return task

    async def add_task(self, *args: Any) -> Task:
        raise NotImplementedError

    async def get_task(self, task_id: int) -> Task | None:
        return self.tasks.get(task_id)

    async def device_tasks(self, oui: str, serial_number: str, *, limit: int = 100) -> list[Task]:
        return list(self.tasks.values())

    async def due_tasks(self, oui: str, serial_number: str, now: float) -> list[Task]:
        return [
            t for t in self.tasks.values()
            if t.status is TaskStatus.QUEUED and t.next_attempt_at <= now
        ]  # fmt: skip

    async def save_task(self, task: Task) -> bool:
        if task.id not in self.tasks:
            return False
        self.tasks[task.id] = task
        return True

    async def delete_task(self, task_id: int) -> bool:
        return self.tasks.pop(task_id, None) is not None


@dataclass
class Telemetry:
    finished: list[SessionTrace] = field(default_factory=list)
    active: int = 0
    tasks_finished: list[tuple[str, str, float | None]] = field(default_factory=list)

    def session_started(self) -> None:
        self.active += 1

    def session_released(self) -> None:
        self.active -= 1

    def session_finished(self, trace: SessionTrace, outcome: ProvisioningOutcome | None) -> None:
        self.active -= 1
        self.finished.append(trace)

    def task_finished(self, name: str, result: str, duration_ms: float | None) -> None:
        self.tasks_finished.append((name, result, duration_ms))

    def rpc_finished(self, method: str, duration_s: float, fault_code: int | None) -> None:
        return None

    def inform_received(self, event_codes: Any) -> None:
        return None


class Provisioning:
    """A provisioning handler that pushes one SPV and lends its trace."""

    def __init__(self) -> None:
        self.trace = SessionTrace("ab" * 16)
        self.root_span: SpanRecord | None = None
        self.pending: list[m.Message] = [m.SetParameterValues(())]
        self.responses: list[m.Message] = []
        self.ended: list[int] = []

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        self.root_span = TraceRecorder(self.trace).start("cpe.inform", now)
        return m.InformResponse(1)

    async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
        return m.TransferCompleteResponse()

    async def next_acs_request(self, now: float) -> m.Message | None:
        return self.pending.pop() if self.pending else None

    async def on_cpe_response(self, response: m.Message, now: float) -> None:
        self.responses.append(response)

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        self.ended.append(sum(s.end_ns is None for s in self.trace.spans[1:]))


def session(store: MemoryStore, telemetry: Telemetry | None = None) -> TaskSession:
    from traceacs.provisioning.trace_recorder import RandomIds

    return TaskSession(
        "sid", store, telemetry=telemetry or Telemetry(), ids=RandomIds(), policy=TaskRetryPolicy()
    )


async def test_provisioning_first_then_tasks_in_the_shared_trace() -> None:
    store = MemoryStore()
    add = store.queue("addObject", {"objectName": "Device.X."})
    reboot = store.queue("reboot")
    store.queue("getParameterValues", {"parameterNames": ["Device.A"]})  # after the reboot
    provisioning = Provisioning()
    handler = CompositeSessionHandler(provisioning, session(store))

    assert isinstance(await handler.on_inform(INFORM, 10.0), m.InformResponse)
    assert isinstance(await handler.next_acs_request(11.0), m.SetParameterValues)
    await handler.on_cpe_response(m.SetParameterValuesResponse(), 12.0)
    assert provisioning.responses == [m.SetParameterValuesResponse()]
    request = await handler.next_acs_request(13.0)
    assert request == m.AddObject("Device.X.", parameter_key="pk-1")
    await handler.on_cpe_response(m.AddObjectResponse(7), 14.0)
    assert await handler.next_acs_request(15.0) == m.Reboot(command_key=reboot.command_key)
    await handler.on_cpe_response(m.RebootResponse(), 16.0)
    assert await handler.next_acs_request(17.0) is None  # nothing after a reboot
    await handler.on_session_end("completed", 18.0)

    assert store.tasks[add.id].result == {"instanceNumber": 7, "status": 0}
    assert store.tasks[reboot.id].status is TaskStatus.DONE
    assert store.tasks[3].status is TaskStatus.QUEUED
    assert provisioning.ended == [0]  # task spans closed before provisioning exports
    names = [s.name for s in provisioning.trace.spans]
    assert names == [
        "cpe.inform",
        "cpe.task.addObject",
        "cwmp.rpc AddObject",
        "cpe.task.reboot",
        "cwmp.rpc Reboot",
    ]
    by_name = {s.name: s for s in provisioning.trace.spans}
    assert by_name["cpe.task.addObject"].parent_span_id == provisioning.trace.root.span_id
    assert by_name["cwmp.rpc AddObject"].parent_span_id == by_name["cpe.task.addObject"].span_id
    assert store.tasks[add.id].trace_id == provisioning.trace.trace_id
    assert provisioning.trace.changed_something


async def test_fault_backs_off_and_own_trace_is_exported() -> None:
    store = MemoryStore()
    task = store.queue("setParameterValues", {"parameterValues": [["Device.A", "1", "string"]]})
    telemetry = Telemetry()
    tasks = session(store, telemetry)
    await tasks.on_inform(INFORM, 100.0)
    assert isinstance(await tasks.next_acs_request(100.0), m.SetParameterValues)
    await tasks.on_cpe_response(m.CwmpFault(9003, "Invalid arguments"), 101.0)
    assert await tasks.next_acs_request(101.0) is None
    await tasks.on_session_end("completed", 102.0)

    saved = store.tasks[task.id]
    assert (saved.status, saved.attempts, saved.fault_code) == (TaskStatus.QUEUED, 1, 9003)
    assert saved.next_attempt_at == 101.0 + 60
    [trace] = telemetry.finished
    assert telemetry.active == 0
    assert [s.name for s in trace.spans] == [
        "cpe.inform",
        "cpe.task.setParameterValues",
        "cwmp.rpc SetParameterValues",
    ]
    assert trace.spans[1].status == "error"
    assert trace.failed


def test_retries_run_out_and_interruptions_do_not_count() -> None:
    policy = TaskRetryPolicy(max_attempts=2, base_delay=10)
    task = MemoryStore().queue("reboot")
    first = task.started(0.0, None).faulted(9002, "x", 1.0, policy)
    assert (first.status, first.next_attempt_at) == (TaskStatus.QUEUED, 11.0)
    dropped = first.started(20.0, None).interrupted("session ended (dropped)", 21.0)
    assert (dropped.status, dropped.attempts) == (TaskStatus.QUEUED, 1)
    second = dropped.started(30.0, None).faulted(9002, "x", 31.0, policy)
    assert second.status is TaskStatus.FAILED
    assert replace(second, status=TaskStatus.DONE).finished


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("rebot", {}, "unknown task"),
        ("setParameterValues", {"parameterValues": [["Device.A", "x", "xsd:int"]]}, "not a valid"),
        ("addObject", {"objectName": "Device.X"}, "ending with"),
        ("scheduleInform", {"delaySeconds": 0}, "positive"),
        ("getParameterValues", {"parameterNames": []}, "non-empty"),
    ],
)
def test_bad_task_requests_are_refused(name: str, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskError, match=message):
        validate_task(name, arguments)


def test_secret_values_are_masked_in_task_views() -> None:
    from traceacs.tasks.view import task_view

    args = validate_task(
        "setParameterValues",
        {"parameterValues": [["Device.WiFi.AccessPoint.1.Security.KeyPassphrase", "hunter22"]]},
    )
    task = replace(MemoryStore().queue("setParameterValues"), arguments=args)
    assert "hunter22" not in repr(task)
    assert "hunter22" not in str(task_view(task))
    assert task_view(task)["arguments"]["parameterValues"][0][1] == "[REDACTED]"


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.queue_reads = 0

    async def due_tasks(self, oui: str, serial_number: str, now: float) -> list[Task]:
        self.queue_reads += 1
        return await super().due_tasks(oui, serial_number, now)


class Quiet(Provisioning):
    """Provisioning with nothing to push that read ``queued_tasks`` with the device."""

    def __init__(self, queued_tasks: bool | None) -> None:
        super().__init__()
        self.pending = []
        self.queued_tasks = queued_tasks


@pytest.mark.parametrize(("queued", "reads"), [(False, 0), (True, 1), (None, 1)])
async def test_the_task_queue_is_read_unless_the_device_read_saw_none(
    queued: bool | None, reads: int
) -> None:
    store = CountingStore()
    handler = CompositeSessionHandler(Quiet(queued), session(store))
    await handler.on_inform(INFORM, 10.0)
    assert await handler.next_acs_request(11.0) is None
    await handler.on_session_end("completed", 12.0)
    assert store.queue_reads == reads


class Rootless(Quiet):
    """No root span: the composite records no preset spans (none to make here)."""

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        return m.InformResponse(1)


class QueuingPresets:
    """A preset applier whose presets queue a task at the Inform."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def apply(self, inform: m.Inform, now: float) -> list[object]:
        self.store.queue("reboot")
        return [object()]


async def test_tasks_queued_by_presets_at_the_inform_run_in_the_same_session() -> None:
    store = CountingStore()
    provisioning = Rootless(False)
    handler = CompositeSessionHandler(
        provisioning,
        session(store),
        presets=QueuingPresets(store),  # type: ignore[arg-type]
    )
    await handler.on_inform(INFORM, 10.0)
    assert isinstance(await handler.next_acs_request(11.0), m.Reboot)
    assert store.queue_reads == 1
