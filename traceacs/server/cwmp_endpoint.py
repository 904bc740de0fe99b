"""The CWMP endpoint: HTTP POSTs in, the session state machine driven, answers out.

This adapter only moves bytes. For each POST it finds the session (cookie, then TCP
connection), authenticates the POST that opens a session, parses the envelope, feeds
the matching event to `traceacs.cwmp.session.CwmpSession`, and asks the session's
`SessionHandler` what to answer. Decisions (accept the device? which RPC next?) are
the handler's.

Wire choices, each for a CPE seen in the wild (see ../shared/cwmp/QUIRKS.md):
- Any path is accepted: CPEs are configured with arbitrary ACS URLs.
- CWMP faults travel in HTTP 200 responses: several agents treat any non-2xx status
  as a transport failure and drop the session without reading the fault.
- A body that is not an envelope at all (no namespace could be read) gets HTTP 400.
- A second Inform from a device already in session gets fault 8005 (Retry request):
  agents retry the Inform on 8005, and by then the first session has ended or timed
  out. 503 + Retry-After is kept for overload (more than ``max_sessions``), answered
  before authentication and parsing so that refusing stays cheap.
- Except when that first session was abandoned: a CPE that rebooted, lost power or
  dropped its connection re-Informs at once. A session with no POST being answered
  whose connection is closed, or silent for ``abandoned_after`` seconds (a half-open
  connection), is ended as ``abandoned`` and the new Inform admitted, not refused.
  The sweeper ends it as ``abandoned`` too, without a new Inform, once its connection
  has been closed and silent for ``abandoned_after`` seconds, so dropped CPEs do not
  hold admission slots until the session timeout.
- An empty ACS answer is HTTP 204 with no body (a 200 with an empty body broke CPEs).
- An empty POST is any zero-length (or whitespace-only) body: Content-Length 0, no
  length, or chunked. The HTTP server (`traceacs.server.http11`) decodes gzip/deflate
  bodies and answers ``Expect: 100-continue``; no SOAPAction header is needed.

The quiet route: most sessions of a fleet are quiet periodic ones (the handler has
nothing to send). A handler that knows so once it has answered the Inform says it
(`traceacs.provisioning.session_handler.QuietEnding`, e.g. `QuietFirstSession`), and
the empty POST of such a session is answered 204 and the session ended in one
synchronous step (`_end_quietly`): one state-machine move (`EmptyPostEndsSession`),
the registry entry removed, the handler told once (``end_quietly``), the same session
line, no lock or coroutine. Anything else (a request, a fault, garbage, a timed-out
session, a POST while another of the session is answered, a shared session store)
goes the general way, as before.

The endpoint sees a `CwmpRequest` (body already read, under the size cap) and answers
a `CwmpReply`; it knows no HTTP library.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import DEFAULT_MAX_ENVELOPE_BYTES, parse_envelope, serialize_envelope
from traceacs.cwmp.errors import CwmpError, CwmpParseError, ProtocolError
from traceacs.cwmp.faults import (
    INTERNAL_ERROR,
    INVALID_ARGUMENTS,
    METHOD_NOT_SUPPORTED,
    REQUEST_DENIED,
    RETRY_REQUEST,
    make_fault,
)
from traceacs.cwmp.session import (
    DEFAULT_SESSION_TIMEOUT,
    Aborted,
    AcsRequestSent,
    CpeRequestReceived,
    CpeResponseReceived,
    CwmpSession,
    EmptyPostEndsSession,
    EmptyPostReceived,
    InformReceived,
    NoMoreAcsRequests,
    State,
    TimedOut,
)
from traceacs.provisioning.repository import RepositoryError
from traceacs.provisioning.session_handler import (
    QuietEnding,
    SessionEndReason,
    SessionHandler,
    SessionHandlerFactory,
)
from traceacs.provisioning.session_snapshot import ResumableHandlerFactory, SnapshotError
from traceacs.provisioning.session_store import SessionStore, StoredSession, cookie_key
from traceacs.server.cpe_auth import AuthOutcome, CpeAuthenticator, username_names_device
from traceacs.server.cwmp_sessions import (
    COOKIE_NAME,
    LiveSession,
    SessionRegistry,
    connection_closed,
    new_session_id_and_cookie,
)
from traceacs.server.exchange import (
    NO_CONTENT,
    TEXT_XML,
    CwmpReply,
    CwmpRequest,
    text_reply,
)
from traceacs.server.log_throttle import LogThrottle
from traceacs.server.retry_after import DEFAULT_POLICY, AdaptiveRetryAfter, RetryAfterPolicy
from traceacs.server.shared_sessions import OPENING, SharedSessions

log = logging.getLogger("traceacs.server.cwmp")

Clock = Callable[[], float]

CWMP_VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3", "1.4")
_COOKIE_SPLIT = re.compile(r"[;,]")
_COOKIE_PREFIX = COOKIE_NAME + "="

# The field-less state-machine events, built once (frozen: sharing them is safe).
_INFORM_RECEIVED = InformReceived()
_EMPTY_POST_RECEIVED = EmptyPostReceived()
_NO_MORE_ACS_REQUESTS = NoMoreAcsRequests()
_EMPTY_POST_ENDS_SESSION = EmptyPostEndsSession()


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """Limits of the CWMP endpoint (see `traceacs.config.Settings` for the options)."""

    session_timeout: float = DEFAULT_SESSION_TIMEOUT
    max_sessions: int = 10_000
    max_body_bytes: int = DEFAULT_MAX_ENVELOPE_BYTES
    retry_after_seconds: int = 30
    retry_after: RetryAfterPolicy | None = DEFAULT_POLICY
    """Overload 503s get an adaptive Retry-After within these bounds (an appointment at
    the measured admission rate, `traceacs.server.retry_after`); None answers the fixed
    ``retry_after_seconds``, which the other 503s always use."""
    secure_cookie: bool = False
    abandoned_after: float = 10.0
    """Seconds of silence after which a new Inform of the device replaces its session even
    if the session's connection still looks open (shorter than ``session_timeout``)."""
    body_read_timeout: float = 30.0
    """Seconds to receive a whole request body; a client that stalls gets 408."""
    worker_name: str = ""
    """When set, every CWMP response carries it in ``X-TraceACS-Worker`` (which process
    of a scaled-out ACS answered; tests and operators behind a balancer read it)."""


def negotiate_cwmp_version(supported: str | None) -> str | None:
    """The ``UseCWMPVersion`` answer to a 1.4 CPE's ``SupportedCWMPVersions``."""
    if supported is None:
        return None
    offered = {v.strip() for v in supported.split(",")}
    common = [v for v in CWMP_VERSIONS if v in offered]
    return common[-1] if common else None


def session_cookie(request: CwmpRequest) -> str | None:
    """The session cookie, also from CPEs that separate cookies with ``,``."""
    cookies = request.cookies
    if len(cookies) == 1:
        # The usual header: our cookie alone, as the CPE was given it.
        only = cookies[0].strip()
        if only.startswith(_COOKIE_PREFIX) and ";" not in only and "," not in only:
            return only[len(_COOKIE_PREFIX) :].strip().strip('"')
    for header in cookies:
        for part in _COOKIE_SPLIT.split(header):
            name, _, value = part.strip().partition("=")
            if name.strip() == COOKIE_NAME:
                return value.strip().strip('"')
    return None


def loggable(text: str, limit: int = 130) -> str:
    """Device-supplied text made safe for a log line: cut, control characters escaped.

    A serial number may hold a newline (XML allows it): logged raw, it would forge log
    lines. Escaping keeps the line one line and the value recognisable.
    """
    cut = text[:limit]
    if cut.isprintable():
        return cut
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)


def _blank(body: bytes) -> bool:
    """An empty POST's body: nothing, or ASCII whitespace only (what ``not body.strip()``
    says, without copying an Inform's few kilobytes to say no)."""
    return not body or body.isspace()


def _device_key(inform: m.Inform) -> str:
    """The registry key of a device: OUI and serial number."""
    return f"{inform.device_id.oui}-{inform.device_id.serial_number}"


def _log_abandoned(device_key: str, session_id: str) -> None:
    """The line saying a device's new Inform replaces its abandoned session."""
    log.info(
        "cwmp: device %s sent a new Inform; its session %s was abandoned",
        loggable(device_key),
        session_id,
    )


def _log_end_failed(session: LiveSession, exc: Exception) -> None:
    """A handler failed at its session's end (only the type: its text may hold secrets)."""
    log.error("cwmp: session %s: on_session_end failed: %s", session.session_id, type(exc).__name__)


def _log_session(session: LiveSession, reason: SessionEndReason, now: float) -> None:
    """The one line per session, at its end (whichever way it ended)."""
    log.info(
        "cwmp session %s device=%s events=%s result=%s duration_ms=%.0f "
        "cpe_requests=%d acs_rpcs=%d",
        session.session_id,
        loggable(session.device_key),
        loggable(",".join(session.event_codes)) or "-",
        reason,
        max(0.0, now - session.started_at) * 1000,
        session.cpe_requests,
        session.rpcs_sent,
    )


def _is_request(message: m.Message) -> bool:
    """A request (either direction) as opposed to a response or a fault."""
    kind = type(message)
    return kind in m.CPE_REQUESTS or kind in m.ACS_REQUESTS


class CwmpEndpoint:
    """Serves ``POST`` requests of CPEs; one instance per server.

    ``clock`` gives seconds since the epoch; it is read once per request and passed down.
    """

    def __init__(
        self,
        factory: SessionHandlerFactory,
        *,
        authenticator: CpeAuthenticator | None,
        settings: EndpointSettings | None = None,
        clock: Clock = time.time,
        store: SessionStore | None = None,
    ) -> None:
        self.factory = factory
        self.authenticator = authenticator
        self.settings = settings if settings is not None else EndpointSettings()
        self._cookie_attributes = "; HttpOnly; Path=/" + (
            "; Secure" if self.settings.secure_cookie else ""
        )
        self.clock = clock
        self.registry = SessionRegistry()
        self._refusals = LogThrottle()
        self._quiet_kinds: dict[type, bool] = {}
        """Per handler class: whether it is a `QuietEnding` (a runtime protocol check
        walks the protocol's members on every call; the class decides it once)."""
        policy = self.settings.retry_after
        self._retry_after = AdaptiveRetryAfter(policy) if policy is not None else None
        self.shared: SharedSessions | None = None
        if store is not None:
            if not isinstance(factory, ResumableHandlerFactory):
                raise TypeError(
                    f"{type(factory).__name__} cannot resume sessions: no shared session store"
                )
            self.shared = SharedSessions(store, factory)

    # ------------------------------------------------------------------ entry

    async def handle(self, request: CwmpRequest) -> CwmpReply:
        """Answer one POST (its body was read, de-chunked and decompressed by the server)."""
        body = request.body
        now = self.clock()
        try:
            if self.shared is None:
                session = self.registry.find(session_cookie(request), request.connection)
                if session is not None:
                    quiet = session.quiet
                    if quiet is not None and quiet.quiet and self._quiet_ends(session, body, now):
                        return self._end_quietly(session, quiet, request, now)
                    session = await self._unexpired(session, now)
            else:
                session = await self._find(request, now)
            if session is None and len(self.registry) >= self.settings.max_sessions:
                # Full: refuse a new session before authenticating or parsing it. Under
                # overload most requests are refused, so refusing must cost far less than
                # serving, or the refusals eat the capacity the admitted sessions need.
                return self._overloaded(None)
            if session is not None:
                async with session.lock:
                    if not session.ended:
                        response = await self._guarded(session, request, body, now)
                        if response is not None:
                            if self.shared is None:
                                return response
                            return await self._shared_after(session, response)
            return await self._without_session(request, body, now)
        except RepositoryError as exc:
            if self.shared is None:
                raise
            # The shared session store is unreachable: the POST is refused, and a session
            # whose new state could not be written is not continued from this copy.
            log.warning("cwmp: session store unavailable: %s", type(exc).__name__)
            return text_reply(
                503,
                "session store unavailable",
                headers=(("Retry-After", str(self.settings.retry_after_seconds)),),
            )

    async def expire_sessions(self) -> int:
        """End every session silent for longer than its timeout, and every session whose
        connection closed ``abandoned_after`` seconds ago without a word since (as
        ``abandoned``: under a boot storm, CPEs that dropped mid-session would otherwise
        keep ``max_sessions`` full and have live CPEs refused until the timeout);
        returns how many."""
        now = self.clock()
        if self.shared is not None:
            return await self._expire_shared(now)
        count = 0
        ended: list[tuple[LiveSession, SessionEndReason]] = [
            (session, "timeout") for session in self.registry.expired(now)
        ]
        ended += [
            (session, "abandoned")
            for session in self.registry.abandoned(now, self.settings.abandoned_after)
        ]
        for session, reason in ended:
            if session.lock.locked():
                continue  # a POST is being answered right now
            await self._end(session, reason, now)
            count += 1
        return count

    async def close_all(self, reason: SessionEndReason = "dropped") -> None:
        """End every open session (server stopping).

        With a shared store the sessions are not ended: their rows stay, and the CPEs'
        next POSTs continue them in the other processes.
        """
        now = self.clock()
        for session in self.registry:
            if self.shared is not None:
                self._drop_copy(session)
            else:
                await self._end(session, reason, now)

    # ------------------------------------------------------------------ lookup

    async def _find(self, request: CwmpRequest, now: float) -> LiveSession | None:
        cookie = session_cookie(request)
        if self.shared is not None:
            # By cookie only: behind a balancer one upstream connection carries many
            # CPEs' POSTs, so a connection names no session (see README, Scaling out).
            session = await self._find_shared(cookie, now) if cookie else None
        else:
            session = self.registry.find(cookie, request.connection)
        return await self._unexpired(session, now) if session is not None else None

    async def _unexpired(self, session: LiveSession, now: float) -> LiveSession | None:
        """``session``, or None once it is ended for having timed out (unless a POST of
        it is being answered right now)."""
        if session.machine.is_expired(now) and not session.lock.locked():
            await self._end(session, "timeout", now)
            return None
        return session

    def _replaceable(self, session: LiveSession, now: float) -> SessionEndReason | None:
        """Why a new Inform of ``session``'s device may end it; None keeps it (8005).

        A POST being answered (locked) is never cut. Otherwise a session past its timeout
        ends as ``timeout``; one whose connection is closed, or that has been silent for
        ``abandoned_after`` seconds, as ``abandoned``: its CPE has started over.
        """
        if session.ended or session.lock.locked():
            return None
        if session.machine.is_expired(now):
            return "timeout"
        silent = now - session.machine.last_activity
        if connection_closed(session.connection) or silent >= self.settings.abandoned_after:
            return "abandoned"
        return None

    # ------------------------------------------------------------------ new session

    async def _without_session(self, request: CwmpRequest, body: bytes, now: float) -> CwmpReply:
        outcome: AuthOutcome | None = None
        if self.authenticator is not None:
            outcome = await self.authenticator.authenticate(
                request.authorization,
                method=request.method,
                request_uri=request.raw_path,
                now=now,
            )
            if not outcome.accepted:
                log.debug("cwmp: 401 for a new session (%s)", outcome.failure)
                challenges = tuple(("WWW-Authenticate", c) for c in outcome.challenges)
                return text_reply(401, "authentication required", headers=challenges)
        if _blank(body):
            # An empty POST outside any session (e.g. after a timeout): nothing to do.
            return NO_CONTENT
        try:
            envelope = parse_envelope(body, max_size=self.settings.max_body_bytes)
        except CwmpParseError as exc:
            return self._parse_error_response(exc)
        inform = envelope.body
        if not isinstance(inform, m.Inform):
            return self._fault(
                envelope,
                make_fault(INVALID_ARGUMENTS, "a CWMP session must begin with an Inform"),
            )
        device_key = _device_key(inform)
        if outcome is not None and outcome.device_bound and outcome.username is not None:
            device = inform.device_id
            if not username_names_device(
                outcome.username, device.oui, device.product_class, device.serial_number
            ):
                # One CPE speaking for another: no session, no handler, no cookie.
                log.warning(
                    "cwmp: credentials of %s presented with an Inform of device %s; answered 8001",
                    loggable(outcome.username, 64),
                    loggable(device_key),
                )
                return self._fault(envelope, make_fault(REQUEST_DENIED))
        busy = self.registry.for_device(device_key) if self.shared is None else None
        while busy is not None and (reason := self._replaceable(busy, now)) is not None:
            if reason == "abandoned":
                _log_abandoned(device_key, busy.session_id)
            await self._end(busy, reason, now)
            # Another Inform of the device may have opened a session meanwhile.
            busy = self.registry.for_device(device_key)
        if busy is not None:
            log.info("cwmp: device %s already in session; answered 8005", loggable(device_key))
            return self._fault(envelope, make_fault(RETRY_REQUEST))
        if len(self.registry) >= self.settings.max_sessions:  # filled while authenticating
            return self._overloaded(device_key)
        return await self._open(request, envelope, inform, device_key, now)

    def _overloaded(self, device_key: str | None) -> CwmpReply:
        """503 + Retry-After for a new session beyond ``max_sessions``."""
        now = self.clock()
        refused = self._refusals.tick(now)
        if refused is not None:  # one line per interval: an overload must not flood logs
            log.warning(
                "cwmp: %d sessions open, refused %d new session(s) with 503 since the last "
                "such line%s",
                len(self.registry),
                refused,
                f" (latest {loggable(device_key)})" if device_key else "",
            )
        return text_reply(
            503,
            "too many CWMP sessions",
            headers=(("Retry-After", str(self.overload_retry_after(now))),),
        )

    def overload_retry_after(self, now: float | None = None) -> int:
        """The ``Retry-After`` of a CPE refused for overload, at the session limit here
        or at the HTTP server's connection limit: an appointment at the admission rate
        when adaptive, so both kinds of refusal come back when there is room (a fixed
        30 s at the connection limit left a boot storm's tail with the ACS idle)."""
        if self._retry_after is not None:
            return self._retry_after.refused(self.clock() if now is None else now)
        return self.settings.retry_after_seconds

    async def _open(
        self,
        request: CwmpRequest,
        envelope: m.Envelope,
        inform: m.Inform,
        device_key: str,
        now: float,
    ) -> CwmpReply:
        session_id, cookie = new_session_id_and_cookie()
        if self.shared is not None and not await self._claim(cookie, device_key, session_id, now):
            log.info("cwmp: device %s in session elsewhere; answered 8005", loggable(device_key))
            return self._fault(envelope, make_fault(RETRY_REQUEST))
        try:
            handler = self.factory.new_session(session_id)
        except Exception as exc:
            log.error("cwmp: session handler factory failed: %s", type(exc).__name__)
            if self.shared is not None:
                await self.shared.store.delete(cookie_key(cookie))
            return self._fault(envelope, make_fault(INTERNAL_ERROR))
        machine = CwmpSession(now, timeout=self.settings.session_timeout)
        machine.handle(_INFORM_RECEIVED, now)
        session = LiveSession(
            machine=machine,
            handler=handler,
            device_key=device_key,
            namespace=envelope.namespace,
            started_at=now,
            session_id=session_id,
            cookie=cookie,
            event_codes=inform.event_codes,
        )
        session.connection = request.connection
        if self.shared is None:
            session.quiet = self._quiet_ending(handler)
        async with session.lock:
            self.registry.add(session)
            if self._retry_after is not None:
                self._retry_after.admitted(now)
            try:
                answer = await session.handler.on_inform(inform, now)
            except Exception as exc:
                return await self._internal_error(session, envelope, exc, now)
            if isinstance(answer, m.CwmpFault):
                response = self._fault(envelope, answer)
                await self._end(session, "completed", now)
                return response
            reply = m.Envelope(
                body=answer,
                cwmp_id=envelope.cwmp_id,
                namespace=envelope.namespace,
                use_cwmp_version=negotiate_cwmp_version(envelope.supported_cwmp_versions),
            )
            response = self._soap(reply, self._cookie_header(session.cookie))
            if self.shared is None:
                return response
            return await self._shared_after(session, response)

    def _quiet_ending(self, handler: SessionHandler) -> QuietEnding | None:
        """``handler`` as a `QuietEnding` when its class is one; else None."""
        kind = type(handler)
        capable = self._quiet_kinds.get(kind)
        if capable is None:
            capable = self._quiet_kinds[kind] = isinstance(handler, QuietEnding)
        return cast(QuietEnding, handler) if capable else None

    # ------------------------------------------------------------------ in session

    def _quiet_ends(self, session: LiveSession, body: bytes, now: float) -> bool:
        """Whether this POST of a quiet session is its empty POST, to be answered by
        `_end_quietly`: empty, the session live, within its timeout and in its CPE
        phase, and no other POST of it being answered (which the lock would wait for).
        Anything else goes the general way (`_guarded`), as before the quiet path."""
        return (
            _blank(body)
            and not session.ended
            and not session.lock.locked()
            and session.machine.state is State.CPE_REQUESTS
            and not session.machine.is_expired(now)
        )

    def _end_quietly(
        self, session: LiveSession, quiet: QuietEnding, request: CwmpRequest, now: float
    ) -> CwmpReply:
        """The empty POST of a quiet session: 204, and the session ends ``completed``.

        What `_guarded`, `_next_rpc` and `_end` do for it, in the same order, with
        nothing to await (so no lock to take): the connection bound, the state machine's
        one move for an empty POST with nothing to send (`EmptyPostEndsSession`), the
        session out of the registry, the handler told (`QuietEnding.end_quietly`, its
        failure logged as ``on_session_end``'s), the session line.
        """
        self._bind(session, request)
        session.machine.handle(_EMPTY_POST_ENDS_SESSION, now)
        session.ended = True
        self.registry.remove(session)
        try:
            quiet.end_quietly(now)
        except Exception as exc:
            _log_end_failed(session, exc)
        _log_session(session, "completed", now)
        return NO_CONTENT

    async def _guarded(
        self, session: LiveSession, request: CwmpRequest, body: bytes, now: float
    ) -> CwmpReply | None:
        """Answer a POST of ``session``; None when it is an Inform (a new session).

        A cookie (or a keep-alive connection) of device A presented with device B's
        Inform is not A's business: A's session is left untouched and the POST is
        handled as a new session, authenticated as such. With device A's own Inform,
        A has started over: its session ends as ``abandoned`` first.
        """
        envelope: m.Envelope | None = None
        try:
            if _blank(body):
                self._bind(session, request)
                session.machine.handle(_EMPTY_POST_RECEIVED, now)
                return await self._next_rpc(session, now)
            try:
                envelope = parse_envelope(body, max_size=self.settings.max_body_bytes)
            except CwmpParseError as exc:
                self._bind(session, request)
                return await self._parse_error_in_session(session, exc, now)
            message = envelope.body
            if isinstance(message, m.Inform) and _device_key(message) != session.device_key:
                log.warning(
                    "cwmp: session %s: its cookie or connection came with another "
                    "device's Inform; handled as a new session",
                    session.session_id,
                )
                return None
            if isinstance(message, m.Inform):
                # No Inform is legal inside a session: the CPE started over (it gave up
                # on this one, e.g. after a timeout, keeping its cookie or connection).
                log.info(
                    "cwmp: session %s: the device sent a new Inform; this one was abandoned",
                    session.session_id,
                )
                await self._end(session, "abandoned", now)
                return None
            self._bind(session, request)
            return await self._message(session, envelope, now)
        except ProtocolError as exc:
            log.warning("cwmp: session %s: %s", session.session_id, exc)
            fault = make_fault(INVALID_ARGUMENTS, str(exc))
            response = self._fault_for(session, envelope, fault)
            await self._end(session, "protocol_error", now)
            return response
        except Exception as exc:
            return await self._internal_error(session, envelope, exc, now)

    def _bind(self, session: LiveSession, request: CwmpRequest) -> None:
        if request.connection is not None and session.connection is not request.connection:
            self.registry.bind_connection(session, request.connection)

    async def _message(self, session: LiveSession, envelope: m.Envelope, now: float) -> CwmpReply:
        message = envelope.body
        if isinstance(message, m.Inform):
            session.machine.handle(_INFORM_RECEIVED, now)  # raises: a second Inform
        if _is_request(message):
            session.machine.handle(CpeRequestReceived(message.method), now)
            session.cpe_requests += 1
            if type(message) in m.CPE_REQUESTS:
                answer = await session.handler.on_cpe_request(message, now)
            else:
                answer = make_fault(METHOD_NOT_SUPPORTED)
            reply = m.Envelope(body=answer, cwmp_id=envelope.cwmp_id, namespace=session.namespace)
            return self._soap(reply)
        session.machine.handle(CpeResponseReceived(message.method), now)
        session.last_response_was_fault = isinstance(message, m.CwmpFault)
        await session.handler.on_cpe_response(message, now)
        return await self._next_rpc(session, now)

    async def _next_rpc(self, session: LiveSession, now: float) -> CwmpReply:
        rpc = await session.handler.next_acs_request(now)
        if rpc is None:
            session.machine.handle(_NO_MORE_ACS_REQUESTS, now)
            reason: SessionEndReason = (
                "cpe_fault" if session.last_response_was_fault else "completed"
            )
            await self._end(session, reason, now)
            return NO_CONTENT
        session.machine.next_state(AcsRequestSent(rpc.method))
        reply = m.Envelope(body=rpc, cwmp_id=session.next_cwmp_id(), namespace=session.namespace)
        response = self._soap(reply)  # may raise on an unwritable message: state unchanged
        session.machine.handle(AcsRequestSent(rpc.method), now)
        session.rpcs_sent += 1
        return response

    async def _parse_error_in_session(
        self, session: LiveSession, exc: CwmpParseError, now: float
    ) -> CwmpReply:
        if exc.fault_code == METHOD_NOT_SUPPORTED and session.machine.state is State.CPE_REQUESTS:
            # An RPC the ACS does not know: refuse it, the session goes on.
            session.machine.handle(CpeRequestReceived("unknown"), now)
            return self._parse_error_response(exc, session.namespace)
        log.warning("cwmp: session %s: unparsable message: %s", session.session_id, exc.message)
        response = self._parse_error_response(exc, session.namespace)
        await self._end(session, "protocol_error", now)
        return response

    # ------------------------------------------------------------------ endings

    async def _internal_error(
        self, session: LiveSession, envelope: m.Envelope | None, exc: Exception, now: float
    ) -> CwmpReply:
        # Only the type: a handler's exception text may carry device data or secrets.
        log.error("cwmp: session %s: handler failed: %s", session.session_id, type(exc).__name__)
        response = self._fault_for(session, envelope, make_fault(INTERNAL_ERROR))
        await self._end(session, "dropped", now)
        return response

    async def _end(
        self, session: LiveSession, reason: SessionEndReason, now: float, *, claimed: bool = True
    ) -> None:
        """End ``session`` exactly once: state machine, registry, handler, log line.

        With a shared store its row goes too (``claimed=False``: it never had one).
        """
        if session.ended:
            return
        session.ended = True
        if not session.machine.ended:
            event = TimedOut() if reason == "timeout" else Aborted(reason)
            session.machine.handle(event, now)
        self.registry.remove(session)
        if self.shared is not None and claimed and session.cookie:
            try:
                await self.shared.store.delete(cookie_key(session.cookie))
            except RepositoryError as exc:  # the row expires; its sweep finds it ended
                log.warning("cwmp: session %s: row not deleted: %s", session.session_id, exc)
        try:
            await session.handler.on_session_end(reason, now)
        except Exception as exc:
            _log_end_failed(session, exc)
        _log_session(session, reason, now)

    # ------------------------------------------------------------------ shared store

    async def _find_shared(self, cookie: str, now: float) -> LiveSession | None:
        """The session of a POST from the shared store; this process's copy if current."""
        assert self.shared is not None
        cached = self.registry.find(cookie, None)
        row = await self.shared.load(cookie)
        if row is not None and row.expires_at < now:
            await self._end_row(row, now)  # ends it unless a sweeper already did
            row = None
        if row is None:  # ended (or expired) in another process
            if cached is not None:
                self._drop_copy(cached)
            return None
        if cached is not None and cached.version == row.version:
            return cached
        if cached is not None:
            self._drop_copy(cached)  # advanced by another process since
        try:
            session = await self.shared.resume(row, cookie)
        except SnapshotError as exc:
            log.warning("cwmp: session %s cannot be resumed here: %s", row.session_id, exc)
            return None
        self.registry.add(session)
        return session

    async def _claim(self, cookie: str, device_key: str, session_id: str, now: float) -> bool:
        """Take the device's row for a new session; a row past its expiry is ended first."""
        assert self.shared is not None
        expires_at = now + self.settings.session_timeout
        if await self.shared.claim(cookie, device_key, session_id, expires_at):
            self._forget_device_copy(device_key)
            return True
        holder = await self.shared.store.for_device(device_key)
        reason = self._row_replaceable(holder, now) if holder is not None else None
        if holder is None or reason is not None:
            if holder is not None and reason is not None:
                if reason == "abandoned":
                    _log_abandoned(device_key, holder.session_id)
                await self._end_row(holder, now, reason)
            if await self.shared.claim(cookie, device_key, session_id, expires_at):
                self._forget_device_copy(device_key)
                return True
        return False

    def _row_replaceable(self, row: StoredSession, now: float) -> SessionEndReason | None:
        """Why a new Inform of the row's device may end the row's session; None keeps it.

        Which connection a session's CPE uses is not known across processes, so only
        silence tells: a row not written for ``abandoned_after`` seconds (its expiry less
        the session timeout) is abandoned. A row whose Inform is still being answered,
        or whose copy here is answering a POST, is kept. Exactly one process ends the
        session: `_end_row` takes the row by its version (compare-and-set).
        """
        assert self.shared is not None
        if row.expires_at < now:
            return "timeout"
        if row.state == OPENING:
            return None
        cached = self.registry.for_device(row.device_key)
        if cached is not None and cached.lock.locked():
            return None
        silent = now - (row.expires_at - self.settings.session_timeout)
        return "abandoned" if silent >= self.settings.abandoned_after else None

    def _forget_device_copy(self, device_key: str) -> None:
        cached = self.registry.for_device(device_key)
        if cached is not None:
            self._drop_copy(cached)

    async def _shared_after(self, session: LiveSession, response: CwmpReply) -> CwmpReply:
        """Write the session's new state after answering; a lost race answers 503."""
        if self.shared is None or session.ended:
            return response
        try:
            saved = await self.shared.save(session)
        except RepositoryError:
            self._drop_copy(session, in_use=True)
            raise
        except SnapshotError as exc:
            log.error("cwmp: session %s cannot be shared: %s", session.session_id, exc)
            await self._end(session, "dropped", session.machine.last_activity)
            return text_reply(500, "session state could not be saved")
        if saved:
            return response
        log.warning("cwmp: session %s advanced in another process", session.session_id)
        self._drop_copy(session, in_use=True)
        return text_reply(
            503,
            "session advanced elsewhere",
            headers=(("Retry-After", str(self.settings.retry_after_seconds)),),
        )

    def _drop_copy(self, session: LiveSession, *, in_use: bool = False) -> None:
        """Forget this process's copy of a shared session (it is not ended).

        A copy answering a POST right now (locked) is kept unless its caller holds the
        lock (``in_use``): that answer is written back with a compare-and-set, which
        tells whether the copy was current.
        """
        if session.ended or (session.lock.locked() and not in_use):
            return
        session.ended = True
        self.registry.remove(session)
        SharedSessions.release(session)

    async def _expire_shared(self, now: float) -> int:
        """Drop stale copies; end the rows past their expiry (each by one process)."""
        assert self.shared is not None
        for cached in self.registry.expired(now):
            if not cached.lock.locked():
                self._drop_copy(cached)
        count = 0
        for row in await self.shared.store.expired(now):
            if await self._end_row(row, now):
                count += 1
        return count

    async def _end_row(
        self, row: StoredSession, now: float, reason: SessionEndReason = "timeout"
    ) -> bool:
        """End the session of an expired (or abandoned) row, if this process wins it (take)."""
        assert self.shared is not None
        if not await self.shared.store.take(row.key, row.version):
            return False
        try:
            session = await self.shared.resume(row, "")
        except SnapshotError as exc:
            log.warning("cwmp: expired session %s not resumable: %s", row.session_id, exc)
            return True
        await self._end(session, reason, now, claimed=False)
        return True

    # ------------------------------------------------------------------ responses

    def _soap(self, envelope: m.Envelope, set_cookie: str | None = None) -> CwmpReply:
        return CwmpReply(200, serialize_envelope(envelope), TEXT_XML, set_cookie=set_cookie)

    def _cookie_header(self, cookie: str) -> str:
        """The ``Set-Cookie`` value of a new session (HttpOnly; Secure over TLS)."""
        return _COOKIE_PREFIX + cookie + self._cookie_attributes

    def _fault(self, envelope: m.Envelope, fault: m.CwmpFault) -> CwmpReply:
        return self._soap(
            m.Envelope(body=fault, cwmp_id=envelope.cwmp_id, namespace=envelope.namespace)
        )

    def _fault_for(
        self, session: LiveSession, envelope: m.Envelope | None, fault: m.CwmpFault
    ) -> CwmpReply:
        cwmp_id = envelope.cwmp_id if envelope is not None else None
        try:
            return self._soap(m.Envelope(body=fault, cwmp_id=cwmp_id, namespace=session.namespace))
        except CwmpError:
            return text_reply(400, "CWMP protocol error")

    def _parse_error_response(
        self, exc: CwmpParseError, fallback_namespace: str | None = None
    ) -> CwmpReply:
        namespace = exc.namespace or fallback_namespace
        if namespace is None:
            return text_reply(400, "not a CWMP SOAP envelope")
        fault = make_fault(exc.fault_code)
        return self._soap(m.Envelope(body=fault, cwmp_id=exc.cwmp_id, namespace=namespace))
