"""The HTTP BSS source: ``GET {base}/customers/{customer_id}/service-profile?plan=...``.

A BSS is a remote dependency on the hot path of every bootstrap, so this adapter is
defensive: a per-request timeout; retries with exponential backoff and jitter for what
may heal by itself (connection errors, timeouts, 408/429/5xx), none for answers that
will not change (404 is :class:`ProfileNotFound`, other 4xx fail at once); and a
:class:`CircuitBreaker` so that a dead BSS costs one fast failure per inform instead of
``attempts x timeout`` seconds each, and is probed again after a while.

Circuit-breaker accounting is per ``fetch`` (one logical call, retries included), and
only failures that say "the BSS endpoint is unhealthy" count: no answer, 5xx, 401/403,
a body that is not a JSON object. A well-formed answer about one customer (404, a
profile that fails validation, a 400) counts as the BSS being alive.

The bearer token is never logged, never in ``repr`` and never in an exception; response
bodies are never quoted in errors either (a profile body carries Wi-Fi keys). Sleep,
clock and randomness are injected so tests never wait.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import quote

import aiohttp
from yarl import URL

from traceacs.profiles.circuit_breaker import CircuitBreaker, CircuitState
from traceacs.profiles.document import ProfileDocumentError, profile_from_document
from traceacs.profiles.source import (
    ProfileNotFound,
    ProfileSourceUnavailable,
    UnavailableKind,
)
from traceacs.provisioning.profile import ServiceProfile

__all__ = ["HttpProfileSource", "RetryPolicy"]

log = logging.getLogger(__name__)

Sleeper = Callable[[float], Awaitable[None]]

_RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry.

    ``attempts`` counts the first try. Before retry ``n`` (0-based) the wait is
    ``min(max_delay, base_delay * 2**n)`` reduced by a random fraction of up to
    ``jitter`` of itself, so a fleet of ACS workers does not retry in lockstep.
    """

    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")

    def delay(self, retry_index: int, random_fraction: float) -> float:
        """The wait before retry ``retry_index``; ``random_fraction`` is in [0, 1)."""
        ceiling = min(self.max_delay, self.base_delay * float(2**retry_index))
        return ceiling * (1.0 - self.jitter * random_fraction)


class _Failure(Exception):
    """One attempt's failure, classified for the retry loop and the breaker."""

    def __init__(
        self,
        kind: UnavailableKind,
        reason: str,
        *,
        retryable: bool,
        unhealthy: bool,  # counts as a circuit-breaker failure
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.kind: UnavailableKind = kind
        self.reason = reason
        self.retryable = retryable
        self.unhealthy = unhealthy
        self.retry_after = retry_after


class HttpProfileSource:
    """A :class:`~traceacs.profiles.source.ProfileSource` over a BSS's HTTP API."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleeper = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        random_fraction: Callable[[], float] = random.random,
        max_body_bytes: int = 1 << 20,
    ) -> None:
        base = URL(base_url)
        if not base.is_absolute() or base.scheme not in ("http", "https"):
            raise ValueError("base_url must be an absolute http:// or https:// URL")
        if base.user is not None or base.password is not None:
            raise ValueError("base_url must not carry credentials; pass token= instead")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._base = base.with_query(None).with_fragment(None)
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self._clock = clock
        self._random = random_fraction
        self._max_body = max_body_bytes

    def __repr__(self) -> str:
        token = "set" if self._token else "none"
        return f"HttpProfileSource({str(self._base)!r}, token={token}, {self.breaker!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this source created it (an injected one is left open)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def url_for(self, customer_id: str, service_plan: str) -> URL:
        """The request URL; the customer id is one path segment whatever it contains."""
        segment = quote(customer_id, safe="")
        if segment in (".", ".."):
            segment = segment.replace(".", "%2E")  # would otherwise be resolved away
        path = f"{self._base.raw_path.rstrip('/')}/customers/{segment}/service-profile"
        return self._base.with_path(path, encoded=True).with_query({"plan": service_plan})

    async def fetch(self, customer_id: str, service_plan: str) -> ServiceProfile:
        if not customer_id:
            raise ProfileNotFound(customer_id, service_plan)
        now = self._clock()
        if not self.breaker.allow_request(now):
            raise ProfileSourceUnavailable(
                "circuit_open",
                "the BSS failed repeatedly; not asking it for another "
                f"{self.breaker.retry_after(now):.1f}s",
            )
        try:
            profile = await self._fetch_with_retries(customer_id, service_plan)
        except ProfileNotFound:
            self.breaker.record_success(self._clock())
            raise
        except _Failure as failure:
            if failure.unhealthy:
                self.breaker.record_failure(self._clock())
            else:
                self.breaker.record_success(self._clock())
            raise ProfileSourceUnavailable(failure.kind, failure.reason) from None
        self.breaker.record_success(self._clock())
        return profile

    async def _fetch_with_retries(self, customer_id: str, service_plan: str) -> ServiceProfile:
        url = self.url_for(customer_id, service_plan)
        attempts = self.retry.attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self._attempt(url, customer_id, service_plan)
            except _Failure as failure:
                if not failure.retryable or attempt == attempts:
                    if attempt > 1:
                        raise _Failure(
                            failure.kind,
                            f"{failure.reason} (after {attempt} attempts)",
                            retryable=failure.retryable,
                            unhealthy=failure.unhealthy,
                        ) from None
                    raise
                if self.breaker.state(self._clock()) is CircuitState.OPEN:
                    raise  # other calls gave up on the BSS meanwhile; stop hammering it
                delay = self.retry.delay(attempt - 1, self._random())
                if failure.retry_after is not None:
                    delay = max(delay, min(failure.retry_after, self.retry.max_delay))
                log.warning(
                    "BSS profile request for customer %r failed (%s), attempt %d/%d; "
                    "retrying in %.2fs",
                    customer_id,
                    failure.reason,
                    attempt,
                    attempts,
                    delay,
                )
                await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _session_for_request(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _attempt(self, url: URL, customer_id: str, service_plan: str) -> ServiceProfile:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        session = self._session_for_request()
        try:
            async with session.get(
                url, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                status = response.status
                if status == 404:
                    raise ProfileNotFound(customer_id, service_plan)
                if status != 200:
                    raise _status_failure(status, response.headers.get("Retry-After"))
                body = await self._read_body(response)
                content_type = response.content_type
        except TimeoutError:
            raise _Failure(
                "timeout",
                f"no answer within {self._timeout.total}s",
                retryable=True,
                unhealthy=True,
            ) from None
        except aiohttp.ClientConnectionError as exc:
            raise _Failure("connection", _describe(exc), retryable=True, unhealthy=True) from None
        except aiohttp.ClientError as exc:
            raise _Failure(
                "invalid_response", _describe(exc), retryable=True, unhealthy=True
            ) from None
        return _decode_profile(body, content_type)

    async def _read_body(self, response: aiohttp.ClientResponse) -> bytes:
        declared = response.content_length
        if declared is not None and declared > self._max_body:
            raise _too_large(self._max_body)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self._max_body:
                raise _too_large(self._max_body)
            chunks.append(chunk)
        return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}"


def _too_large(limit: int) -> _Failure:
    return _Failure(
        "invalid_response",
        f"response larger than {limit} bytes",
        retryable=False,
        unhealthy=True,
    )


def _status_failure(status: int, retry_after_header: str | None) -> _Failure:
    if status in _RETRYABLE_STATUSES:
        retry_after = None
        if retry_after_header is not None and retry_after_header.strip().isdigit():
            retry_after = float(retry_after_header.strip())
        return _Failure(
            "http_status",
            f"the BSS answered HTTP {status}",
            retryable=True,
            unhealthy=True,
            retry_after=retry_after,
        )
    if status in (401, 403):
        return _Failure(
            "http_status",
            f"the BSS refused our credentials (HTTP {status})",
            retryable=False,
            unhealthy=True,
        )
    return _Failure(
        "http_status",
        f"the BSS answered HTTP {status}",
        retryable=False,
        unhealthy=False,
    )


def _decode_profile(body: bytes, content_type: str) -> ServiceProfile:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Failure(
            "invalid_response",
            f"the BSS answer is not JSON (Content-Type {content_type})",
            retryable=False,
            unhealthy=True,
        ) from None
    if not isinstance(document, dict):
        raise _Failure(
            "invalid_response",
            f"the BSS answer is JSON but not an object (got {type(document).__name__})",
            retryable=False,
            unhealthy=True,
        )
    try:
        return profile_from_document(document)
    except ProfileDocumentError as exc:
        raise _Failure(
            "invalid_profile",
            f"the BSS sent an invalid profile: {exc}",
            retryable=False,
            unhealthy=False,
        ) from None
