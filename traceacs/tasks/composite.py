"""One CWMP session, two jobs: provisioning first, then the device's queued tasks.

`CompositeSessionHandler` is what the endpoint talks to. The Inform goes to provisioning
(its answer is the session's; a refused Inform ends the session before any task) and
to the task session. ``next_acs_request`` asks provisioning; once provisioning returns
None it asks the tasks, and once both are done the session ends. Each CPE response goes
to whichever handler sent the last request; TransferComplete requests go to the task
session (which ignores CommandKeys that are not its own) and to provisioning (firmware
upgrades it may start later). A session that a connection request of ours caused gets
a link to that request's span (`traceacs.tasks.wake_trace`); matching presets queue
their tasks at the Inform (`traceacs.presets.applier`), so they run in this session.
When the inventory read of the Inform saw no task queued for the device (provisioning's
``queued_tasks`` is False) and no preset queued any, the task session does not read
the device's queue: most sessions (quiet periodic informs) have no task, and that read
was a database round trip each. A task queued while the Inform is being answered runs
at the device's next session.
``on_session_end`` goes to the tasks first, so that their spans are closed before
provisioning exports the shared trace.

The shared trace: when the provisioning handler exposes ``trace`` (a `SessionTrace`)
and ``root_span`` (its ``cpe.inform`` span or None), the task spans are recorded into
that trace, as children of that root. Until it does, the task session keeps a trace of
its own, exported separately (same device attributes and ``cwmp.session.id``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from traceacs.cwmp import messages as m
from traceacs.provisioning.session_handler import (
    SessionEndReason,
    SessionHandler,
    SessionHandlerFactory,
)
from traceacs.provisioning.session_snapshot import (
    Json,
    ResumableHandler,
    ResumableHandlerFactory,
    SnapshotError,
)
from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.provisioning.trace_recorder import TraceRecorder, to_ns
from traceacs.tasks.quiet_first import QuietCapableFactory, QuietFirstSession
from traceacs.tasks.runner import TaskHandlerFactory, TaskSession
from traceacs.tasks.wake_trace import CONNECTION_REQUEST_EVENT, ConnectionRequestTraces

if TYPE_CHECKING:  # presets build on tasks (their actions are tasks)
    from traceacs.presets.applier import PresetApplier


class CompositeSessionHandler:
    """Provisioning, then tasks, in one CWMP session (a `SessionHandler`)."""

    def __init__(
        self,
        provisioning: SessionHandler,
        tasks: TaskSession,
        wakes: ConnectionRequestTraces | None = None,
        presets: PresetApplier | None = None,
    ) -> None:
        self.provisioning = provisioning
        self.tasks = tasks
        self._wakes = wakes
        self._presets = presets
        self._asked: Literal["provisioning", "tasks"] | None = None
        self._provisioning_done = False
        self._refused = False

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        answer = await self.provisioning.on_inform(inform, now)
        if isinstance(answer, m.CwmpFault):
            self._refused = True
            return answer
        root = self._share_trace()
        if root is not None and self._wakes is not None:
            self._link_connection_request(inform, root, now)
        queued = getattr(self.provisioning, "queued_tasks", None)
        if self._presets is not None and await self._apply_presets(inform, root, now):
            queued = True  # the presets queued tasks just now
        await self.tasks.on_inform(inform, now)
        if queued is False:
            self.tasks.no_tasks_queued()
        return answer

    async def _apply_presets(self, inform: m.Inform, root: SpanRecord | None, now: float) -> bool:
        """Queue what matching presets want (run below, with the other tasks); one
        ``cpe.preset.apply`` span per preset applied. True when any was applied."""
        assert self._presets is not None
        applied = await self._presets.apply(inform, now)
        trace = getattr(self.provisioning, "trace", None)
        if not applied or root is None or not isinstance(trace, SessionTrace):
            return bool(applied)
        trace.changed_something = True
        recorder = TraceRecorder(trace)
        for item in applied:
            preset = item.application.preset
            span = recorder.start(
                "cpe.preset.apply",
                now,
                parent=root,
                attributes={
                    "cpe.preset.name": preset.name,
                    "cpe.preset.revision": preset.revision,
                    "cpe.preset.weight": preset.weight,
                    "cpe.preset.parameter_count": len(item.application.parameter_values),
                    "cpe.preset.overridden_count": len(item.application.overridden),
                    "cpe.preset.task_ids": tuple(str(i) for i in item.task_ids),
                },
            )
            span.end(to_ns(now))
        return True

    def _share_trace(self) -> SpanRecord | None:
        trace = getattr(self.provisioning, "trace", None)
        root = getattr(self.provisioning, "root_span", None)
        if isinstance(trace, SessionTrace) and (root is None or isinstance(root, SpanRecord)):
            self.tasks.attach_trace(trace, root)
            return root
        return None

    def _link_connection_request(self, inform: m.Inform, root: SpanRecord, now: float) -> None:
        """A session woken by our connection request links to that request's span."""
        if self._wakes is None or CONNECTION_REQUEST_EVENT not in inform.event_codes:
            return
        device = inform.device_id
        reference = self._wakes.take(device.oui, device.serial_number, now)
        if reference is not None:
            self._wakes.link(root, reference, now)

    def snapshot(self) -> Json:
        """Both handlers' state and whose RPC is pending (`ResumableHandler`)."""
        if not isinstance(self.provisioning, ResumableHandler):
            raise SnapshotError("the provisioning handler cannot be resumed elsewhere")
        return {
            "provisioning": self.provisioning.snapshot(),
            "tasks": self.tasks.snapshot(),
            "asked": self._asked,
            "provisioning_done": self._provisioning_done,
            "refused": self._refused,
        }

    def release(self) -> None:
        if isinstance(self.provisioning, ResumableHandler):
            self.provisioning.release()

    async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
        if isinstance(request, m.TransferComplete):
            await self.tasks.on_cpe_request(request, now)
        return await self.provisioning.on_cpe_request(request, now)

    async def next_acs_request(self, now: float) -> m.Message | None:
        if self._refused:
            return None
        if not self._provisioning_done:
            request = await self.provisioning.next_acs_request(now)
            if request is not None:
                self._asked = "provisioning"
                return request
            self._provisioning_done = True
        request = await self.tasks.next_acs_request(now)
        self._asked = "tasks" if request is not None else None
        return request

    async def on_cpe_response(self, response: m.Message, now: float) -> None:
        asked, self._asked = self._asked, None
        if asked == "tasks":
            await self.tasks.on_cpe_response(response, now)
        elif asked == "provisioning":
            await self.provisioning.on_cpe_response(response, now)

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        try:
            await self.tasks.on_session_end(reason, now)
        finally:
            await self.provisioning.on_session_end(reason, now)


class CompositeHandlerFactory:
    """Creates a `CompositeSessionHandler` per CWMP session (a `SessionHandlerFactory`)."""

    def __init__(
        self,
        provisioning: SessionHandlerFactory,
        tasks: TaskHandlerFactory,
        wakes: ConnectionRequestTraces | None = None,
        presets: PresetApplier | None = None,
        *,
        quiet_sessions: bool = False,
    ) -> None:
        self.provisioning = provisioning
        self.tasks = tasks
        self.wakes = wakes
        self.presets = presets
        self._quiet: QuietCapableFactory | None = (
            provisioning
            if quiet_sessions and isinstance(provisioning, QuietCapableFactory)
            else None
        )
        """Set: sessions are served quiet when they can be (`QuietFirstSession`)."""

    async def restore(self, session_id: str, state: Json) -> SessionHandler:
        """The handler as `CompositeSessionHandler.snapshot` or, for a quiet session,
        `QuietFirstSession.snapshot` left it."""
        if "quiet" in state:
            if self._quiet is None:
                raise SnapshotError("a quiet session's snapshot where sessions are not quiet")
            quiet = self._quiet.resumed_quiet_session(session_id, state["quiet"])
            return QuietFirstSession.resumed(
                session_id, quiet, self._quiet, self.general, self.presets
            )
        if not isinstance(self.provisioning, ResumableHandlerFactory):
            raise SnapshotError("the provisioning handlers cannot be resumed elsewhere")
        try:
            provisioning = await self.provisioning.restore(session_id, state["provisioning"])
            trace = getattr(provisioning, "trace", None)
            root = getattr(provisioning, "root_span", None)
            shared = isinstance(trace, SessionTrace) and not state["refused"]
            tasks = await self.tasks.restore(
                session_id,
                state["tasks"],
                trace=trace if shared else None,
                root=root if shared and isinstance(root, SpanRecord) else None,
            )
            handler = CompositeSessionHandler(provisioning, tasks)
            asked = state["asked"]
            if asked not in (None, "provisioning", "tasks"):
                raise SnapshotError(f"unknown handler {asked!r} in a snapshot")
            handler._asked = asked
            handler._provisioning_done = bool(state["provisioning_done"])
            handler._refused = bool(state["refused"])
        except (KeyError, TypeError) as exc:
            raise SnapshotError(f"unreadable session snapshot: {exc!r}") from None
        return handler

    def new_session(self, session_id: str) -> SessionHandler:
        if self._quiet is not None:
            return QuietFirstSession(session_id, self._quiet, self.general, self.presets)
        return self.general(self.provisioning.new_session(session_id), session_id)

    def general(self, provisioning: SessionHandler, session_id: str) -> CompositeSessionHandler:
        """The general handler of a session around its provisioning handler."""
        return CompositeSessionHandler(
            provisioning, self.tasks.new_session(session_id), self.wakes, self.presets
        )
