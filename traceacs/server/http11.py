"""The CPE-facing HTTP/1.1 server: `asyncio.Protocol` + httptools, bytes in, bytes out.

Why not aiohttp here: a quiet periodic CWMP session is two small POSTs, and aiohttp's
per-request machinery (request and response objects, header multidicts, routing, the
stream writer) cost about a third of the ACS's CPU per session. CPEs need little of
HTTP, so this module does just that: it parses with httptools, hands a complete
`CwmpRequest` to one handler coroutine, and writes its `CwmpReply` as one buffer.

What it keeps of a careful HTTP server, each for a client seen in the wild or a
hostile one:

- Keep-alive: HTTP/1.1 by default, HTTP/1.0 only with ``Connection: keep-alive``;
  ``Connection: close`` honoured. Requests on one connection are answered strictly in
  order (pipelining is safe): they queue, and reading pauses while one waits behind
  another.
- Bodies: Content-Length or chunked; ``Content-Encoding: gzip|deflate`` decoded with
  the size cap applied to the decoded bytes (a gzip bomb gets 413 without being
  inflated); a declared length over the cap gets 413 before reading; a body not
  received within ``body_read_timeout`` gets 408. ``Expect: 100-continue`` gets
  ``100 Continue`` only when the body will be read, else the final status at once.
- Limits: an idle keep-alive connection (or one dribbling its headers, slowloris) is
  closed after ``keepalive_timeout``; header bytes and count are capped (431);
  connections beyond ``max_connections`` get 503 + Retry-After before any byte is read.
- Malformed HTTP gets 400 and the connection is closed; it is logged at WARNING,
  throttled, naming only the error type (the bytes may hold cookies or credentials).
- Only POST: anything else gets 405 with ``Allow: POST``.
- The handler is never cancelled when the client disconnects: a workflow step must not
  be torn in the middle of its database writes because a CPE hung up.
- Errors that close the connection (400, 408, 413, 431) shut the write side and drain
  what the client still sends for ``lingering_time``, so the client reads the answer
  instead of a reset.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, cast

import httptools

from traceacs.server.exchange import CwmpReply, CwmpRequest, text_reply
from traceacs.server.log_throttle import LogThrottle

log = logging.getLogger("traceacs.server.http")

Handler = Callable[[CwmpRequest], Awaitable[CwmpReply]]

_STATUS_LINES = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NO_LENGTH = frozenset({204, 304})
_ALLOW = (("Allow", "POST"),)
_WATCHED_HEADERS = frozenset(
    {b"cookie", b"authorization", b"content-length", b"content-encoding", b"expect"}
)
"""The request headers `HttpConnection.on_header` acts on; the others are only counted."""


class HttpOptions:
    """What the protocol needs to know of its limits (built once per server)."""

    __slots__ = (
        "body_read_timeout",
        "keepalive_timeout",
        "lingering_time",
        "max_body_bytes",
        "max_connections",
        "max_header_bytes",
        "max_headers",
        "overload_retry_after",
        "retry_after_seconds",
        "worker_header",
    )

    def __init__(
        self,
        *,
        max_body_bytes: int,
        body_read_timeout: float,
        keepalive_timeout: float,
        max_connections: int,
        retry_after_seconds: int,
        lingering_time: float,
        max_header_bytes: int,
        max_headers: int,
        worker_name: str = "",
        overload_retry_after: Callable[[], int] | None = None,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.body_read_timeout = body_read_timeout
        self.keepalive_timeout = keepalive_timeout
        self.max_connections = max_connections
        self.retry_after_seconds = retry_after_seconds
        self.overload_retry_after = overload_retry_after
        """The Retry-After of a connection refused at ``max_connections`` (the CWMP
        endpoint's adaptive appointment); None answers ``retry_after_seconds``."""
        self.lingering_time = lingering_time
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.worker_header = (
            b"X-TraceACS-Worker: " + _header_value(worker_name) + b"\r\n" if worker_name else b""
        )


def _header_value(value: str) -> bytes:
    if "\r" in value or "\n" in value:
        raise ValueError("a header value cannot hold a line break")
    return value.encode("latin-1")


class _DateCache:
    """The ``Date`` header line, formatted once per second."""

    __slots__ = ("_line", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._line = b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self._line


def render(
    reply: CwmpReply, *, close: bool, keep_alive_header: bool, date: bytes, worker: bytes
) -> bytes:
    """The whole response: status line, headers and body, as one buffer."""
    parts = [_STATUS_LINES.get(reply.status) or b"HTTP/1.1 %d \r\n" % reply.status, date, worker]
    if reply.status not in _NO_LENGTH:
        parts.append(b"Content-Length: %d\r\n" % len(reply.body))
    if reply.content_type is not None:
        parts.append(b"Content-Type: " + reply.content_type.encode("latin-1") + b"\r\n")
    for name, value in reply.headers:
        parts.append(name.encode("latin-1") + b": " + _header_value(value) + b"\r\n")
    if reply.set_cookie is not None:
        parts.append(b"Set-Cookie: " + _header_value(reply.set_cookie) + b"\r\n")
    if close:
        parts.append(b"Connection: close\r\n")
    elif keep_alive_header:
        parts.append(b"Connection: keep-alive\r\n")
    parts.append(b"\r\n")
    if reply.status not in _NO_LENGTH:
        parts.append(reply.body)
    return b"".join(parts)


class ServerState:
    """What the connections of one listening server share."""

    def __init__(self, handler: Handler, options: HttpOptions) -> None:
        self.handler = handler
        self.options = options
        self.connections: set[HttpConnection] = set()
        self.workers: set[asyncio.Task[None]] = set()
        self.date = _DateCache()
        self.malformed = LogThrottle()
        self.stopping = False

    def refused(self) -> bytes:
        options = self.options
        retry_after = (
            options.overload_retry_after()
            if options.overload_retry_after is not None and not self.stopping
            else options.retry_after_seconds
        )
        return (
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: %d\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n" % retry_after
        )

    def log_malformed(self, status: int, reason: str) -> None:
        count = self.malformed.tick(time.monotonic())
        if count is not None:
            log.warning(
                "malformed HTTP request answered %d (%s); %d such request(s) since the last "
                "such line",
                status,
                reason,
                count,
            )


class _NoParser:
    """Stands for the parser of a closed connection (no byte can arrive any more)."""

    def feed_data(self, data: bytes) -> None:
        raise RuntimeError("data after the connection was lost")


_NO_PARSER: Any = _NoParser()


class _Stop(Exception):
    """Raised from a parser callback to stop parsing the rest of the bytes."""


class _Pending:
    """One request on a connection, from its headers to its answer."""

    __slots__ = (
        "authorization",
        "body",
        "complete",
        "continue_sent",
        "cookies",
        "decoder",
        "error",
        "expect_continue",
        "keep_alive",
        "method",
        "size",
        "url",
        "version_10",
        "waiter",
    )

    def __init__(self) -> None:
        self.url = b""
        self.method = b""
        self.cookies: list[str] = []
        self.authorization: str | None = None
        self.body: list[bytes] = []
        self.size = 0
        self.decoder: _Decoder | None = None
        self.expect_continue = False
        self.continue_sent = False
        self.keep_alive = True
        self.version_10 = False
        self.complete = False
        self.error: CwmpReply | None = None
        self.waiter: asyncio.Future[None] | None = None


class _Decoder:
    """gzip/deflate decoding of a request body, bounded by the size cap."""

    __slots__ = ("_deflate", "_obj")

    def __init__(self, encoding: str) -> None:
        self._deflate = encoding == "deflate"
        self._obj: zlib._Decompress | None = (
            None if self._deflate else zlib.decompressobj(16 + zlib.MAX_WBITS)
        )

    def feed(self, data: bytes, room: int) -> bytes | None:
        """Decoded bytes, at most ``room``; None when the decoded body exceeds it."""
        if self._obj is None:
            # RFC "deflate" is zlib-wrapped; some clients send raw deflate.
            wrapped = (
                len(data) >= 2 and (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
            )
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        out = self._obj.decompress(data, room + 1)
        if len(out) > room or self._obj.unconsumed_tail:
            return None
        return out

    def finish(self) -> bool:
        """Whether the compressed stream ended properly."""
        return self._obj is None or self._obj.eof


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class HttpConnection(asyncio.Protocol):
    """One client connection: parse, queue, answer in order.

    It is also the ``connection`` of its requests: a CWMP session found by connection
    asks `is_closing`.
    """

    __slots__ = (
        "_broken",
        "_current",
        "_drain",
        "_eof",
        "_head_bytes",
        "_headers",
        "_idle_since",
        "_idle_timer",
        "_in_head",
        "_linger",
        "_loop",
        "_lost",
        "_parser",
        "_queue",
        "_read_paused",
        "_refused",
        "_state",
        "_transport",
        "_worker",
        "_write_paused",
    )

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._parser: httptools.HttpRequestParser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: deque[_Pending] = deque()
        self._current: _Pending | None = None
        self._worker: asyncio.Task[None] | None = None
        self._lost = False
        self._eof = False
        self._broken = False
        self._refused = False
        self._read_paused = False
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._idle_since: float | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._in_head = True
        self._head_bytes = 0
        self._headers = 0

    # ------------------------------------------------------------------ transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not derive from
        # asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        state = self._state
        if state.stopping or len(state.connections) >= state.options.max_connections:
            # Over the limit: one 503, closed, nothing read.
            self._refused = True
            self._transport.write(state.refused())
            self._transport.close()
            return
        state.connections.add(self)
        self._loop = loop = asyncio.get_running_loop()
        self._idle_since = loop.time()
        self._idle_timer = loop.call_later(state.options.keepalive_timeout, self._idle_check)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._state.connections.discard(self)
        # Timers and the parser hold this protocol: released now, not by the cyclic GC
        # (or a minute later, when the idle timer would have fired).
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        self._parser = _NO_PARSER
        for pending in self._queue:
            if pending.waiter is not None and not pending.waiter.done():
                pending.waiter.set_result(None)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def is_closing(self) -> bool:
        """Whether this connection is gone or going (a session's CPE left).

        A client that closed its side (EOF) sends no further POST here: gone too.
        """
        return self._lost or self._eof or self._transport is None or self._transport.is_closing()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    @property
    def idle(self) -> bool:
        return self._worker is None and not self._queue

    def data_received(self, data: bytes) -> None:
        if self._broken or self._refused:
            return  # draining before close, or never served
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            if not self._broken:  # a bug of ours in a callback: answer, do not hang
                log.exception("http: request parsing failed")
                self._fail(text_reply(500, "internal error", close=True))
        except httptools.HttpParserUpgrade:
            self._fail(text_reply(400, "protocol upgrade not supported", close=True))
        except httptools.HttpParserError as exc:
            self._state.log_malformed(400, type(exc).__name__)
            self._fail(text_reply(400, "malformed HTTP request", close=True))
        else:
            if self._in_head and self._head_bytes > self._state.options.max_header_bytes:
                self._state.log_malformed(431, "request head too large")
                self._fail(text_reply(431, "request header fields too large", close=True))
        if len(self._queue) > 1 and not self._read_paused and not self._broken:
            # A pipelined request waits behind another: read no further until answered.
            self._read_paused = True
            self._transport.pause_reading()  # type: ignore[union-attr]

    def eof_received(self) -> bool | None:
        # A half-closed client may still read the answers of its complete requests.
        self._eof = True
        for pending in self._queue:
            if not pending.complete and pending.error is None:
                pending.error = text_reply(400, "incomplete request", close=True)
                pending.complete = True
                if pending.waiter is not None and not pending.waiter.done():
                    pending.waiter.set_result(None)
        if self._worker is None or self._transport is None:
            return None
        # TLS cannot stay half-open (asyncio warns and closes): only plain TCP waits.
        return None if self._transport.get_extra_info("sslcontext") is not None else True

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        self._current = _Pending()
        self._headers = 0

    def on_url(self, url: bytes) -> None:
        assert self._current is not None
        self._current.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        pending = self._current
        assert pending is not None
        self._headers += 1
        if self._headers > self._state.options.max_headers:
            self._state.log_malformed(431, "too many header fields")
            self._fail(text_reply(431, "request header fields too large", close=True))
            raise _Stop
        key = name.lower()
        if key not in _WATCHED_HEADERS:
            return
        if key == b"cookie":
            pending.cookies.append(_decode(value))
        elif key == b"authorization":
            if pending.authorization is None:
                pending.authorization = _decode(value)
        elif key == b"content-length":
            if value.isdigit() and int(value) > self._state.options.max_body_bytes:
                pending.error = text_reply(413, "request body too large", close=True)
        elif key == b"content-encoding":
            encoding = value.strip().lower()
            if encoding in (b"gzip", b"x-gzip", b"deflate"):
                pending.decoder = _Decoder("deflate" if encoding == b"deflate" else "gzip")
            elif encoding not in (b"", b"identity"):
                pending.error = text_reply(415, "unsupported content encoding", close=True)
        elif key == b"expect" and value.strip().lower() == b"100-continue":
            pending.expect_continue = True

    def on_headers_complete(self) -> None:
        pending = self._current
        assert pending is not None
        parser = self._parser
        self._in_head = False
        self._head_bytes = 0
        self._idle_since = None
        pending.method = parser.get_method()
        pending.keep_alive = parser.should_keep_alive()
        pending.version_10 = parser.get_http_version() == "1.0"
        if parser.should_upgrade():
            self._state.log_malformed(400, "protocol upgrade")
            self._fail(text_reply(400, "protocol upgrade not supported", close=True))
            raise _Stop
        if pending.method != b"POST" and pending.error is None:
            if pending.method == b"HEAD":  # no body may follow: the length would mislead
                pending.error = CwmpReply(405, headers=_ALLOW, close=True)
            else:
                pending.error = text_reply(405, "method not allowed", headers=_ALLOW)
        self._enqueue(pending)
        if pending.error is not None and pending.error.close:
            # Refused before reading (413 over the cap, 415): no further byte is parsed.
            self._broken = True
            raise _Stop

    def on_body(self, body: bytes) -> None:
        pending = self._current
        assert pending is not None
        if pending.error is not None:
            return  # 405: the body is skipped
        cap = self._state.options.max_body_bytes
        if pending.decoder is not None:
            try:
                decoded = pending.decoder.feed(body, cap - pending.size)
            except zlib.error:
                self._state.log_malformed(400, "corrupt compressed body")
                self._fail(text_reply(400, "unreadable request body", close=True))
                raise _Stop from None
            if decoded is None:
                self._fail(text_reply(413, "request body too large", close=True))
                raise _Stop
            body = decoded
        pending.size += len(body)
        if pending.size > cap:
            self._fail(text_reply(413, "request body too large", close=True))
            raise _Stop
        if body:
            pending.body.append(body)

    def on_message_complete(self) -> None:
        pending = self._current
        assert pending is not None
        self._current = None
        self._in_head = True
        if (
            pending.decoder is not None
            and pending.error is None
            and pending.size
            and not pending.decoder.finish()
        ):
            self._state.log_malformed(400, "truncated compressed body")
            pending.error = text_reply(400, "unreadable request body", close=True)
        pending.complete = True
        if pending.waiter is not None and not pending.waiter.done():
            pending.waiter.set_result(None)

    # ------------------------------------------------------------------ queue

    def _enqueue(self, pending: _Pending) -> None:
        self._queue.append(pending)
        if self._worker is None:
            loop = self._loop
            if loop is None:  # never: a request comes after connection_made
                loop = self._loop = asyncio.get_running_loop()
            worker = loop.create_task(self._run())
            self._worker = worker
            # Left by `_run` itself at its end: a done callback would cost a loop
            # iteration per request.
            self._state.workers.add(worker)

    def _fail(self, reply: CwmpReply) -> None:
        """Answer ``reply`` in turn (after the requests before it) and close."""
        self._broken = True
        pending = self._current
        if pending is None or pending not in self._queue:
            pending = pending if pending is not None else _Pending()
            pending.error = reply
            pending.complete = True
            self._enqueue(pending)
        else:
            pending.error = reply
            pending.complete = True
            if pending.waiter is not None and not pending.waiter.done():
                pending.waiter.set_result(None)
        self._current = None
        if not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    async def _run(self) -> None:
        """Answer the queued requests in order; one task per busy period."""
        state = self._state
        options = state.options
        queue = self._queue
        transport = self._transport
        loop = self._loop
        assert transport is not None
        assert loop is not None
        try:
            while queue and not self._lost:
                pending = queue[0]
                if not pending.complete:
                    if pending.error is not None:
                        # Answered before its body (405, 413): the body is not read.
                        pending.error = dataclasses.replace(pending.error, close=True)
                    else:
                        await self._await_body(pending)
                        if self._lost:
                            break
                reply = pending.error
                if reply is None:
                    reply = await self._handle(pending)
                    if self._lost:
                        break
                close = reply.close or not pending.keep_alive or state.stopping
                transport.write(
                    render(
                        reply,
                        close=close,
                        keep_alive_header=pending.version_10,
                        date=state.date.line(),
                        worker=options.worker_header,
                    )
                )
                queue.popleft()
                if close:
                    self._finish(lingering=pending.error is not None)
                    return
                if self._write_paused:
                    self._drain = asyncio.get_running_loop().create_future()
                    await self._drain
                    self._drain = None
                if self._read_paused and len(queue) <= 1 and not self._broken:
                    self._read_paused = False
                    transport.resume_reading()
        finally:
            state.workers.discard(self._worker)
            self._worker = None
            if not self._lost and not queue:
                if self._eof:
                    transport.close()
                self._idle_since = loop.time()

    async def _await_body(self, pending: _Pending) -> None:
        """Wait for the rest of the body, at most ``body_read_timeout``; 408 past it."""
        transport = self._transport
        assert transport is not None
        if pending.expect_continue and not pending.continue_sent:
            pending.continue_sent = True
            transport.write(_CONTINUE)
        if self._read_paused and not self._broken:
            self._read_paused = False
            transport.resume_reading()
        pending.waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(self._state.options.body_read_timeout):
                await pending.waiter
        except TimeoutError:
            log.info(
                "http: request body not received within %g s",
                self._state.options.body_read_timeout,
            )
            self._broken = True
            pending.error = text_reply(408, "request body timeout", close=True)

    async def _handle(self, pending: _Pending) -> CwmpReply:
        request = CwmpRequest(
            "POST",  # anything else was answered 405
            _decode(pending.url),
            b"".join(pending.body),
            tuple(pending.cookies),
            pending.authorization,
            self,
        )
        try:
            return await self._state.handler(request)
        except Exception as exc:
            log.error("http: request handler failed: %s", type(exc).__name__, exc_info=exc)
            return text_reply(500, "internal server error", close=True)

    def _finish(self, *, lingering: bool) -> None:
        """Close after an answer; after an error, drain the client's bytes a while first."""
        transport = self._transport
        assert transport is not None
        self._broken = True
        if lingering and transport.can_write_eof() and self._state.options.lingering_time > 0:
            transport.write_eof()
            if self._read_paused:
                self._read_paused = False
                transport.resume_reading()
            self._linger = asyncio.get_running_loop().call_later(
                self._state.options.lingering_time, transport.close
            )
        else:
            transport.close()

    def _idle_check(self) -> None:
        """Close a connection without a complete request head for ``keepalive_timeout``.

        One timer per connection, re-armed lazily: a request costs no timer.
        """
        if self._lost or self._transport is None or self._transport.is_closing():
            return
        loop = asyncio.get_running_loop()
        timeout = self._state.options.keepalive_timeout
        if self._idle_since is None:
            self._idle_timer = loop.call_later(timeout, self._idle_check)
            return
        left = self._idle_since + timeout - loop.time()
        if left > 0:
            self._idle_timer = loop.call_later(left, self._idle_check)
            return
        self._idle_timer = None
        self._transport.close()
