"""The endpoint's quiet route: the empty POST of a session whose handler says it is quiet
(`QuietEnding`) is answered 204 and the session ended without the general route's
events and awaits, and everything observable stays what the general route gives.

Each scenario runs against two handlers that behave alike and differ only in whether
they say they are quiet: the replies, the session lines and the handler's end (reason,
time) must be equal, and the quiet one must have been ended by `end_quietly` alone
(never asked ``next_acs_request`` nor told ``on_session_end``) exactly where the quiet
route applies: not after a CPE request (the session turned general), not for a fault,
garbage or a timed-out session, not with a shared session store.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.server.cwmp_client import NS, FakeClock, envelope, inform
from traceacs.cwmp import messages as m
from traceacs.provisioning.session_handler import (
    INFORM_ACCEPTED,
    QuietEnding,
    SessionEndReason,
    SessionHandler,
    default_cpe_answer,
)
from traceacs.provisioning.session_snapshot import Json
from traceacs.provisioning.session_store import MemorySessionStore
from traceacs.server.cwmp_endpoint import CwmpEndpoint, EndpointSettings
from traceacs.server.cwmp_sessions import COOKIE_NAME
from traceacs.server.exchange import CwmpReply, CwmpRequest

Call = tuple[Any, ...]


class StubHandler:
    """A session with nothing to send; quiet (a `QuietEnding` that says so) or not.

    ``quiet`` sessions turn general at a CPE request, as `QuietFirstSession` does.
    """

    def __init__(self, calls: list[Call], *, quiet: bool, fails: bool) -> None:
        self.calls = calls
        self._quiet_wanted = quiet
        self._quiet = False
        self._fails = fails

    @property
    def quiet(self) -> bool:
        return self._quiet

    async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse | m.CwmpFault:
        self.calls.append(("on_inform", now))
        self._quiet = self._quiet_wanted
        return INFORM_ACCEPTED

    async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
        self.calls.append(("on_cpe_request", request.method, now))
        self._quiet = False
        return default_cpe_answer(request)

    async def next_acs_request(self, now: float) -> m.Message | None:
        self.calls.append(("next_acs_request", now))
        return None

    async def on_cpe_response(self, response: m.Message, now: float) -> None:
        self.calls.append(("on_cpe_response", response.method, now))

    async def on_session_end(self, reason: SessionEndReason, now: float) -> None:
        self.calls.append(("on_session_end", reason, now))
        if self._fails:
            raise RuntimeError("secret")

    def end_quietly(self, now: float) -> None:
        self.calls.append(("end_quietly", now))
        if self._fails:
            raise RuntimeError("secret")

    def snapshot(self) -> Json:
        return {"quiet": self._quiet}

    def release(self) -> None:
        self.calls.append(("release",))


@dataclass
class StubFactory:
    quiet: bool
    fails: bool = False
    calls: list[Call] = field(default_factory=list)

    def new_session(self, session_id: str) -> SessionHandler:
        return StubHandler(self.calls, quiet=self.quiet, fails=self.fails)

    async def restore(self, session_id: str, state: Json) -> SessionHandler:
        handler = StubHandler(self.calls, quiet=self.quiet, fails=self.fails)
        handler._quiet = bool(state["quiet"])
        return handler


class Connection:
    def is_closing(self) -> bool:
        return False


@dataclass
class Outcome:
    replies: list[tuple[int, bytes, str | None]]
    lines: list[str]
    errors: list[str]
    calls: list[Call]
    endpoint: CwmpEndpoint


Step = bytes | float
"""A POST body, or seconds the clock moves."""

_COOKIE = re.compile(rf"{COOKIE_NAME}=([^;]+)")
_SESSION_ID = re.compile(r"session [0-9a-f]{16}")


async def drive(
    caplog: pytest.LogCaptureFixture,
    steps: list[Step],
    *,
    quiet: bool,
    cookies: bool = True,
    reconnect: bool = False,
    fails: bool = False,
    shared: bool = False,
) -> Outcome:
    """One Inform, then ``steps``; what the CPE and the logs saw, and the handler calls.

    ``cookies=False``: a CPE that drops cookies (its session is found by connection);
    ``reconnect``: every POST after the Inform comes on a new connection (with the cookie).
    """
    caplog.clear()
    clock = FakeClock()
    factory = StubFactory(quiet=quiet, fails=fails)
    endpoint = CwmpEndpoint(
        factory,
        authenticator=None,
        settings=EndpointSettings(session_timeout=30.0),
        clock=clock,
        store=MemorySessionStore() if shared else None,
    )
    connection = Connection()
    first = await endpoint.handle(CwmpRequest("POST", "/acs", inform(), (), None, connection))
    replies: list[tuple[int, bytes, str | None]] = [(first.status, first.body, None)]
    assert first.set_cookie is not None
    match = _COOKIE.match(first.set_cookie)
    assert match is not None
    header = (f"{COOKIE_NAME}={match.group(1)}",) if cookies else ()
    for step in steps:
        if isinstance(step, float):
            clock.advance(step)
            continue
        if reconnect:
            connection = Connection()
        reply: CwmpReply = await endpoint.handle(
            CwmpRequest("POST", "/acs", step, header, None, connection)
        )
        replies.append((reply.status, reply.body, reply.set_cookie))
    clock.advance(100.0)
    await endpoint.expire_sessions()
    await endpoint.close_all()
    records = [r for r in caplog.records if r.name == "traceacs.server.cwmp"]
    return Outcome(
        replies=[(s, _SESSION_ID.sub("session -", b.decode()).encode(), c) for s, b, c in replies],
        lines=[
            _SESSION_ID.sub("session -", r.getMessage())
            for r in records
            if r.levelno == logging.INFO and r.getMessage().startswith("cwmp session")
        ],
        errors=[
            _SESSION_ID.sub("session -", r.getMessage())
            for r in records
            if r.levelno >= logging.WARNING
        ],
        calls=factory.calls,
        endpoint=endpoint,
    )


def general_route(calls: list[Call]) -> list[Call]:
    """A quiet handler's calls as the general route makes them of a plain handler."""
    out: list[Call] = []
    for call in calls:
        if call[0] == "end_quietly":
            out += [("next_acs_request", call[1]), ("on_session_end", "completed", call[1])]
        else:
            out.append(call)
    return out


async def both(
    caplog: pytest.LogCaptureFixture, steps: list[Step], **options: Any
) -> tuple[Outcome, Outcome]:
    """The same session with a quiet handler and with a plain one: observably equal."""
    caplog.set_level(logging.INFO, logger="traceacs.server.cwmp")
    quiet = await drive(caplog, steps, quiet=True, **options)
    plain = await drive(caplog, steps, quiet=False, **options)
    assert quiet.replies == plain.replies
    assert quiet.lines == plain.lines
    assert len(quiet.lines) == 1, "one line per session"
    assert quiet.errors == plain.errors
    assert general_route(quiet.calls) == plain.calls
    for outcome in (quiet, plain):
        assert len(outcome.endpoint.registry) == 0
        assert outcome.endpoint.registry.find(None, None) is None
    return quiet, plain


EMPTY = b""


def test_the_stub_is_a_quiet_ending_handler() -> None:
    """So the endpoint sees what it sees of `QuietFirstSession` (a protocol check)."""
    assert isinstance(StubHandler([], quiet=True, fails=False), QuietEnding)


async def test_the_empty_post_of_a_quiet_session_ends_it_by_the_quiet_route_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet, _ = await both(caplog, [0.042, EMPTY])
    t0 = quiet.calls[0][1]
    assert quiet.calls == [("on_inform", t0), ("end_quietly", t0 + 0.042)]
    assert quiet.replies[-1] == (204, b"", None)
    assert re.fullmatch(
        r"cwmp session - device=00D09E-SN0001 events=0 BOOTSTRAP,1 BOOT result=completed "
        r"duration_ms=42 cpe_requests=0 acs_rpcs=0",
        quiet.lines[0],
    ), quiet.lines[0]


async def test_a_cookieless_cpe_is_ended_quietly_by_its_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet, _ = await both(caplog, [EMPTY], cookies=False)
    assert [c[0] for c in quiet.calls] == ["on_inform", "end_quietly"]
    assert not quiet.endpoint.registry._by_connection


async def test_a_cpe_back_on_a_new_connection_is_ended_quietly_and_forgotten_on_both(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet, _ = await both(caplog, [EMPTY], reconnect=True)
    assert [c[0] for c in quiet.calls] == ["on_inform", "end_quietly"]
    registry = quiet.endpoint.registry
    assert not registry._by_connection
    assert not registry._by_cookie
    assert not registry._by_device


async def test_a_request_instead_of_the_empty_post_turns_the_session_general(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet, _ = await both(caplog, [envelope(m.GetRPCMethods()), EMPTY])
    assert [c[0] for c in quiet.calls] == [
        "on_inform",
        "on_cpe_request",
        "next_acs_request",
        "on_session_end",
    ]
    assert quiet.calls[-1][1] == "completed"
    assert "cpe_requests=1" in quiet.lines[0]


async def test_an_unknown_request_leaves_the_session_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The endpoint refuses an RPC it cannot parse (8000) without the handler: still quiet."""
    unknown = (
        f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:cwmp="{NS}"><soap:Header><cwmp:ID soap:mustUnderstand="1">9</cwmp:ID>'
        f"</soap:Header><soap:Body><cwmp:X_Vendor_Frobnicate/></soap:Body></soap:Envelope>"
    ).encode()
    quiet, _ = await both(caplog, [unknown, EMPTY])
    assert quiet.replies[1][0] == 200
    assert b"8000" in quiet.replies[1][1]
    assert [c[0] for c in quiet.calls] == ["on_inform", "end_quietly"]


@pytest.mark.parametrize(
    "body",
    [envelope(m.CwmpFault(fault_code=9002, fault_string="no")), b"garbage", b"<a/>"],
    ids=["fault", "garbage", "not_an_envelope"],
)
async def test_a_fault_or_garbage_instead_of_the_empty_post_ends_as_before(
    caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    quiet, _ = await both(caplog, [body, EMPTY])
    assert [c[0] for c in quiet.calls] == ["on_inform", "on_session_end"]
    assert quiet.calls[-1][1] == "protocol_error"
    assert quiet.replies[-1] == (204, b"", None)  # the empty POST: no session any more


async def test_a_timed_out_quiet_session_ends_as_timeout_not_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet, _ = await both(caplog, [31.0, EMPTY])
    assert [c[:2] for c in quiet.calls] == [
        ("on_inform", quiet.calls[0][1]),
        ("on_session_end", "timeout"),
    ]
    assert quiet.replies[-1] == (204, b"", None)


async def test_a_quiet_session_left_silent_is_swept_as_before(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet, _ = await both(caplog, [])
    assert [c[:2] for c in quiet.calls] == [
        ("on_inform", quiet.calls[0][1]),
        ("on_session_end", "timeout"),
    ]


async def test_a_failing_quiet_end_is_logged_as_on_session_end_and_still_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet, _ = await both(caplog, [EMPTY], fails=True)
    assert [c[0] for c in quiet.calls] == ["on_inform", "end_quietly"]
    assert quiet.errors == ["cwmp: session -: on_session_end failed: RuntimeError"]
    assert "secret" not in caplog.text
    assert "result=completed" in quiet.lines[0]


async def test_a_second_empty_post_after_the_quiet_end_finds_no_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet, _ = await both(caplog, [EMPTY, EMPTY])
    assert [c[0] for c in quiet.calls] == ["on_inform", "end_quietly"]
    assert quiet.replies[-2:] == [(204, b"", None), (204, b"", None)]


async def test_with_a_shared_session_store_the_quiet_route_is_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A shared session is snapshotted after each POST: the general route, always."""
    caplog.set_level(logging.INFO, logger="traceacs.server.cwmp")
    quiet = await drive(caplog, [EMPTY], quiet=True, shared=True)
    assert quiet.replies[-1] == (204, b"", None)
    assert [c[0] for c in quiet.calls] == ["on_inform", "next_acs_request", "on_session_end"]
    assert len(quiet.lines) == 1
