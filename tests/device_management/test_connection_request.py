"""HTTP connection requests against real listeners on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.device_management.fake_cpes import PASSWORD, USERNAME, DigestCpe, RawCpe, free_port
from traceacs.server.connection_request import (
    ConnectionRequestOptions,
    ConnectionRequestOutcome,
    parse_retry_after,
    send_connection_request,
)
from traceacs.simulator.conn_request import ConnectionRequestListener
from traceacs.simulator.cpe import CpeIdentity, FleetContext, SimulatedCpe

Outcome = ConnectionRequestOutcome


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def digest_cpe() -> AsyncIterator[DigestCpe]:
    cpe = DigestCpe()
    await cpe.start()
    yield cpe
    await cpe.stop()


async def test_digest_accepted(digest_cpe: DigestCpe, session: aiohttp.ClientSession) -> None:
    result = await send_connection_request(digest_cpe.url, USERNAME, PASSWORD, session=session)
    assert result.outcome is Outcome.OK
    assert result.answered
    assert result.status == 200
    assert result.attempts == 2
    assert digest_cpe.accepted == 1


async def test_204_is_ok(session: aiohttp.ClientSession) -> None:
    cpe = DigestCpe(status_when_ok=204)
    await cpe.start()
    try:
        result = await send_connection_request(cpe.url, USERNAME, PASSWORD, session=session)
    finally:
        await cpe.stop()
    assert result.ok
    assert result.status == 204


async def test_wrong_password_is_auth_failed(
    digest_cpe: DigestCpe, session: aiohttp.ClientSession
) -> None:
    result = await send_connection_request(digest_cpe.url, USERNAME, "wrong", session=session)
    assert result.outcome is Outcome.AUTH_FAILED
    assert result.status == 401
    assert digest_cpe.accepted == 0
    assert digest_cpe.requests == 2  # no endless loop of challenges


async def test_basic_only_when_allowed(session: aiohttp.ClientSession) -> None:
    cpe = DigestCpe(mode="basic")
    await cpe.start()
    try:
        refused = await send_connection_request(cpe.url, USERNAME, PASSWORD, session=session)
        allowed = await send_connection_request(
            cpe.url,
            USERNAME,
            PASSWORD,
            session=session,
            options=ConnectionRequestOptions(allow_basic=True),
        )
    finally:
        await cpe.stop()
    assert refused.outcome is Outcome.AUTH_FAILED
    assert allowed.outcome is Outcome.OK
    assert cpe.accepted == 1


async def test_digest_preferred_over_basic(session: aiohttp.ClientSession) -> None:
    cpe = DigestCpe(mode="both")
    await cpe.start()
    seen: list[str] = []
    original = cpe.auth.authenticate

    async def spy(authorization: str | None, **kwargs: object) -> object:
        if authorization:
            seen.append(authorization.split(" ")[0])
        return await original(authorization, **kwargs)  # type: ignore[arg-type]

    cpe.auth.authenticate = spy  # type: ignore[assignment,method-assign]
    try:
        result = await send_connection_request(
            cpe.url,
            USERNAME,
            PASSWORD,
            session=session,
            options=ConnectionRequestOptions(allow_basic=True),
        )
    finally:
        await cpe.stop()
    assert result.ok
    assert seen == ["Digest"]


async def test_drop_after_401_on_keep_alive_connection(session: aiohttp.ClientSession) -> None:
    """The 401 keeps the connection, the CPE then drops it: a new connection succeeds.

    (aiohttp itself resends an idempotent request once when a reused connection
    dies, so this works whichever layer does the retry.)
    """
    cpe = RawCpe("drop_after_401")
    await cpe.start()
    try:
        result = await send_connection_request(cpe.url, USERNAME, PASSWORD, session=session)
    finally:
        await cpe.stop()
    assert result.outcome is Outcome.OK
    assert result.answered
    assert cpe.connections == 2
    assert cpe.authorized_seen == 2
    assert cpe.accepted == 1


async def test_drop_of_authenticated_get_on_fresh_connection_is_retried_once(
    session: aiohttp.ClientSession,
) -> None:
    """The 401 closes the socket; the authenticated GET dies on its new connection.

    aiohttp resends a dying idempotent request once by itself (a private behaviour),
    so the CPE drops twice here to reach the retry of `send_connection_request`.
    """
    cpe = RawCpe("drop_after_401", close_after_401=True, drops=2)
    await cpe.start()
    try:
        result = await send_connection_request(cpe.url, USERNAME, PASSWORD, session=session)
    finally:
        await cpe.stop()
    assert result.outcome is Outcome.OK
    assert result.attempts == 3
    assert cpe.authorized_seen == 3
    assert cpe.accepted == 1


async def test_only_one_retry_after_drops(session: aiohttp.ClientSession) -> None:
    cpe = RawCpe("drop_after_401", close_after_401=True, drops=5)
    await cpe.start()
    try:
        result = await send_connection_request(cpe.url, USERNAME, PASSWORD, session=session)
    finally:
        await cpe.stop()
    assert result.outcome is Outcome.UNREACHABLE
    assert result.detail == "connection dropped"
    assert result.attempts == 3  # bare GET, authenticated GET, one retry
    assert cpe.authorized_seen == 4  # our one retry, each resent once by aiohttp


async def test_503_is_rate_limited_with_retry_after(session: aiohttp.ClientSession) -> None:
    cpe = RawCpe("503", retry_after="90")
    await cpe.start()
    try:
        result = await send_connection_request(cpe.url, USERNAME, PASSWORD, session=session)
    finally:
        await cpe.stop()
    assert result.outcome is Outcome.RATE_LIMITED
    assert result.status == 503
    assert result.retry_after == 90.0


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == 60.0
    assert parse_retry_after("garbage", now=0.0) is None
    assert parse_retry_after(None, now=0.0) is None


async def test_closed_port_is_unreachable(session: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{free_port()}/cr"
    result = await send_connection_request(url, USERNAME, PASSWORD, session=session)
    assert result.outcome is Outcome.UNREACHABLE
    assert result.status is None


async def test_hang_before_credentials_is_timeout(session: aiohttp.ClientSession) -> None:
    cpe = RawCpe("hang")
    await cpe.start()
    try:
        result = await send_connection_request(
            cpe.url, USERNAME, PASSWORD, session=session, timeout=0.2
        )
    finally:
        await cpe.stop()
    assert result.outcome is Outcome.TIMEOUT


async def test_hang_after_credentials_counts_as_ok_unanswered(
    session: aiohttp.ClientSession,
) -> None:
    cpe = RawCpe("hang_after_credentials")
    await cpe.start()
    try:
        lenient = await send_connection_request(
            cpe.url, USERNAME, PASSWORD, session=session, timeout=0.2
        )
        strict = await send_connection_request(
            cpe.url,
            USERNAME,
            PASSWORD,
            session=session,
            timeout=0.2,
            options=ConnectionRequestOptions(unanswered_is_ok=False),
        )
    finally:
        await cpe.stop()
    assert lenient.outcome is Outcome.OK
    assert not lenient.answered
    assert strict.outcome is Outcome.TIMEOUT


async def test_session_start_ends_the_wait(session: aiohttp.ClientSession) -> None:
    """The caller's event (set when the device's session begins) beats the timeout."""
    cpe = RawCpe("hang_after_credentials")
    await cpe.start()
    started = asyncio.Event()

    async def cpe_opens_session() -> None:
        await cpe.got_credentials.wait()
        started.set()

    opener = asyncio.create_task(cpe_opens_session())
    try:
        result = await send_connection_request(
            cpe.url, USERNAME, PASSWORD, session=session, timeout=30.0, session_started=started
        )
    finally:
        await opener
        await cpe.stop()
    assert result.outcome is Outcome.OK
    assert not result.answered
    assert result.detail == "session started"
    assert result.elapsed < 30.0


async def test_password_never_logged(
    digest_cpe: DigestCpe, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ok = await send_connection_request(digest_cpe.url, USERNAME, PASSWORD, session=session)
    bad = await send_connection_request(digest_cpe.url, USERNAME, PASSWORD + "x", session=session)
    assert ok.ok
    assert not bad.ok
    assert "connection request to" in caplog.text
    for text in (caplog.text, repr(ok), repr(bad)):
        assert PASSWORD not in text


# ---------------------------------------------------------------- simulator interop


@pytest.fixture
async def simulated() -> AsyncIterator[tuple[ConnectionRequestListener, list[SimulatedCpe]]]:
    woken: list[SimulatedCpe] = []
    context = FleetContext(connection_request_password="sim-pass")
    cpes = {serial: SimulatedCpe(CpeIdentity(serial), context=context) for serial in ("SN1", "SN2")}
    listener = ConnectionRequestListener(cpes, woken.append)
    base = await listener.start()
    context.connection_request_base = base
    yield listener, woken
    await listener.stop()


async def test_simulator_listener_interop(
    simulated: tuple[ConnectionRequestListener, list[SimulatedCpe]],
    session: aiohttp.ClientSession,
) -> None:
    listener, woken = simulated
    url = f"http://127.0.0.1:{listener.port}/cr/SN2"
    result = await send_connection_request(url, "SN2", "sim-pass", session=session)
    assert result.outcome is Outcome.OK
    assert [cpe.identity.serial_number for cpe in woken] == ["SN2"]
    wrong = await send_connection_request(url, "SN2", "nope", session=session)
    assert wrong.outcome is Outcome.AUTH_FAILED
    missing = await send_connection_request(
        f"http://127.0.0.1:{listener.port}/cr/SN9", "SN9", "sim-pass", session=session
    )
    assert missing.outcome is Outcome.REFUSED
    assert missing.status == 404
    assert len(woken) == 1
