"""The HTTP side of one simulated CWMP session: POSTs to the ACS over aiohttp.

A session is one `AcsConnection`: one keep-alive TCP connection and one cookie jar, as a
real CPE agent has (or, for the quirk modes, a new connection per POST / no cookies).
It answers the ACS's Basic or Digest challenge, and rewrites the codec's bytes for the
SOAP-prefix quirk. It knows nothing about CWMP semantics: envelopes in, envelopes out.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from yarl import URL

from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.errors import CwmpParseError
from traceacs.cwmp.messages import Envelope
from traceacs.simulator import digest
from traceacs.simulator.faults import NO_FAULTS, FaultPlan, Quirk


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """What a CPE's GET of a Download URL brought."""

    status: int
    size: int
    head: bytes


class SessionDropped(Exception):
    """The connection broke or timed out before the ACS answered."""


class AcsHttpError(Exception):
    """The ACS answered with an HTTP status a CPE cannot go on with."""

    def __init__(self, status: int) -> None:
        super().__init__(f"ACS answered HTTP {status}")
        self.status = status


def tls_context(ca_file: str | None) -> ssl.SSLContext | bool:
    """How an ``https`` ACS URL is verified: against ``ca_file`` (a PEM bundle, e.g. a
    lab's own CA) or, without one, the system's trust store. Verification is never
    switched off: a CPE that trusts any certificate would hand its password to anyone.
    """
    if ca_file is None:
        return True
    return ssl.create_default_context(cafile=ca_file)


class AcsConnection:
    """One CWMP session's HTTP connection to the ACS (use as ``async with``)."""

    def __init__(
        self,
        acs_url: str,
        *,
        faults: FaultPlan = NO_FAULTS,
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
        ca_file: str | None = None,
    ) -> None:
        self._url = acs_url
        self._faults = faults
        self._username = username
        self._password = password
        jar: aiohttp.abc.AbstractCookieJar = (
            aiohttp.DummyCookieJar()
            if faults.has(Quirk.NO_COOKIES)
            else aiohttp.CookieJar(unsafe=True)
        )
        connector = aiohttp.TCPConnector(
            limit=1,
            force_close=faults.has(Quirk.NEW_CONNECTION),
            enable_cleanup_closed=False,
            ssl=tls_context(ca_file),
        )
        self._http = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=jar,
            timeout=aiohttp.ClientTimeout(total=timeout),
        )
        self._auth_header: str | None = None
        self._digest_challenge: str | None = None
        self._digest_count = 0
        self.posts = 0

    def __repr__(self) -> str:
        return f"AcsConnection({self._url!r})"

    async def __aenter__(self) -> AcsConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.close()

    def encode(self, envelope: Envelope) -> bytes:
        """The codec's bytes, rewritten for this CPE's SOAP-prefix quirk."""
        data = serialize_envelope(envelope)
        if self._faults.has(Quirk.SOAP_PREFIX):
            prefix = self._faults.soap_prefix.encode()
            data = data.replace(b"soap-env:", prefix + b":").replace(
                b"xmlns:soap-env=", b"xmlns:" + prefix + b"="
            )
        if self._faults.has(Quirk.BOOLEAN_AS_1):
            data = data.replace(b'"xsd:boolean">true<', b'"xsd:boolean">1<').replace(
                b'"xsd:boolean">false<', b'"xsd:boolean">0<'
            )
        return data

    async def post(self, envelope: Envelope | None) -> Envelope | None:
        """POST ``envelope`` (None: the empty POST); the ACS's envelope or None (204)."""
        body = None if envelope is None else self.encode(envelope)
        for _attempt in range(2):
            status, payload, challenge = await self._post_once(body)
            if status == 401 and challenge is not None and self._answer(challenge):
                continue
            break
        if status == 204 or (status == 200 and not payload.strip()):
            return None
        if status != 200:
            raise AcsHttpError(status)
        try:
            return parse_envelope(payload)
        except CwmpParseError as exc:
            raise AcsHttpError(status) from exc

    def _answer(self, challenge: str) -> bool:
        """Prepare credentials for a 401; False if there is nothing (new) to offer."""
        if not self._username and not self._password:
            return False
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            if self._auth_header is not None and self._auth_header.startswith("Basic"):
                return False
            token = base64.b64encode(f"{self._username}:{self._password}".encode()).decode()
            self._auth_header = f"Basic {token}"
            return True
        if scheme == "digest":
            stale = "stale=true" in challenge.replace('"', "").lower()
            if self._digest_challenge == challenge and not stale:
                return False
            self._digest_challenge = challenge
            self._digest_count = 0
            return True
        return False

    def _authorization(self) -> str | None:
        if self._digest_challenge is not None:
            self._digest_count += 1
            uri = URL(self._url).raw_path_qs
            return digest.authorization(
                self._digest_challenge,
                "POST",
                uri,
                self._username,
                self._password,
                nc=self._digest_count,
            )
        return self._auth_header

    async def _post_once(self, body: bytes | None) -> tuple[int, bytes, str | None]:
        headers = {"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": ""}
        auth = self._authorization()
        if auth is not None:
            headers["Authorization"] = auth
        data: bytes | AsyncIterator[bytes]
        if body is None:
            del headers["SOAPAction"]
            data = _nothing() if self._faults.has(Quirk.CHUNKED_EMPTY_POST) else b""
        else:
            data = body
        self.posts += 1
        try:
            async with self._http.post(self._url, data=data, headers=headers) as resp:
                payload = await resp.read()
                return resp.status, payload, resp.headers.get("WWW-Authenticate")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SessionDropped(type(exc).__name__) from exc

    async def fetch(
        self, url: str, username: str, password: str, *, keep: int = 256
    ) -> FetchedFile:
        """GET a Download URL: the HTTP status (0 when unreachable), how many bytes
        arrived and the first ``keep`` of them (the rest is discarded)."""
        auth = aiohttp.BasicAuth(username, password) if username else None
        head = b""
        size = 0
        try:
            async with self._http.get(url, auth=auth) as resp:
                async for chunk in resp.content.iter_chunked(65536):
                    if len(head) < keep:
                        head += chunk[: keep - len(head)]
                    size += len(chunk)
                return FetchedFile(resp.status, size, head)
        except (aiohttp.ClientError, TimeoutError, OSError):
            return FetchedFile(0, size, head)

    async def upload(self, url: str, username: str, password: str, content: bytes) -> int:
        """PUT an Upload's file; the HTTP status (0 when unreachable)."""
        auth = aiohttp.BasicAuth(username, password) if username else None
        try:
            async with self._http.put(url, data=content, auth=auth) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            return 0


async def _nothing() -> AsyncIterator[bytes]:
    """An empty body aiohttp must send chunked (the chunked-empty-POST quirk)."""
    return
    yield b""  # pragma: no cover - makes this an async generator
