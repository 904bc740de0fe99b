"""Connection requests (TR-069 §3.2.2): the ACS asks a CPE to open a session now.

An HTTP GET to the device's ``ConnectionRequestURL``, authenticated with Digest (Basic
only when the caller allows it). The CPE answers 200/204 and then opens a CWMP session
with the event ``6 CONNECTION REQUEST``. Field behaviour this copes with
(see ``cwmp/QUIRKS.md``):

- **Dropped after the 401.** Some CPEs send the challenge and close the socket, so the
  authenticated GET dies on a dead keep-alive connection. The authenticated GET is
  retried once on a fresh connection.
- **Session first, answer later (or never).** Some CPEs start the CWMP session before
  answering the GET. TR-069 obliges a CPE to authenticate connection requests, so a CPE
  that hangs *after receiving our credentials* has almost certainly accepted them; with
  ``ConnectionRequestOptions.unanswered_is_ok`` (the default) that wait ends after the
  answer timeout and counts as ``ok`` with ``answered=False``. A hang on the first,
  unauthenticated GET is a plain ``timeout``. The caller may also pass an
  ``asyncio.Event`` set when the device's session starts, which ends the wait at once.
- **503** means the CPE (or a proxier) rate-limits: ``rate_limited`` with Retry-After.

`ConnectionRequestRateLimiter` is a token bucket, one per ACS process, so that bulk
operations (a fleet-wide reboot) wake devices at a bounded rate instead of causing a
boot storm. Time is passed in, so it is testable without sleeping.

The password is never logged and never put in a result or an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp

from traceacs.server.digest_client import (
    Challenge,
    UnsupportedChallenge,
    authorization_for,
    choose_challenge,
    parse_challenges,
)

log = logging.getLogger("traceacs.connection_request")


class ConnectionRequestOutcome(enum.StrEnum):
    OK = "ok"
    AUTH_FAILED = "auth_failed"
    RATE_LIMITED = "rate_limited"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class ConnectionRequestResult:
    """What became of one connection request.

    ``status`` is the last HTTP status seen (None when no answer came); ``retry_after``
    is in seconds (from a 503's Retry-After); ``attempts`` counts HTTP requests sent;
    ``answered`` is False when ``ok`` was inferred (CPE hung after our credentials, or
    its session started first); ``detail`` is a short, secret-free reason.
    """

    outcome: ConnectionRequestOutcome
    status: int | None = None
    retry_after: float | None = None
    attempts: int = 0
    answered: bool = True
    elapsed: float = 0.0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is ConnectionRequestOutcome.OK


@dataclass(frozen=True, slots=True)
class ConnectionRequestOptions:
    """Knobs of `send_connection_request`; the defaults suit most fleets."""

    allow_basic: bool = False
    """Answer a Basic challenge (the password then travels in clear)."""
    connect_timeout: float = 5.0
    unanswered_is_ok: bool = True
    """A CPE that received our credentials and does not answer within the timeout
    is taken to have started its session (see the module docstring)."""


DEFAULT_OPTIONS = ConnectionRequestOptions()


def _safe_target(url: str) -> str:
    """``host:port`` of ``url`` for logs (never userinfo or query)."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or ''}"
    except ValueError:
        return "?"


def _request_uri(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date (relative to ``now``)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class _Dropped(Exception):
    """The CPE closed the connection without answering."""


async def _get(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    timeout: aiohttp.ClientTimeout,
) -> tuple[int, list[str], str | None]:
    try:
        async with session.get(
            url, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            await response.read()
            return (
                response.status,
                response.headers.getall("WWW-Authenticate", []),
                response.headers.get("Retry-After"),
            )
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        raise _Dropped from exc
    except aiohttp.ClientOSError as exc:
        if isinstance(exc, aiohttp.ClientConnectorError):
            raise
        raise _Dropped from exc


async def _race_session_start(
    request: Awaitable[tuple[int, list[str], str | None]], started: asyncio.Event | None
) -> tuple[int, list[str], str | None] | None:
    """The request's answer, or None when the device's session started first."""
    if started is None:
        return await request
    task = asyncio.ensure_future(request)
    waiter = asyncio.ensure_future(started.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return None


async def send_connection_request(
    url: str,
    username: str,
    password: str,
    *,
    session: aiohttp.ClientSession,
    timeout: float = 10.0,
    options: ConnectionRequestOptions = DEFAULT_OPTIONS,
    session_started: asyncio.Event | None = None,
    now: Callable[[], float] = time.time,
) -> ConnectionRequestResult:
    """Send one connection request; never raises for network or HTTP trouble.

    ``timeout`` bounds each wait for an answer once connected;
    ``options.connect_timeout`` bounds each TCP connect. ``now`` is the wall clock
    (elapsed time, HTTP-date Retry-After).
    """
    started_at = now()
    client_timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=options.connect_timeout, sock_read=timeout
    )
    uri = _request_uri(url)
    target = _safe_target(url)
    challenge: Challenge | None = None
    challenge_nonce = ""
    answered_challenges = 0
    nc = 0
    dropped_retry_used = False
    attempts = 0
    status: int | None = None

    def result(
        outcome: ConnectionRequestOutcome,
        detail: str = "",
        *,
        retry_after: float | None = None,
        answered: bool = True,
    ) -> ConnectionRequestResult:
        res = ConnectionRequestResult(
            outcome,
            status=status,
            retry_after=retry_after,
            attempts=attempts,
            answered=answered,
            elapsed=max(0.0, now() - started_at),
            detail=detail,
        )
        log.debug("connection request to %s: %s %s", target, outcome.value, detail)
        return res

    # At most: GET, 401, GET+auth, (drop, GET+auth again), (401 stale, GET+auth).
    for _ in range(5):
        headers: dict[str, str] = {}
        if challenge is not None:
            nc += 1
            headers["Authorization"] = authorization_for(
                challenge, method="GET", uri=uri, username=username, password=password, nc=nc
            )
        attempts += 1
        try:
            answer = await _race_session_start(
                _get(session, url, headers, client_timeout), session_started
            )
        except _Dropped:
            if challenge is not None and not dropped_retry_used:
                dropped_retry_used = True
                nc -= 1  # the same request again, on a fresh connection
                continue
            return result(ConnectionRequestOutcome.UNREACHABLE, "connection dropped")
        except aiohttp.ConnectionTimeoutError:
            return result(ConnectionRequestOutcome.TIMEOUT, "connect timed out")
        except aiohttp.SocketTimeoutError:
            if challenge is not None and options.unanswered_is_ok:
                return result(
                    ConnectionRequestOutcome.OK, "no answer after credentials", answered=False
                )
            return result(ConnectionRequestOutcome.TIMEOUT, "no answer")
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL, aiohttp.ClientOSError) as exc:
            return result(ConnectionRequestOutcome.UNREACHABLE, type(exc).__name__)
        except TimeoutError:
            return result(ConnectionRequestOutcome.TIMEOUT, "timed out")
        except aiohttp.ClientError as exc:
            return result(ConnectionRequestOutcome.UNREACHABLE, type(exc).__name__)
        if answer is None:
            return result(ConnectionRequestOutcome.OK, "session started", answered=False)
        status, challenges, retry_after = answer
        if 200 <= status < 300:
            return result(ConnectionRequestOutcome.OK)
        if status == 503:
            return result(
                ConnectionRequestOutcome.RATE_LIMITED,
                "503",
                retry_after=parse_retry_after(retry_after, now()),
            )
        if status != 401:
            return result(ConnectionRequestOutcome.REFUSED, f"HTTP {status}")
        try:
            offered = choose_challenge(
                parse_challenges(challenges), allow_basic=options.allow_basic
            )
        except UnsupportedChallenge as exc:
            return result(ConnectionRequestOutcome.AUTH_FAILED, str(exc))
        # After our credentials, a 401 is a refusal, unless the nonce went stale, or
        # the retry after a drop met a CPE whose nonces die with their connection.
        renewed = offered.stale or (dropped_retry_used and offered.nonce != challenge_nonce)
        if challenge is not None and (not renewed or answered_challenges >= 2):
            return result(ConnectionRequestOutcome.AUTH_FAILED, "credentials rejected")
        challenge = offered
        challenge_nonce = offered.nonce
        answered_challenges += 1
        nc = 0
    return result(ConnectionRequestOutcome.AUTH_FAILED, "too many challenges")


class ConnectionRequestRateLimiter:
    """A token bucket: ``rate`` connection requests per second, bursts of ``burst``.

    `reserve` takes a token now or in the future and says how long to wait for it, so
    concurrent callers queue in order (the bucket may go into debt). Time is passed in.
    """

    def __init__(self, rate: float, burst: int = 1, *, now: float = 0.0) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated = now

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def try_acquire(self, now: float) -> bool:
        """Take a token if one is there now; False otherwise (nothing reserved)."""
        self._refill(now)
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def reserve(self, now: float) -> float:
        """Take a token; seconds until it is really available (0 when now)."""
        self._refill(now)
        self._tokens -= 1
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate

    async def acquire(
        self,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> float:
        """Wait for a token; the seconds waited."""
        delay = self.reserve(now())
        if delay > 0 and math.isfinite(delay):
            await sleep(delay)
        return delay
