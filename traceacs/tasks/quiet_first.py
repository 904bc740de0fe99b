"""A session served the quiet way when it is quiet, and the general way otherwise.

Most sessions of a fleet are quiet periodic ones: a provisioned device informs, has no
task queued, no preset applies and its config is unchanged, so the session answers
the Inform, sends nothing and ends at the empty POST. `QuietFirstSession` asks
provisioning's quiet check (`traceacs.provisioning.quiet_check`) at the Inform, once
it knows no preset can apply (`PresetApplier.known_none`), and serves a quiet session
with a `QuietSession` record alone: no provisioning workflow, task session, composite
or step-by-step trace is built for it. Otherwise it builds the general handler
(`CompositeSessionHandler`) and passes every call on.

A quiet session turns general if the CPE sends a request of its own (GetRPCMethods,
TransferComplete, ...): the quiet record is released and the general handler is given
the Inform (at the Inform's time) before it answers the request, so the CPE gets what
the general path would have answered and the session goes on with the general rules.
A response without a request of ours is ignored, as the composite does.

It is a `QuietEnding`: while it is quiet the endpoint answers the empty POST with 204
and ends the session through `end_quietly` (what ``next_acs_request`` and
``on_session_end("completed")`` do, in one synchronous call), not through the general
route's events and awaits.

Where sessions are shared by several processes (`--session-store database`), it is a
`ResumableHandler`: while quiet its snapshot is the quiet record's (``{"quiet": ...}``),
once general the general handler's; `CompositeHandlerFactory.restore` rebuilds either
in the process that gets the next POST (`QuietFirstSession.resumed` for a quiet one),
where the empty POST ends it or a CPE request turns it general, as in one process. The
endpoint's quiet route is not taken there (each POST's state is written back), so the
session ends through ``next_acs_request`` and ``on_session_end``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from traceacs.cwmp import messages as m
from traceacs.provisioning.quiet_check import NOT_QUIET, QuietVerdict
from traceacs.provisioning.quiet_session import QuietSession
from traceacs.provisioning.session_handler import (
    INFORM_ACCEPTED,
    SessionEndReason,
    SessionHandler,
)
from traceacs.provisioning.session_snapshot import Json, ResumableHandler, SnapshotError

if TYPE_CHECKING:
    from traceacs.presets.applier import PresetApplier


@runtime_checkable
class QuietCapableFactory(Protocol):
    """A provisioning handler factory with the quiet check (`ProvisioningHandlerFactory`)."""

    async def check_quiet(
        self, inform: m.Inform, codes: tuple[str, ...], now: float
    ) -> QuietVerdict: ...

    def quiet_session(
        self,
        session_id: str,
        inform: m.Inform,
        codes: tuple[str, ...],
        verdict: QuietVerdict,
        started_at: float,
    ) -> QuietSession: ...

    def session_after_check(self, session_id: str, *, inform_counted: bool) -> SessionHandler: ...

    def resumed_quiet_session(self, session_id: str, state: Json) -> QuietSession:
        """The quiet record `QuietSession.snapshot` wrote (`SnapshotError` if unreadable)."""
        ...


GeneralHandler = Callable[[SessionHandler, str], SessionHandler]
"""Builds the general session handler (the composite) around a provisioning handler."""


class QuietFirstSession:
    """One CWMP session, quiet when it can be (a `SessionHandler` and a `QuietEnding`:
    the endpoint ends a quiet one at its empty POST with `end_quietly`)."""

    __slots__ = (
        "_general",
        "_handler",
        "_presets",
        "_provisioning",
        "_quiet",
        "_session_id",
    )

    def __init__(
        self,
        session_id: str,
        provisioning: QuietCapableFactory,
        general: GeneralHandler,
        presets: PresetApplier | None,
    ) -> None:
        self._session_id = session_id
        self._provisioning = provisioning
        self._general = general
        self._presets = presets
        self._quiet: QuietSession | None = None
        self._handler: SessionHandler | None = None

    @classmethod
    def resumed(
        cls,
        session_id: str,
        quiet: QuietSession,
        provisioning: QuietCapableFactory,
        general: GeneralHandler,
        presets: PresetApplier | None,
    ) -> QuietFirstSession:
        """A quiet session rebuilt from its snapshot (``quiet``, `QuietSession.resumed`)."""
        session = cls(session_id, provisioning, general, presets)
        session._quiet = quiet
        return session

    def snapshot(self) -> Json:
        """The session's state for another process (`ResumableHandler`): the quiet
        record's while quiet, the general handler's once general."""
        if self._handler is not None:
            if not isinstance(self._handler, ResumableHandler):
                raise SnapshotError(f"{type(self._handler).__name__} cannot be resumed")
            return self._handler.snapshot()
        if self._quiet is None:
            raise SnapshotError("no Inform answered yet")
        return {"quiet": self._quiet.snapshot()}

    def release(self) -> None:
        """This process lets go of the session: it goes on (or ended) in another one."""
        if self._handler is not None:
            if isinstance(self._handler, ResumableHandler):
                self._handler.release()
        elif self._quiet is not None:
            self._quiet.release()

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        codes = inform.event_codes
        verdict = NOT_QUIET
        if self._presets is None or self._presets.known_none():
            verdict = await self._provisioning.check_quiet(inform, codes, now)
        device = verdict.device
        if verdict.quiet and device is not None and device.queued_tasks is False:
            self._quiet = self._provisioning.quiet_session(
                self._session_id, inform, codes, verdict, now
            )
            return INFORM_ACCEPTED
        provisioning = self._provisioning.session_after_check(
            self._session_id, inform_counted=False
        )
        self._handler = self._general(provisioning, self._session_id)
        return await self._handler.on_inform(inform, now)

    async def _general_handler(self) -> SessionHandler:
        """The general handler; a quiet session turns general here (module docstring)."""
        if self._handler is not None:
            return self._handler
        quiet = self._quiet
        assert quiet is not None
        quiet.release()
        self._quiet = None
        provisioning = self._provisioning.session_after_check(self._session_id, inform_counted=True)
        handler = self._handler = self._general(provisioning, self._session_id)
        await handler.on_inform(quiet.inform, quiet.started_at)
        return handler

    @property
    def quiet(self) -> bool:
        """Served the quiet way (the check said so at the Inform) and not turned general."""
        return self._handler is None and self._quiet is not None

    def end_quietly(self, now: float) -> None:
        """`next_acs_request` (nothing to send) and ``on_session_end("completed")`` of a
        quiet session, in one synchronous call (`QuietEnding`)."""
        quiet = self._quiet
        assert quiet is not None, "not a quiet session"
        quiet.asked()
        quiet.end("completed", now)

    async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
        handler = await self._general_handler()
        return await handler.on_cpe_request(request, now)

    async def next_acs_request(self, now: float) -> m.Message | None:
        if self._handler is None:
            if self._quiet is not None:
                self._quiet.asked()
            return None  # quiet: nothing to send
        return await self._handler.next_acs_request(now)

    async def on_cpe_response(self, response: m.Message, now: float) -> None:
        if self._handler is not None:
            await self._handler.on_cpe_response(response, now)

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        if self._handler is not None:
            await self._handler.on_session_end(reason, now)
        elif self._quiet is not None:
            self._quiet.end(reason, now)
