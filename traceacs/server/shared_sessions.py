"""CWMP sessions shared by several ACS processes through a `SessionStore`.

Behind a load balancer without stickiness, each POST of one CWMP session may reach a
different process. The endpoint then keeps its in-process registry as a cache only:
for each POST it reads the session's row (one primary-key read), uses its cached copy
when that copy has the row's version, rebuilds the session from the row otherwise, and
after answering writes the new state with a compare-and-set on the version. The row of
a device is unique, so a second Inform of a device in session anywhere gets 8005.

This module turns a `LiveSession` into a row and back; the endpoint decides when.
The row's state is JSON: the protocol state (`CwmpSession`), the session's bookkeeping
and the handler's snapshot (`ResumableHandler`). The cookie is not in it (only its
hash is the row key), nor any secret.
"""

from __future__ import annotations

import json
from typing import Any

from traceacs.cwmp.session import CwmpSession, State
from traceacs.provisioning.session_handler import SessionHandler
from traceacs.provisioning.session_snapshot import (
    ResumableHandler,
    ResumableHandlerFactory,
    SnapshotError,
)
from traceacs.provisioning.session_store import SessionStore, StoredSession, cookie_key
from traceacs.server.cwmp_sessions import LiveSession

STATE_FORMAT = 1
OPENING = "{}"
"""The state of a row claimed for an Inform still being answered (nothing to resume)."""


class SharedSessions:
    """Reads and writes the `LiveSession`s of the endpoint in a shared `SessionStore`."""

    def __init__(self, store: SessionStore, factory: ResumableHandlerFactory) -> None:
        self.store = store
        self.factory = factory

    async def claim(self, cookie: str, device_key: str, session_id: str, expires_at: float) -> bool:
        """Reserve the device for a new session (False: it is in session elsewhere)."""
        return await self.store.claim(
            StoredSession(
                key=cookie_key(cookie),
                device_key=device_key,
                session_id=session_id,
                version=0,
                expires_at=expires_at,
                state=OPENING,
            )
        )

    async def load(self, cookie: str) -> StoredSession | None:
        return await self.store.load(cookie_key(cookie))

    async def save(self, session: LiveSession) -> bool:
        """Write ``session`` as the row's next version; False if another process did."""
        row = StoredSession(
            key=cookie_key(session.cookie),
            device_key=session.device_key,
            session_id=session.session_id,
            version=session.version + 1,
            expires_at=session.machine.last_activity + session.machine.timeout,
            state=json.dumps(encode(session), separators=(",", ":")),
        )
        if not await self.store.save(row, session.version):
            return False
        session.version = row.version
        return True

    async def resume(self, row: StoredSession, cookie: str) -> LiveSession:
        """The session of ``row``, with a handler rebuilt from its snapshot.

        ``cookie`` is the one the POST brought ("" when a sweeper resumes a row only
        to end it). Raises `SnapshotError` when the row cannot be resumed.
        """
        if row.state == OPENING:
            raise SnapshotError("the session's Inform is still being answered")
        try:
            data = json.loads(row.state)
            if data.get("format") != STATE_FORMAT:
                raise SnapshotError(f"unknown session state format {data.get('format')!r}")
            machine = CwmpSession.resumed(
                State(data["state"]),
                started_at=float(data["started_at"]),
                last_activity=float(data["last_activity"]),
                timeout=float(data["timeout"]),
                hold_requests=bool(data["hold_requests"]),
            )
            handler = await self.factory.restore(row.session_id, data["handler"])
            return LiveSession(
                machine=machine,
                handler=handler,
                device_key=row.device_key,
                namespace=str(data["namespace"]),
                started_at=float(data["started_at"]),
                session_id=row.session_id,
                cookie=cookie,
                event_codes=tuple(str(c) for c in data["event_codes"]),
                rpcs_sent=int(data["rpcs_sent"]),
                cpe_requests=int(data["cpe_requests"]),
                last_response_was_fault=bool(data["last_response_was_fault"]),
                version=row.version,
                cwmp_ids_issued=int(data["cwmp_ids_issued"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"unreadable session row: {exc!r}") from None

    @staticmethod
    def release(session: LiveSession) -> None:
        """This process drops its copy of a session that goes on (or ended) elsewhere."""
        if isinstance(session.handler, ResumableHandler):
            session.handler.release()


def encode(session: LiveSession) -> dict[str, Any]:
    """A session's state as JSON-ready data (raises `SnapshotError` if not resumable)."""
    handler: SessionHandler = session.handler
    if not isinstance(handler, ResumableHandler):
        raise SnapshotError(f"{type(handler).__name__} cannot be resumed by another process")
    machine = session.machine
    return {
        "format": STATE_FORMAT,
        "state": machine.state.value,
        "started_at": machine.started_at,
        "last_activity": machine.last_activity,
        "timeout": machine.timeout,
        "hold_requests": machine.hold_requests,
        "namespace": session.namespace,
        "event_codes": list(session.event_codes),
        "rpcs_sent": session.rpcs_sent,
        "cpe_requests": session.cpe_requests,
        "last_response_was_fault": session.last_response_was_fault,
        "cwmp_ids_issued": session.cwmp_ids_issued,
        "handler": handler.snapshot(),
    }
