"""The CWMP session over real HTTP: a server on 127.0.0.1, an aiohttp client as the CPE."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from tests.server.cwmp_client import (
    GPV_NAME,
    FakeClock,
    OneRpcFactory,
    decode,
    envelope,
    gpv_response,
    inform,
    running,
)
from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import serialize_envelope
from traceacs.server.cwmp_endpoint import CwmpEndpoint, EndpointSettings
from traceacs.server.cwmp_sessions import COOKIE_NAME
from traceacs.server.retry_after import RetryAfterPolicy


def new_endpoint(
    factory: OneRpcFactory, clock: FakeClock | None = None, **settings: object
) -> CwmpEndpoint:
    return CwmpEndpoint(
        factory,
        authenticator=None,
        settings=EndpointSettings(**settings),  # type: ignore[arg-type]
        clock=clock or FakeClock(),
    )


@pytest.fixture
def factory() -> OneRpcFactory:
    return OneRpcFactory()


@pytest.fixture
async def cpe() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        yield client


async def test_full_session_inform_empty_post_rpc_response_204(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    async with running(new_endpoint(factory)) as url:
        async with cpe.post(url, data=inform(cwmp_id="abc")) as resp:
            assert resp.status == 200
            assert resp.content_type == "text/xml"
            cookie = resp.cookies[COOKIE_NAME]
            assert cookie["path"] == "/"
            assert cookie["httponly"]
            assert len(cookie.value) >= 32
            answer = decode(await resp.read())
        assert answer.body == m.InformResponse(max_envelopes=1)
        assert answer.cwmp_id == "abc", "the ACS echoes the CPE's cwmp:ID"
        assert factory.journal.informs[0].device_id.serial_number == "SN0001"

        async with cpe.post(url, data=b"") as resp:
            assert resp.status == 200
            rpc = decode(await resp.read())
        assert rpc.body == m.GetParameterValues(parameter_names=(GPV_NAME,))

        async with cpe.post(url, data=gpv_response("9.9")) as resp:
            assert resp.status == 204
            assert await resp.read() == b""
            assert "Content-Type" not in resp.headers
        assert factory.journal.responses == [
            m.GetParameterValuesResponse(parameters=(m.ParameterValueStruct(GPV_NAME, "9.9"),))
        ]
        assert factory.journal.ends == ["completed"]


async def test_answers_in_the_cpes_namespace_and_any_path(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    ns = "urn:dslforum-org:cwmp-1-2"
    async with running(new_endpoint(factory)) as url:
        async with cpe.post(url + "/some/odd/path?x=1", data=inform(namespace=ns)) as resp:
            answer = decode(await resp.read())
        assert answer.namespace == ns
        async with cpe.post(url, data=b"") as resp:
            assert decode(await resp.read()).namespace == ns


async def test_cpe_request_then_unsupported_method_gets_8000(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    async with running(new_endpoint(factory)) as url:
        await (await cpe.post(url, data=inform())).read()
        # A method the ACS never implements (an ACS->CPE RPC sent by a CPE).
        async with cpe.post(url, data=envelope(m.Reboot())) as resp:
            assert resp.status == 200
            fault = decode(await resp.read()).body
        assert isinstance(fault, m.CwmpFault)
        assert fault.fault_code == 8000
        assert factory.journal.cpe_requests == [], "the handler is not asked about it"
        # The session goes on: the CPE's empty POST still gets the RPC.
        async with cpe.post(url, data=b"") as resp:
            assert isinstance(decode(await resp.read()).body, m.GetParameterValues)


async def test_unknown_rpc_element_gets_8000_and_session_goes_on(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    body = inform().replace(b"Inform", b"X_ACME_Hello")
    async with running(new_endpoint(factory)) as url:
        await (await cpe.post(url, data=inform())).read()
        async with cpe.post(url, data=body) as resp:
            assert resp.status == 200
            fault = decode(await resp.read()).body
        assert isinstance(fault, m.CwmpFault)
        assert fault.fault_code == 8000
        async with cpe.post(url, data=b"") as resp:
            assert isinstance(decode(await resp.read()).body, m.GetParameterValues)


async def test_cpe_request_is_answered_by_the_handler(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    tc = m.TransferComplete(
        command_key="k1",
        fault=m.FaultStruct(),
        start_time=datetime(2026, 1, 1, tzinfo=UTC),
        complete_time=datetime(2026, 1, 1, 0, 5, tzinfo=UTC),
    )
    async with running(new_endpoint(factory)) as url:
        await (await cpe.post(url, data=inform())).read()
        async with cpe.post(url, data=envelope(tc, cwmp_id="tc-1")) as resp:
            answer = decode(await resp.read())
        assert answer.body == m.TransferCompleteResponse()
        assert answer.cwmp_id == "tc-1"
        assert factory.journal.cpe_requests == [tc]


async def test_second_concurrent_inform_from_same_device_gets_8005(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    async with running(new_endpoint(factory)) as url:
        await (await cpe.post(url, data=inform("DUP1"))).read()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as other:
            async with other.post(url, data=inform("DUP1", cwmp_id="again")) as resp:
                assert resp.status == 200
                assert COOKIE_NAME not in resp.cookies
                answer = decode(await resp.read())
            assert isinstance(answer.body, m.CwmpFault)
            assert answer.body.fault_code == 8005
            assert answer.cwmp_id == "again"
            # Another device is not affected.
            async with other.post(url, data=inform("OTHER")) as resp:
                assert isinstance(decode(await resp.read()).body, m.InformResponse)
        assert len(factory.journal.informs) == 2
        # The first session is intact.
        async with cpe.post(url, data=b"") as resp:
            assert isinstance(decode(await resp.read()).body, m.GetParameterValues)


async def test_cpe_fault_answer_ends_with_cpe_fault(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    async with running(new_endpoint(factory)) as url:
        await (await cpe.post(url, data=inform())).read()
        await (await cpe.post(url, data=b"")).read()
        fault = m.CwmpFault(9005, "Invalid parameter name", "Client")
        async with cpe.post(url, data=envelope(fault)) as resp:
            assert resp.status == 204
        assert factory.journal.responses == [fault]
        assert factory.journal.ends == ["cpe_fault"]


async def test_device_can_start_again_after_its_session_ended(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    async with running(new_endpoint(factory)) as url:
        await (await cpe.post(url, data=inform("AGAIN"))).read()
        await (await cpe.post(url, data=b"")).read()
        assert (await cpe.post(url, data=gpv_response())).status == 204
        async with cpe.post(url, data=inform("AGAIN")) as resp:
            assert isinstance(decode(await resp.read()).body, m.InformResponse)
        assert len(set(factory.journal.session_ids)) == 2


async def test_session_timeout_ends_session_and_cookie_stops_working(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    endpoint = new_endpoint(factory, clock, session_timeout=30.0)
    async with running(endpoint, sweep_interval=3600) as url:
        await (await cpe.post(url, data=inform())).read()
        clock.advance(29.0)
        assert len(endpoint.registry) == 1
        clock.advance(2.0)
        # The next POST finds the session expired: the handler hears "timeout", and the
        # old cookie no longer reaches a session (an empty POST outside one gets 204).
        async with cpe.post(url, data=b"") as resp:
            assert resp.status == 204
        assert factory.journal.ends == ["timeout"]
        assert len(endpoint.registry) == 0


async def test_sweeper_ends_silent_sessions(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    endpoint = new_endpoint(factory, clock, session_timeout=30.0)
    async with running(endpoint, sweep_interval=0.01) as url:
        await (await cpe.post(url, data=inform())).read()
        clock.advance(31.0)
        await factory.journal.ended.wait()
        assert factory.journal.ends == ["timeout"]
        assert len(endpoint.registry) == 0


async def test_expire_sessions_spares_live_ones(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    endpoint = new_endpoint(factory, clock, session_timeout=30.0)
    async with running(endpoint, sweep_interval=3600) as url:
        await (await cpe.post(url, data=inform())).read()
        clock.advance(20.0)
        await (await cpe.post(url, data=b"")).read()  # activity resets the timer
        clock.advance(20.0)
        assert await endpoint.expire_sessions() == 0
        clock.advance(11.0)
        assert await endpoint.expire_sessions() == 1
        assert factory.journal.ends == ["timeout"]


async def test_cpe_without_cookies_keeps_its_session_on_the_same_connection(
    factory: OneRpcFactory,
) -> None:
    connector = aiohttp.TCPConnector(limit=1)
    async with (
        running(new_endpoint(factory)) as url,
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), connector=connector) as cpe,
    ):
        await (await cpe.post(url, data=inform())).read()
        async with cpe.post(url, data=b"") as resp:
            assert isinstance(decode(await resp.read()).body, m.GetParameterValues)
        assert (await cpe.post(url, data=gpv_response())).status == 204
        assert factory.journal.ends == ["completed"]


async def test_sessions_are_not_keyed_by_client_ip(factory: OneRpcFactory) -> None:
    # Two CPEs behind the same address (both 127.0.0.1), neither sending cookies.
    async with (
        running(new_endpoint(factory)) as url,
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as first,
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as second,
    ):
        await (await first.post(url, data=inform("NAT1"))).read()
        async with second.post(url, data=b"") as resp:
            assert resp.status == 204, "a new connection without cookie has no session"
        assert factory.journal.responses == []
        async with first.post(url, data=b"") as resp:
            assert isinstance(decode(await resp.read()).body, m.GetParameterValues)


async def test_cookie_alone_carries_the_session_across_connections(factory: OneRpcFactory) -> None:
    async with running(new_endpoint(factory)) as url:
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as first,
            first.post(url, data=inform()) as resp,
        ):
            cookie = resp.cookies[COOKIE_NAME].value
        # A CPE that opens a new TCP connection for each POST, separating cookies with ",".
        headers = {"Cookie": f"other=1, {COOKIE_NAME}={cookie}"}
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as second,
            second.post(url, data=b"", headers=headers) as resp,
        ):
            assert isinstance(decode(await resp.read()).body, m.GetParameterValues)


async def test_chunked_empty_post_is_the_empty_post(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    async def nothing() -> AsyncIterator[bytes]:
        if False:  # pragma: no cover
            yield b""

    async with running(new_endpoint(factory)) as url:
        await (await cpe.post(url, data=inform())).read()
        async with cpe.post(url, data=nothing(), chunked=True) as resp:
            assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
            assert isinstance(decode(await resp.read()).body, m.GetParameterValues)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compressed_request_bodies(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession, encoding: str
) -> None:
    body = gzip.compress(inform()) if encoding == "gzip" else zlib.compress(inform())
    async with (
        running(new_endpoint(factory)) as url,
        cpe.post(url, data=body, headers={"Content-Encoding": encoding}) as resp,
    ):
        assert resp.status == 200
        assert isinstance(decode(await resp.read()).body, m.InformResponse)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_corrupt_compressed_body_gets_a_clean_400(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession, encoding: str
) -> None:
    body = b"\x1f\x8b\x08" + b"not really compressed" * 20
    async with (
        running(new_endpoint(factory)) as url,
        cpe.post(url, data=body, headers={"Content-Encoding": encoding}) as resp,
    ):
        assert resp.status == 400
        assert "Traceback" not in await resp.text()
    assert factory.journal.informs == []


async def test_expect_100_continue(factory: OneRpcFactory, cpe: aiohttp.ClientSession) -> None:
    async with (
        running(new_endpoint(factory)) as url,
        cpe.post(url, data=inform(), expect100=True) as resp,
    ):
        assert resp.status == 200
        assert isinstance(decode(await resp.read()).body, m.InformResponse)


@pytest.mark.parametrize(
    "body",
    [b"<not xml", b"hello world", b"\xff\xfe\x00garbage", b"<?xml version='1.0'?><a/>"],
)
async def test_garbage_gets_a_clean_400(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession, body: bytes
) -> None:
    async with running(new_endpoint(factory)) as url:
        async with cpe.post(url, data=body) as resp:
            assert resp.status == 400
            assert "Traceback" not in await resp.text()
        assert factory.journal.informs == []


async def test_malformed_envelope_gets_a_cwmp_fault(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    # A well-formed envelope whose Inform lacks its DeviceId: a CWMP fault, not a crash.
    start = inform().index(b"<DeviceId>")
    end = inform().index(b"</DeviceId>") + len(b"</DeviceId>")
    body = inform()[:start] + inform()[end:]
    async with running(new_endpoint(factory)) as url:
        async with cpe.post(url, data=body) as resp:
            assert resp.status == 200
            fault = decode(await resp.read()).body
        assert isinstance(fault, m.CwmpFault)
        assert fault.fault_code == 8003


async def test_malformed_message_in_session_ends_it_with_a_fault(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    async with running(new_endpoint(factory)) as url:
        await (await cpe.post(url, data=inform())).read()
        await (await cpe.post(url, data=b"")).read()
        async with cpe.post(url, data=gpv_response()[:-40]) as resp:
            assert resp.status in (200, 400)
            assert "Traceback" not in await resp.text()
        assert factory.journal.ends == ["protocol_error"]


async def test_rpc_before_inform_is_refused(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    async with running(new_endpoint(factory)) as url:
        async with cpe.post(url, data=gpv_response()) as resp:
            fault = decode(await resp.read()).body
        assert isinstance(fault, m.CwmpFault)
        assert fault.fault_code == 8003
        assert factory.journal.session_ids == []


async def test_illegal_move_in_session_is_a_protocol_error(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    async with running(new_endpoint(factory)) as url:
        await (await cpe.post(url, data=inform())).read()
        # A response while no RPC is pending.
        async with cpe.post(url, data=gpv_response()) as resp:
            fault = decode(await resp.read()).body
        assert isinstance(fault, m.CwmpFault)
        assert fault.fault_code == 8003
        assert "CPE_REQUESTS" in fault.fault_string
        assert factory.journal.ends == ["protocol_error"]


async def test_overload_answers_503_with_retry_after(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    endpoint = new_endpoint(factory, max_sessions=2, retry_after_seconds=17, retry_after=None)
    async with running(endpoint) as url:
        for serial in ("A1", "A2"):
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as c:
                assert (await c.post(url, data=inform(serial))).status == 200
        async with cpe.post(url, data=inform("A3")) as resp:
            assert resp.status == 503
            assert resp.headers["Retry-After"] == "17"
        assert len(factory.journal.informs) == 2


async def test_overload_retry_after_books_refused_cpes_at_the_admission_rate(
    factory: OneRpcFactory,
) -> None:
    """The default: each refused CPE gets the next appointment of a schedule spaced at
    the rate sessions were admitted (here 2 in the current second: one every 0.5 s)."""
    policy = RetryAfterPolicy(minimum=7, maximum=60, overbook=1.0, jitter=0.0)
    endpoint = new_endpoint(factory, max_sessions=2, retry_after=policy)
    async with running(endpoint) as url:
        for serial in ("A1", "A2"):
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as c:
                assert (await c.post(url, data=inform(serial))).status == 200
        answers = []
        for serial in ("B1", "B2", "B3", "B4"):
            async with (
                aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as c,
                c.post(url, data=inform(serial)) as resp,
            ):
                answers.append((resp.status, resp.headers.get("Retry-After")))
        assert answers == [(503, "7"), (503, "8"), (503, "8"), (503, "9")]
        assert len(factory.journal.informs) == 2


async def test_body_over_the_cap_is_refused(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    endpoint = new_endpoint(factory, max_body_bytes=2000)
    async with running(endpoint) as url:
        async with cpe.post(url, data=inform() + b" " * 5000) as resp:
            assert resp.status == 413
        assert factory.journal.informs == []


async def test_gzip_bomb_is_capped(factory: OneRpcFactory, cpe: aiohttp.ClientSession) -> None:
    endpoint = new_endpoint(factory, max_body_bytes=100_000)
    bomb = gzip.compress(inform()[:-20] + b" " * 50_000_000)
    assert len(bomb) < 100_000
    async with running(endpoint) as url:
        async with cpe.post(url, data=bomb, headers={"Content-Encoding": "gzip"}) as resp:
            assert resp.status == 413
        assert factory.journal.informs == []


async def test_stopping_the_server_drops_open_sessions(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    async with running(new_endpoint(factory)) as url:
        await (await cpe.post(url, data=inform())).read()
    assert factory.journal.ends == ["dropped"]


async def test_get_is_not_allowed(factory: OneRpcFactory, cpe: aiohttp.ClientSession) -> None:
    async with running(new_endpoint(factory)) as url, cpe.get(url) as resp:
        assert resp.status == 405


async def test_cwmp_1_4_version_negotiation(
    factory: OneRpcFactory, cpe: aiohttp.ClientSession
) -> None:
    env = decode(inform())
    body = serialize_envelope(
        m.Envelope(
            body=env.body,
            cwmp_id="1",
            namespace="urn:dslforum-org:cwmp-1-2",
            supported_cwmp_versions="1.0,1.1,1.2,1.3,1.4",
        )
    )
    async with running(new_endpoint(factory)) as url, cpe.post(url, data=body) as resp:
        answer = decode(await resp.read())
    assert answer.use_cwmp_version == "1.4"
