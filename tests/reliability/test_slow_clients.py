"""Slow and stuck clients cannot exhaust the CWMP server.

Each test runs the real server (`traceacs.server.limits` options, provisioning
workflow, SQLite) with its limits shortened so the test is quick, then asserts on
observable events only: the server closes a socket (reading returns EOF), answers a
status, ends a session. Timeouts in the tests are safety nets, never synchronisation.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

from tests.reliability.harness import (
    TIMEOUT,
    RawHttp,
    RealAcs,
    inform_envelope,
    post_request,
    real_acs,
)
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope
from traceacs.provisioning.repository import AttemptFilter
from traceacs.server.cwmp_endpoint import EndpointSettings
from traceacs.server.cwmp_sessions import COOKIE_NAME
from traceacs.server.limits import ServerLimits

SLOW_CLIENTS = 40


async def until(predicate: object, timeout: float = TIMEOUT) -> None:
    """Wait (bounded) until ``predicate()`` holds, checking once per loop turn or so."""
    assert callable(predicate)
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def connections(acs: RealAcs) -> int:
    return acs.server.connections


async def dribble(conn: RawHttp, data: bytes, pause: float) -> None:
    """Send ``data`` one byte at a time until the server hangs up."""
    with contextlib.suppress(ConnectionError):
        for byte in data:
            if conn.writer.is_closing() or conn.reader.at_eof():
                return
            await conn.send(bytes([byte]))
            await asyncio.sleep(pause)  # the slowness itself, not a synchronisation


@contextlib.asynccontextmanager
async def slowloris(acs: RealAcs, count: int) -> AsyncIterator[list[RawHttp]]:
    """``count`` clients sending the headers of a POST byte by byte, never finishing."""
    head = post_request(b"x" * 10).split(b"\r\n\r\n")[0] + b"\r\nX-Slow: "
    conns = [await RawHttp.connect(acs.host, acs.port) for _ in range(count)]
    tasks = [asyncio.create_task(dribble(c, head + b"a" * 10_000, 0.05)) for c in conns]
    try:
        yield conns
    finally:
        for task in tasks:
            task.cancel()
        for conn in conns:
            conn.close()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_slowloris_clients_are_cut_off_and_a_good_cpe_is_served_meanwhile(
    tmp_path: Path,
) -> None:
    limits = ServerLimits(keepalive_timeout=3.0)  # ample for one good session
    async with real_acs(tmp_path, limits=limits) as acs, slowloris(acs, SLOW_CLIENTS) as conns:
        await until(lambda: connections(acs) >= SLOW_CLIENTS)
        await acs.healthy_session()
        # the good session finished while every slow client was still connected
        assert not any(c.reader.at_eof() for c in conns)
        received = await asyncio.gather(*(c.read_until_closed() for c in conns))
        assert all(b" 500 " not in r for r in received)
        await until(lambda: connections(acs) == 0)


async def test_a_stalled_body_gets_408_and_the_socket_back(tmp_path: Path) -> None:
    settings = EndpointSettings(body_read_timeout=0.5)
    async with real_acs(tmp_path, settings=settings) as acs:
        stalled = await RawHttp.connect(acs.host, acs.port)
        dribbling = await RawHttp.connect(acs.host, acs.port)
        try:
            # a lying Content-Length: 10 bytes of 1000 sent, then silence
            await stalled.send(post_request(b"<" * 10, headers={"Content-Length": "1000"}))
            # a body of 1000 bytes sent one byte every 50 ms (would take 50 s)
            await dribbling.send(post_request(b"", headers={"Content-Length": "1000"}))
            task = asyncio.create_task(dribble(dribbling, b"<" * 1000, 0.05))
            for conn in (stalled, dribbling):
                received = await conn.read_until_closed()
                assert re.match(rb"HTTP/1\.1 408 ", received), received[:80]
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        finally:
            stalled.close()
            dribbling.close()
        await acs.healthy_session()


async def test_a_content_length_beyond_the_cap_is_refused_without_waiting(tmp_path: Path) -> None:
    async with real_acs(tmp_path) as acs:
        conn = await RawHttp.connect(acs.host, acs.port)
        try:
            await conn.send(post_request(b"<", headers={"Content-Length": str(10**12)}))
            status, _, _ = await conn.response()
        finally:
            conn.close()
        assert status == 413


def cookie_of(headers: dict[str, str]) -> str:
    found = re.search(rf"{COOKIE_NAME}=([^;]+)", headers.get("set-cookie", ""))
    assert found is not None
    return found.group(1)


async def test_a_cpe_that_never_answers_an_rpc_loses_its_session_and_socket(
    tmp_path: Path,
) -> None:
    settings = EndpointSettings(session_timeout=0.5)
    limits = ServerLimits(keepalive_timeout=1.0)
    async with real_acs(tmp_path, settings=settings, limits=limits) as acs:
        device = acs.device_id(0)
        conn = await RawHttp.connect(acs.host, acs.port)
        try:
            await conn.send(post_request(inform_envelope(device)))
            status, headers, body = await conn.response()
            assert isinstance(parse_envelope(body).body, m.InformResponse)
            cookie = f"{COOKIE_NAME}={cookie_of(headers)}"
            await conn.send(post_request(b"", headers={"Cookie": cookie}))
            status, _, body = await conn.response()
            assert status == 200
            assert isinstance(parse_envelope(body).body, m.SetParameterValues)
            # ...and the CPE never answers: the server ends the session, then hangs up
            await until(lambda: len(acs.endpoint.registry) == 0)
            assert await conn.read_until_closed() == b""
        finally:
            conn.close()
        await until(lambda: connections(acs) == 0)
        [attempt] = await acs.repo.list_attempts(AttemptFilter(serial_number=device.serial_number))
        assert not attempt.in_progress
        # the device is free to inform again (no 8005 "already in session")
        again = await RawHttp.connect(acs.host, acs.port)
        try:
            await again.send(post_request(inform_envelope(device, events=("1 BOOT",))))
            status, _, body = await again.response()
        finally:
            again.close()
        assert isinstance(parse_envelope(body).body, m.InformResponse)


async def test_connections_beyond_the_limit_get_503_until_one_is_freed(tmp_path: Path) -> None:
    limits = ServerLimits(max_connections=5, retry_after_seconds=7)
    fixed = EndpointSettings(retry_after=None)  # the limits' Retry-After, not appointments
    async with real_acs(tmp_path, limits=limits, settings=fixed) as acs:
        idle = [await RawHttp.connect(acs.host, acs.port) for _ in range(5)]
        try:
            await until(lambda: connections(acs) == 5)
            extra = await RawHttp.connect(acs.host, acs.port)
            refused = await extra.read_until_closed()
            extra.close()
            assert refused.startswith(b"HTTP/1.1 503 ")
            assert b"Retry-After: 7\r\n" in refused
            assert connections(acs) == 5
            idle.pop().close()
            await until(lambda: connections(acs) == 4)
            await acs.healthy_session()
        finally:
            for conn in idle:
                conn.close()
