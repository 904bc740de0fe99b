"""Sessions beyond capacity: refused cheaply with 503 + Retry-After, logged once per interval.

The recorded five-minute run at twice the capacity is `bench/overload.py` (figures in
`bench/README.md`); this is its CI-sized counterpart: a real ACS with a tiny session
limit, a flood of Informs beyond it, and what must hold whatever the speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest

from tests.reliability.harness import RawHttp, cpe_client, inform_envelope, real_acs
from tests.reliability.test_slow_clients import until
from traceacs.cwmp import messages as m
from traceacs.server.cwmp_endpoint import EndpointSettings
from traceacs.server.limits import ServerLimits
from traceacs.server.log_throttle import LogThrottle

HELD = 3
FLOOD = 40


def test_log_throttle_reports_the_count_once_per_interval() -> None:
    throttle = LogThrottle(interval=10.0)
    assert throttle.tick(100.0) == 1  # the first occurrence is reported at once
    assert [throttle.tick(100.0 + i) for i in range(1, 10)] == [None] * 9
    assert throttle.tick(110.0) == 10  # nine suppressed + this one
    assert throttle.tick(115.0) is None
    assert throttle.tick(125.0) == 2


async def test_a_flood_beyond_max_sessions_gets_503_and_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = EndpointSettings(
        max_sessions=HELD, retry_after_seconds=13, retry_after=None, session_timeout=0.5
    )
    async with real_acs(tmp_path, devices=HELD + 2, settings=settings) as acs:
        async with contextlib.AsyncExitStack() as stack:
            for index in range(HELD):  # sessions that stay open: the ACS is full
                holder = await stack.enter_async_context(cpe_client(acs.url))
                reply = await holder.post(inform_envelope(acs.device_id(index)))
                assert isinstance(reply.envelope().body, m.InformResponse)
            assert len(acs.endpoint.registry) == HELD

            async def refused() -> tuple[int, str | None]:
                async with cpe_client(acs.url) as cpe:
                    reply = await cpe.post(inform_envelope(acs.device_id(HELD)))
                    return reply.status, reply.headers.get("Retry-After")

            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="traceacs"):
                answers = await asyncio.gather(*(refused() for _ in range(FLOOD)))
            assert answers == [(503, "13")] * FLOOD
            assert len(acs.endpoint.registry) == HELD  # nothing admitted, nothing lost
            lines = [r.getMessage() for r in caplog.records if "503" in r.getMessage()]
            assert len(lines) == 1, lines
            assert "refused 1 new session(s)" in lines[0]

            # Refused before parsing (refusing must be cheap): even garbage gets 503...
            async with cpe_client(acs.url) as stranger:
                garbage = await stranger.post(b"\x00not xml at all")
            assert garbage.status == 503
            # ...while the admitted sessions go on: the next POST gets the config push.
            reply = await holder.post(b"")
            assert isinstance(reply.envelope().body, m.SetParameterValues)
        # The held sessions time out; the ACS admits and completes sessions again.
        await until(lambda: len(acs.endpoint.registry) == 0)
        await acs.healthy_session()


def test_connections_beyond_the_limit_get_503_under_uvloop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`serve` runs on uvloop, whose transports are not asyncio.WriteTransport: the
    refusal used to assert on the type, raise on every refused connection (a traceback
    each in the log) and leave the client without an answer."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        limits = ServerLimits(max_connections=1, retry_after_seconds=11)
        fixed = EndpointSettings(retry_after=None)  # the limits' Retry-After
        async with real_acs(tmp_path, limits=limits, settings=fixed) as acs:
            first = await RawHttp.connect(acs.host, acs.port)
            try:
                await until(lambda: acs.server.connections == 1)
                second = await RawHttp.connect(acs.host, acs.port)
                try:
                    answer = await second.read_until_closed()
                finally:
                    second.close()
            finally:
                first.close()
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"Retry-After: 11\r\n" in answer

    with caplog.at_level(logging.ERROR):
        uvloop.run(scenario())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
