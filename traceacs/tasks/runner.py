"""Runs a device's queued tasks inside one of its CWMP sessions (the ACS's side).

`TaskSession` is a `SessionHandler`: on its own it serves a session that only runs
tasks; combined with provisioning (`traceacs.tasks.composite`) it is asked for RPCs once
provisioning has nothing more to send. It takes the device's due tasks oldest first,
turns each into its RPC(s) with a `TaskPlan`, and writes each outcome to the store:
``done`` with a result, a fault with retry and backoff, or ``running`` for a transfer
the CPE accepted (finished by the TransferComplete the CPE sends, in this session or a
later one; the CommandKey names the task). After a Reboot or FactoryReset no further
task is started: the CPE restarts when the session ends.

Every task is a ``cpe.task.<name>`` span with its RPCs as ``cwmp.rpc <Method>`` children.
They go into the session's shared trace when the provisioning handler lends it
(`attach_trace`); otherwise into a trace of the task session's own, exported through
the telemetry port at session end (see `traceacs.tasks.composite`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Protocol

from traceacs.cwmp import messages as m
from traceacs.cwmp.faults import make_fault
from traceacs.provisioning.repository import RepositoryError
from traceacs.provisioning.rpc_outcome import close_rpc
from traceacs.provisioning.session_handler import INFORM_ACCEPTED, SessionEndReason
from traceacs.provisioning.session_snapshot import (
    Json,
    SnapshotError,
    find_span,
    inform_from_json,
    inform_to_json,
    span_id_of,
    trace_from_json,
    trace_to_json,
)
from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.telemetry_port import NoOpProvisioningTelemetry, ProvisioningTelemetry
from traceacs.provisioning.trace_recorder import RandomIds, TraceRecorder, to_ns
from traceacs.tasks.dispatch_gate import DispatchGate
from traceacs.tasks.model import (
    ENDS_SESSION,
    Task,
    TaskRetryPolicy,
    TaskStatus,
    task_id_of,
    to_parameter,
)
from traceacs.tasks.plans import Done, Faulted, TaskPlan, Waiting, values_json
from traceacs.tasks.store import TaskStore

log = logging.getLogger("traceacs.tasks")

METHOD_NOT_SUPPORTED = 8000
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class TransferUrls(Protocol):
    """Where a CPE fetches a file of the store and sends an upload (tokens included)."""

    async def download(self, file_name: str, now: float) -> tuple[str, int] | None:
        """``(url, size)`` of a stored file, or None when there is no such file."""
        ...

    def upload(self, file_name: str, now: float) -> str | None:
        """The URL a CPE PUTs ``file_name`` to; None when uploads cannot be received."""
        ...


TaskListener = Callable[[Task], None]
"""Told of every task state written (the API's in-process waiters listen)."""


def upload_name(task: Task) -> str:
    """The store name of an upload task's file: given, or derived from serial and id."""
    given = task.arguments.get("fileName")
    if isinstance(given, str) and given:
        return given
    return f"{_UNSAFE.sub('_', task.serial_number)}-{task.id}.cfg"


class TaskSession:
    """The task side of one CWMP session (a `SessionHandler`)."""

    def __init__(
        self,
        session_id: str,
        store: TaskStore,
        *,
        telemetry: ProvisioningTelemetry,
        ids: RandomIds,
        urls: TransferUrls | None = None,
        policy: TaskRetryPolicy | None = None,
        listener: TaskListener | None = None,
        gate: DispatchGate | None = None,
    ) -> None:
        self._session_id = session_id
        self._gate = gate
        self._store = store
        self._telemetry = telemetry
        self._ids = ids
        self._urls = urls
        self._policy = policy or TaskRetryPolicy()
        self._listener = listener
        self._inform: m.Inform | None = None
        self._trace: SessionTrace | None = None
        self._root: SpanRecord | None = None
        self._own_trace = False
        self._queue: list[Task] | None = None
        self._stopped = False
        self._plan: TaskPlan | None = None
        self._task_span: SpanRecord | None = None
        self._rpc: tuple[m.Message, SpanRecord, float] | None = None
        self._ended = False
        self.tasks_run = 0

    # ------------------------------------------------------------------ trace

    def attach_trace(self, trace: SessionTrace, root: SpanRecord | None) -> None:
        """Record spans into ``trace`` (the session's, owned and exported by another)."""
        self._trace, self._root, self._own_trace = trace, root, False

    def _recorder(self, now: float) -> TraceRecorder:
        if self._trace is None:
            self._trace = SessionTrace(trace_id=self._ids.new_trace_id())
            self._own_trace = True
            recorder = TraceRecorder(self._trace, self._ids)
            self._root = recorder.start("cpe.inform", now, attributes=self._root_attributes())
            return recorder
        return TraceRecorder(self._trace, self._ids)

    def _root_attributes(self) -> dict[str, str | bool | int | float | tuple[str, ...]]:
        if self._inform is None:
            return {"cwmp.session.id": self._session_id}
        device = self._inform.device_id
        return {
            "cpe.serial_number": device.serial_number,
            "cpe.oui": device.oui,
            "cpe.model": device.product_class,
            "cpe.event_codes": ",".join(self._inform.event_codes),
            "cwmp.session.id": self._session_id,
        }

    @property
    def trace_id(self) -> str | None:
        return self._trace.trace_id if self._trace else None

    # ------------------------------------------------------------------ handler

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        self._inform = inform
        return INFORM_ACCEPTED

    async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
        if isinstance(request, m.TransferComplete):
            await self._transfer_complete(request, now)
            return m.TransferCompleteResponse()
        if isinstance(request, m.AutonomousTransferComplete):
            return m.AutonomousTransferCompleteResponse()
        if isinstance(request, m.GetRPCMethods):
            return m.GetRPCMethodsResponse(
                method_list=("GetRPCMethods", "Inform", "TransferComplete")
            )
        return make_fault(METHOD_NOT_SUPPORTED)

    def no_tasks_queued(self) -> None:
        """The caller knows no task is queued for the device (read with the device at
        this Inform): do not read the queue."""
        if self._queue is None:
            self._queue = []

    async def next_acs_request(self, now: float) -> m.Message | None:
        if self._rpc is not None or self._inform is None:
            return None  # an answer is outstanding (never asked twice by the endpoint)
        if self._plan is None and not await self._start_next(now):
            return None
        assert self._plan is not None
        if self._next is not None:
            request, self._next = self._next, None
            return self._send(request, now)
        return None

    _next: m.Message | None = None

    async def on_cpe_response(self, response: m.Message, now: float) -> None:
        if self._rpc is None or self._plan is None:
            return
        request, span, sent_at = self._rpc
        self._rpc = None
        close_rpc(self._telemetry, request, span, sent_at, response, now)
        step = self._plan.answer(request, response)
        if isinstance(step, m.Message):
            self._next = step
            return
        task = self._plan.task
        if isinstance(step, Done):
            await self._finish(task.succeeded(step.result, now), now)
        elif isinstance(step, Waiting):
            await self._finish(task.waiting(step.result, now), now, waiting=True)
        else:
            await self._fault(task, step, now)

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        if self._ended:
            return
        self._ended = True
        if self._plan is not None:
            task = self._plan.task
            if self._rpc is not None:
                self._rpc[1].end(to_ns(now), error=f"no response ({reason})")
                self._rpc = None
            await self._finish(task.interrupted(f"session ended ({reason})", now), now)
        if self._own_trace and self._trace is not None and self._root is not None:
            self._root.end(to_ns(now), error="task failed" if self._trace.failed else None)
            # Balanced at once: this trace is not a second session, only its export.
            self._telemetry.session_started()
            self._telemetry.session_finished(self._trace, None)

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> Json:
        """The task side's state between two POSTs (tasks by id, no arguments, no URLs).

        A shared trace is not written here: the composite handler re-attaches it.
        """
        if self._next is not None:
            raise SnapshotError("a task request is queued but not sent")
        plan = None
        if self._plan is not None:
            plan = {
                "task_id": self._plan.task.id,
                "parameter_key": self._plan.parameter_key,
                "file_size": self._plan.file_size,
                "file_name": self._plan.file_name,
                "pending": list(self._plan.pending_names),
                "read": values_json(tuple(self._plan.read_values)),
            }
        rpc = None
        if self._rpc is not None:
            request, span, sent_at = self._rpc
            rpc = {"method": request.method, "span_id": span.span_id, "sent_at": sent_at}
        own = self._own_trace and self._trace is not None
        return {
            "inform": inform_to_json(self._inform),
            "own_trace": trace_to_json(self._trace) if own and self._trace else None,
            "root_span_id": span_id_of(self._root) if own else None,
            "queue": None if self._queue is None else [t.id for t in self._queue],
            "stopped": self._stopped,
            "plan": plan,
            "task_span_id": span_id_of(self._task_span),
            "rpc": rpc,
            "tasks_run": self.tasks_run,
            "ended": self._ended,
        }

    async def resume(self, state: Json) -> None:
        """Take over `snapshot`'s state; call `attach_trace` first for a shared trace."""
        try:
            self._inform = inform_from_json(state["inform"])
            if state["own_trace"] is not None:
                self._trace = trace_from_json(state["own_trace"])
                self._own_trace = True
                self._root = find_span(self._trace, state["root_span_id"])
            if state["queue"] is not None:
                self._queue = [t for t in [await self._reread(i) for i in state["queue"]] if t]
            self._stopped = bool(state["stopped"])
            self.tasks_run = int(state["tasks_run"])
            self._ended = bool(state["ended"])
            if state["plan"] is not None:
                self._plan = await self._resume_plan(state["plan"])
            trace = self._trace
            span_id = state["task_span_id"]
            self._task_span = find_span(trace, span_id) if trace else None
            rpc = state["rpc"]
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"unreadable task snapshot: {exc!r}") from None
        if rpc is not None:
            span = find_span(trace, rpc["span_id"]) if trace else None
            if span is None or self._plan is None:
                raise SnapshotError("a pending task RPC without its span or task")
            try:
                request = self._plan.request_for(str(rpc["method"]))
            except ValueError as exc:
                raise SnapshotError(str(exc)) from None
            self._rpc = (request, span, float(rpc["sent_at"]))

    async def _reread(self, task_id: int) -> Task | None:
        try:
            return await self._store.get_task(task_id)
        except RepositoryError as exc:
            raise SnapshotError(f"cannot read task {task_id}: {type(exc).__name__}") from None

    async def _resume_plan(self, data: Json) -> TaskPlan:
        task = await self._reread(int(data["task_id"]))
        if task is None:
            raise SnapshotError("the running task was deleted")
        plan = TaskPlan(
            task,
            parameter_key=str(data["parameter_key"]),
            file_size=int(data["file_size"]),
            file_name=str(data["file_name"]),
        )
        plan.pending_names = [str(n) for n in data["pending"]]
        plan.read_values = [to_parameter(*item) for item in data["read"]]
        return plan

    # ------------------------------------------------------------------ tasks

    async def _start_next(self, now: float) -> bool:
        """Take the next due task and prepare its plan; False when none is left."""
        if self._stopped:
            return False
        if self._queue is None:
            device = self._inform.device_id if self._inform else None
            if device is None:
                return False
            try:
                self._queue = await self._store.due_tasks(device.oui, device.serial_number, now)
            except RepositoryError as exc:
                log.warning("could not load the device's tasks: %s", type(exc).__name__)
                self._queue = []
        while self._queue:
            task = self._queue.pop(0)
            if self._gate is not None and task.bulk_id is not None:
                admission = await self._gate.admit(task, now)
                if not admission.admitted:
                    # Not this job's turn yet: due at its turn, the job's driver wakes it.
                    await self._save(task.deferred(admission.at, now), now)
                    continue
                now = max(now, admission.at)
            recorder = self._recorder(now)
            assert self._trace is not None
            started = task.started(now, self._trace.trace_id)
            self._task_span = recorder.start(
                f"cpe.task.{task.name}",
                now,
                parent=self._root,
                attributes={
                    "cpe.task.id": task.id,
                    "cpe.task.name": task.name,
                    "cpe.task.attempt": started.attempts,
                    **({"cpe.task.bulk_id": task.bulk_id} if task.bulk_id is not None else {}),
                },
            )
            self._trace.changed_something = True
            plan = await self._plan_for(started, now)
            if isinstance(plan, Faulted):
                await self._fault(started, plan, now, retry=False)
                continue
            if not await self._save(started, now):
                self._end_task_span(now, error="task deleted")
                continue
            self._plan = plan
            self._next = plan.first()
            self.tasks_run += 1
            if task.name in ENDS_SESSION:
                self._stopped = True
            return True
        return False

    async def _plan_for(self, task: Task, now: float) -> TaskPlan | Faulted:
        key = _reported(self._inform, "ManagementServer.ParameterKey") if self._inform else None
        plan = TaskPlan(task, parameter_key=key or "")
        if task.name == "download":
            name = str(task.arguments["fileName"])
            found = await self._urls.download(name, now) if self._urls else None
            if found is None:
                return Faulted(None, f"no file {name!r} in the file store")
            plan.transfer_url, plan.file_size = found
            plan.file_name = name
        elif task.name == "upload":
            name = upload_name(task)
            url = self._urls.upload(name, now) if self._urls else None
            if url is None:
                return Faulted(None, "uploads cannot be received (no file store URL)")
            plan.transfer_url, plan.file_name = url, name
        return plan

    def _send(self, request: m.Message, now: float) -> m.Message:
        recorder = self._recorder(now)
        span = recorder.start(
            f"cwmp.rpc {request.method}",
            now,
            parent=self._task_span or self._root,
            attributes={"cwmp.rpc.method": request.method},
        )
        self._rpc = (request, span, now)
        return request

    async def _fault(self, task: Task, fault: Faulted, now: float, *, retry: bool = True) -> None:
        if self._task_span is not None and fault.fault_code is not None:
            self._task_span.attributes["cpe.fault_code"] = fault.fault_code
        policy = self._policy if retry else TaskRetryPolicy(max_attempts=0)
        await self._finish(task.faulted(fault.fault_code, fault.fault_string, now, policy), now)

    async def _finish(self, task: Task, now: float, *, waiting: bool = False) -> None:
        """Write the task's new state, close its span, make room for the next task."""
        self._plan, self._next = None, None
        await self._save(task, now)
        span = self._task_span
        started_ns = span.start_ns if span is not None else None
        self._telemetry.task_finished(
            task.name,
            _result_of(task, waiting),
            None if started_ns is None else max(0.0, (to_ns(now) - started_ns) / 1e6),
        )
        if span is not None:
            span.attributes["cpe.task.status"] = "waiting" if waiting else task.status.value
            if task.status is not TaskStatus.DONE and not waiting and task.fault_string:
                span.attributes["cpe.task.next_attempt_in_s"] = max(0.0, task.next_attempt_at - now)
                self._end_task_span(now, error=task.fault_string)
                if self._trace is not None:
                    self._trace.failed = True
            else:
                self._end_task_span(now)

    def _end_task_span(self, now: float, error: str | None = None) -> None:
        if self._task_span is not None:
            self._task_span.end(to_ns(now), error=error)
            self._task_span = None

    async def _save(self, task: Task, now: float) -> bool:
        try:
            saved = await self._store.save_task(task)
        except RepositoryError as exc:
            log.warning("could not record task %d: %s", task.id, type(exc).__name__)
            return False
        if saved and self._listener is not None:
            self._listener(task)
        return saved

    async def _transfer_complete(self, done: m.TransferComplete, now: float) -> None:
        """A Download/Upload of one of our tasks ended (maybe sessions after it began)."""
        task_id = task_id_of(done.command_key)
        device = self._inform.device_id if self._inform else None
        if task_id is None or device is None:
            return
        try:
            task = await self._store.get_task(task_id)
        except RepositoryError as exc:
            log.warning("could not read task %d: %s", task_id, type(exc).__name__)
            return
        if (
            task is None
            or task.status is not TaskStatus.RUNNING
            or (task.oui, task.serial_number) != (device.oui, device.serial_number)
        ):
            return
        recorder = self._recorder(now)
        assert self._trace is not None
        self._trace.changed_something = True
        span = recorder.start(
            f"cpe.task.{task.name}",
            now,
            parent=self._root,
            attributes={
                "cpe.task.id": task.id,
                "cpe.task.name": task.name,
                "cpe.task.phase": "transfer_complete",
                "cpe.task.started_trace_id": task.trace_id or "",
            },
        )
        result = dict(task.result)
        result.update(
            startTime=done.start_time.isoformat(), completeTime=done.complete_time.isoformat()
        )
        if done.fault.fault_code == 0:
            finished = task.succeeded(result, now)
            span.attributes["cpe.task.status"] = finished.status.value
            span.end(to_ns(now))
        else:
            code = done.fault.fault_code
            finished = task.faulted(code, done.fault.fault_string, now, self._policy)
            span.attributes["cpe.fault_code"] = code
            span.attributes["cpe.task.status"] = finished.status.value
            span.end(to_ns(now), error=f"{task.name} fault {code}")
            self._trace.failed = True
        await self._save(finished, now)
        self._telemetry.task_finished(task.name, _result_of(finished, False), None)


def _result_of(task: Task, waiting: bool) -> str:
    """The ``result`` of the task metrics (see `traceacs.telemetry.instruments`)."""
    if waiting:
        return "waiting"
    if task.status is TaskStatus.DONE:
        return "done"
    if task.status is TaskStatus.FAILED:
        return "failed"
    return "retry" if task.fault_code is not None else "interrupted"


def _reported(inform: m.Inform, suffix: str) -> str | None:
    for parameter in inform.parameters:
        if parameter.name.endswith("." + suffix):
            return str(parameter.value)
    return None


class TaskHandlerFactory:
    """Creates a `TaskSession` per CWMP session."""

    def __init__(
        self,
        store: TaskStore,
        *,
        telemetry: ProvisioningTelemetry | None = None,
        ids: RandomIds | None = None,
        urls: TransferUrls | None = None,
        policy: TaskRetryPolicy | None = None,
        listener: TaskListener | None = None,
        gate: DispatchGate | None = None,
    ) -> None:
        self.store = store
        self.gate = gate
        self._telemetry = telemetry or NoOpProvisioningTelemetry()
        self._ids = ids or RandomIds()
        self._urls = urls
        self._policy = policy or TaskRetryPolicy()
        self.listener = listener

    def new_session(self, session_id: str) -> TaskSession:
        return TaskSession(
            session_id,
            self.store,
            telemetry=self._telemetry,
            ids=self._ids,
            urls=self._urls,
            policy=self._policy,
            listener=self._notify,
            gate=self.gate,
        )

    async def restore(
        self,
        session_id: str,
        state: Json,
        *,
        trace: SessionTrace | None = None,
        root: SpanRecord | None = None,
    ) -> TaskSession:
        """A `TaskSession` as its snapshot left it, recording into ``trace`` if given."""
        session = self.new_session(session_id)
        if trace is not None:
            session.attach_trace(trace, root)
        await session.resume(state)
        return session

    def _notify(self, task: Task) -> None:
        if self.listener is not None:
            self.listener(task)
