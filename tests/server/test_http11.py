"""The HTTP/1.1 server of the CWMP port, on the wire: exact bytes in, exact answers out.

A stand-in handler (not the endpoint) records what it was given and can be held, so
each test isolates one HTTP behaviour: ordering of pipelined requests, 100-continue,
HTTP/1.0 keep-alive, 405, the header caps, malformed requests, client disconnects,
idle timeouts and the graceful stop (with the real endpoint). Body handling (chunked,
gzip, caps, 408) and the connection limit are also exercised through the real endpoint
in test_cwmp_flow and tests/reliability.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from tests.reliability.harness import RawHttp, post_request
from tests.server.cwmp_client import OneRpcFactory, inform
from tests.server.test_abandoned_sessions import StallingFactory
from traceacs.server.cwmp_endpoint import CwmpEndpoint, EndpointSettings
from traceacs.server.cwmp_server import CwmpServer
from traceacs.server.exchange import NO_CONTENT, CwmpReply, CwmpRequest
from traceacs.server.http11 import Handler, HttpConnection, HttpOptions, ServerState
from traceacs.server.limits import ServerLimits
from traceacs.server.retry_after import RetryAfterPolicy


@dataclass
class Recorder:
    """The handler: answers 200 with the body echoed, unless told to hold."""

    seen: list[CwmpRequest] = field(default_factory=list)
    started: list[bytes] = field(default_factory=list)
    finished: list[bytes] = field(default_factory=list)
    hold: asyncio.Event | None = None
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, request: CwmpRequest) -> CwmpReply:
        self.seen.append(request)
        self.started.append(request.body)
        self.entered.set()
        if self.hold is not None and request.body.startswith(b"hold"):
            await self.hold.wait()
        self.finished.append(request.body)
        if not request.body:
            return NO_CONTENT
        return CwmpReply(200, b"echo:" + request.body, "text/plain")


def options(**overrides: object) -> HttpOptions:
    values: dict[str, object] = {
        "max_body_bytes": 1000,
        "body_read_timeout": 5.0,
        "keepalive_timeout": 30.0,
        "max_connections": 100,
        "retry_after_seconds": 30,
        "lingering_time": 0.5,
        "max_header_bytes": 4096,
        "max_headers": 20,
        "worker_name": "w7",
    }
    values.update(overrides)
    return HttpOptions(**values)  # type: ignore[arg-type]


@dataclass
class Served:
    host: str
    port: int
    state: ServerState

    async def connect(self) -> RawHttp:
        return await RawHttp.connect(self.host, self.port)


@contextlib.asynccontextmanager
async def serving(handler: Handler, **overrides: object) -> AsyncIterator[Served]:
    state = ServerState(handler, options(**overrides))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpConnection(state), "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    try:
        yield Served(host, port, state)
    finally:
        server.close()
        for connection in list(state.connections):
            connection.close()
        if state.workers:
            await asyncio.wait(set(state.workers), timeout=5.0)


async def test_answers_carry_date_worker_length_and_keep_the_connection() -> None:
    handler = Recorder()
    async with serving(handler) as served:
        conn = await served.connect()
        try:
            await conn.send(post_request(b"one", headers={"Cookie": "a=1", "Authorization": "X"}))
            status, headers, body = await conn.response()
            assert (status, body) == (200, b"echo:one")
            assert headers["x-traceacs-worker"] == "w7"
            assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", headers["date"])
            assert "connection" not in headers  # HTTP/1.1: keep-alive by default
            await conn.send(post_request(b""))
            status, headers, body = await conn.response()
            assert (status, body) == (204, b"")
            assert "content-length" not in headers  # never on a 204
        finally:
            conn.close()
    first = handler.seen[0]
    assert (first.method, first.raw_path, first.cookies, first.authorization) == (
        "POST",
        "/acs",
        ("a=1",),
        "X",
    )
    assert handler.seen[0].connection is handler.seen[1].connection  # the same connection


async def test_pipelined_requests_are_answered_in_order_one_at_a_time() -> None:
    handler = Recorder(hold=asyncio.Event())
    async with serving(handler) as served:
        conn = await served.connect()
        try:
            # Three requests in one write; the first is held by its handler.
            await conn.send(post_request(b"hold-1") + post_request(b"two") + post_request(b""))
            await handler.entered.wait()
            assert handler.started == [b"hold-1"]  # the next waits for this answer
            handler.hold.set()  # type: ignore[union-attr]
            answers = [await conn.response() for _ in range(3)]
        finally:
            conn.close()
    assert [(s, b) for s, _, b in answers] == [
        (200, b"echo:hold-1"),
        (200, b"echo:two"),
        (204, b""),
    ]
    assert handler.started == handler.finished == [b"hold-1", b"two", b""]


@dataclass
class TaskProbe:
    """A handler that needs a task before it ever suspends, and may raise.

    Library code does (asyncpg opens a connection under ``asyncio.timeout``, which
    raises outside a task): a handler must not be stepped outside a task, even to save
    the task of a handler that would finish without suspending.
    """

    async def __call__(self, request: CwmpRequest) -> CwmpReply:
        async with asyncio.timeout(5):  # RuntimeError outside a task
            if request.body.startswith(b"wait"):
                await asyncio.sleep(0)
        if request.body.endswith(b"raise"):
            raise RuntimeError("handler bug")
        return CwmpReply(200, b"echo:" + request.body, "text/plain")


async def test_the_handler_runs_in_a_task_from_its_first_step() -> None:
    async with serving(TaskProbe()) as served:
        conn = await served.connect()
        try:
            answers = []
            for body in (b"one", b"wait-two"):
                await conn.send(post_request(body))
                answers.append(await conn.response())
        finally:
            conn.close()
    assert [(s, b) for s, _, b in answers] == [(200, b"echo:one"), (200, b"echo:wait-two")]


@pytest.mark.parametrize("body", [b"raise", b"wait-raise"])
async def test_a_handler_that_raises_gets_500_and_close(body: bytes) -> None:
    async with serving(TaskProbe()) as served:
        conn = await served.connect()
        try:
            await conn.send(post_request(body))
            status, headers, _ = await conn.response()
            assert (status, headers.get("connection")) == (500, "close")
            assert await conn.read_until_closed() == b""
        finally:
            conn.close()


async def test_expect_100_continue_then_the_body() -> None:
    handler = Recorder()
    async with serving(handler) as served:
        conn = await served.connect()
        try:
            await conn.send(
                b"POST /acs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            interim = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 10)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            await conn.send(b"hello")
            status, _, body = await conn.response()
            assert (status, body) == (200, b"echo:hello")
        finally:
            conn.close()


async def test_expect_100_continue_over_the_cap_gets_413_without_100() -> None:
    handler = Recorder()
    async with serving(handler) as served:
        conn = await served.connect()
        try:
            await conn.send(
                b"POST /acs HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            received = await conn.read_until_closed()
        finally:
            conn.close()
    assert received.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in received
    assert handler.seen == []


async def test_http_1_0_closes_unless_keep_alive_is_asked() -> None:
    handler = Recorder()
    async with serving(handler) as served:
        plain = await served.connect()
        try:
            await plain.send(b"POST /acs HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi")
            received = await plain.read_until_closed()
        finally:
            plain.close()
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nConnection: close\r\n" in received
        kept = await served.connect()
        try:
            request = b"POST /acs HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
            await kept.send(request)
            status, headers, _ = await kept.response()
            assert (status, headers["connection"]) == (200, "keep-alive")
            await kept.send(request)  # the same connection serves another
            status, _, _ = await kept.response()
            assert status == 200
        finally:
            kept.close()


async def test_connection_close_is_honoured() -> None:
    async with serving(Recorder()) as served:
        conn = await served.connect()
        try:
            await conn.send(post_request(b"x", headers={"Connection": "close"}))
            received = await conn.read_until_closed()
        finally:
            conn.close()
    assert received.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nConnection: close\r\n" in received


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS"])
async def test_methods_other_than_post_get_405_and_the_connection_goes_on(method: str) -> None:
    handler = Recorder()
    async with serving(handler) as served:
        conn = await served.connect()
        try:
            await conn.send(
                f"{method} /acs HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
            )
            status, headers, _ = await conn.response()
            assert (status, headers["allow"]) == (405, "POST")
            await conn.send(post_request(b"after"))
            status, _, body = await conn.response()
            assert (status, body) == (200, b"echo:after")
        finally:
            conn.close()
    assert [r.body for r in handler.seen] == [b"after"]


async def test_too_many_header_fields_get_431_and_close() -> None:
    handler = Recorder()
    async with serving(handler, max_headers=20) as served:
        conn = await served.connect()
        try:
            many = {f"X-H{i}": "v" for i in range(25)}
            await conn.send(post_request(b"x", headers=many))
            received = await conn.read_until_closed()
        finally:
            conn.close()
    assert received.startswith(b"HTTP/1.1 431 ")
    assert handler.seen == []


async def test_a_request_head_beyond_the_byte_cap_gets_431_even_unfinished() -> None:
    handler = Recorder()
    async with serving(handler, max_header_bytes=4096) as served:
        conn = await served.connect()
        try:
            # One endless header line, never finished: it must not grow without bound.
            await conn.send(b"POST /acs HTTP/1.1\r\nX-Big: " + b"a" * 8000)
            received = await conn.read_until_closed()
        finally:
            conn.close()
    assert received.startswith(b"HTTP/1.1 431 ")


async def test_malformed_http_gets_400_close_and_one_throttled_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    handler = Recorder()
    async with serving(handler) as served:
        for _ in range(3):
            conn = await served.connect()
            try:
                await conn.send(
                    b"POST /acs HTTP/1.1\r\nCookie: secret-cookie\r\nBad Header\r\n\r\n"
                )
                received = await conn.read_until_closed()
            finally:
                conn.close()
            assert received.startswith(b"HTTP/1.1 400 ")
            assert b"\r\nConnection: close\r\n" in received
    lines = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(lines) == 1  # throttled: one line per interval
    assert lines[0].levelno == logging.WARNING
    assert lines[0].exc_info is None
    assert "secret-cookie" not in caplog.text
    assert handler.seen == []


async def test_the_handler_is_not_cancelled_when_the_client_leaves() -> None:
    handler = Recorder(hold=asyncio.Event())
    async with serving(handler) as served:
        conn = await served.connect()
        await conn.send(post_request(b"hold"))
        await handler.entered.wait()
        conn.close()
        connection = handler.seen[0].connection
        assert isinstance(connection, HttpConnection)
        async with asyncio.timeout(10):
            while not connection.is_closing():  # the server sees the client gone
                await asyncio.sleep(0.01)
        handler.hold.set()  # type: ignore[union-attr]
        async with asyncio.timeout(10):
            while served.state.workers:
                await asyncio.sleep(0.01)
    assert handler.finished == [b"hold"]  # the handler ran to its end


async def test_an_idle_keep_alive_connection_is_closed() -> None:
    async with serving(Recorder(), keepalive_timeout=0.2) as served:
        conn = await served.connect()
        try:
            await conn.send(post_request(b"x"))
            status, _, _ = await conn.response()
            assert status == 200
            assert await conn.read_until_closed() == b""  # closed by the server, quietly
        finally:
            conn.close()


async def test_connections_beyond_the_limit_get_503_before_reading() -> None:
    async with serving(Recorder(), max_connections=1, retry_after_seconds=9) as served:
        first = await served.connect()
        try:
            async with asyncio.timeout(10):
                while len(served.state.connections) < 1:
                    await asyncio.sleep(0.01)
            second = await served.connect()
            try:
                received = await second.read_until_closed()
            finally:
                second.close()
            assert received.startswith(b"HTTP/1.1 503 ")
            assert b"Retry-After: 9\r\n" in received
            await first.send(post_request(b"x"))  # the first is served as usual
            status, _, _ = await first.response()
            assert status == 200
        finally:
            first.close()


async def test_stopping_finishes_the_post_being_answered_then_drops_the_session() -> None:
    factory = StallingFactory()
    endpoint = CwmpEndpoint(factory, authenticator=None)
    server = CwmpServer(endpoint, sweep_interval=3600)
    await server.start("127.0.0.1", 0)
    host, port = server.addresses[0]
    conn = await RawHttp.connect(host, port)
    try:
        await conn.send(post_request(inform("STOP1")))
        status, _, _ = await conn.response()
        assert status == 200
        await conn.send(post_request(b""))  # held by the handler
        await factory.entered.wait()
        stopping = asyncio.create_task(server.stop(grace=10.0))
        async with asyncio.timeout(10):
            while True:  # the port stops accepting at once
                try:
                    _, writer = await asyncio.open_connection(host, port)
                except OSError:
                    break
                writer.close()
                await asyncio.sleep(0.01)
        assert not stopping.done()
        assert factory.journal.ends == []  # not while its POST is being answered
        factory.go.set()
        received = await conn.read_until_closed()
        await stopping
    finally:
        conn.close()
    assert received.startswith(b"HTTP/1.1 200 ")  # the GetParameterValues, in full
    assert b"\r\nConnection: close\r\n" in received
    assert factory.journal.ends == ["dropped"]


async def test_a_connection_refused_at_the_limit_gets_the_endpoints_appointment() -> None:
    """The connection cap's 503 carries the adaptive Retry-After of the session limit's
    503, not the fixed 30 s: in a boot storm the CPEs refused at the cap otherwise all
    came back 30 s later and made a tail with the ACS idle."""
    policy = RetryAfterPolicy(minimum=7, maximum=9, jitter=0.0)
    endpoint = CwmpEndpoint(
        OneRpcFactory(), authenticator=None, settings=EndpointSettings(retry_after=policy)
    )
    server = CwmpServer(
        endpoint, ServerLimits(max_connections=1, retry_after_seconds=30), sweep_interval=3600
    )
    await server.start("127.0.0.1", 0)
    host, port = server.addresses[0]
    first = await RawHttp.connect(host, port)
    try:
        async with asyncio.timeout(10):
            while server.connections < 1:
                await asyncio.sleep(0.01)
        second = await RawHttp.connect(host, port)
        try:
            received = await second.read_until_closed()
        finally:
            second.close()
        assert received.startswith(b"HTTP/1.1 503 ")
        retry_after = int(re.search(rb"Retry-After: (\d+)\r\n", received).group(1))  # type: ignore[union-attr]
        assert 7 <= retry_after <= 9
    finally:
        first.close()
        await server.stop(grace=1.0)
