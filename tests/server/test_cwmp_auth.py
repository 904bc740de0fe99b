"""CPE authentication: the authenticator alone, then Basic and Digest over real HTTP."""

from __future__ import annotations

import base64
import logging

import aiohttp
import pytest

from tests.server.cwmp_client import FakeClock, OneRpcFactory, decode, inform, running
from traceacs.cwmp import messages as m
from traceacs.server.cpe_auth import AuthMode, CpeAuthenticator, StaticCredentialStore
from traceacs.server.cwmp_endpoint import CwmpEndpoint
from traceacs.server.digest import parse_auth_params

STORE = StaticCredentialStore(per_device={"cpe1": "s3cret"}, shared_secret="fleet-secret")
NOW = 1_800_000_000.0


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_static_store_per_device_then_shared_secret() -> None:
    assert await STORE.lookup("cpe1") == "s3cret"
    assert await STORE.lookup("SN42") == "fleet-secret"
    assert await StaticCredentialStore(per_device={"a": "b"}).lookup("other") is None
    assert await STORE.lookup("") is None
    assert "s3cret" not in repr(STORE)
    assert "fleet-secret" not in repr(STORE)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (basic("cpe1", "s3cret"), True),
        (basic("SN42", "fleet-secret"), True),
        (basic("cpe1", "fleet-secret"), False),
        (basic("cpe1", "wrong"), False),
        ("Basic !!!notbase64", False),
        ("Basic " + base64.b64encode(b"no-colon").decode(), False),
        ("Bearer abc", False),
        ("", False),
    ],
)
async def test_basic(header: str, accepted: bool) -> None:
    auth = CpeAuthenticator(STORE, mode="both")
    outcome = await auth.authenticate(header, method="POST", request_uri="/", now=NOW)
    assert outcome.accepted is accepted
    if not accepted:
        assert outcome.challenges[0].startswith("Digest ")
        assert outcome.challenges[1].startswith("Basic ")
        assert "s3cret" not in outcome.failure


@pytest.mark.parametrize(
    ("mode", "schemes"),
    [("basic", ["Basic"]), ("digest", ["Digest"]), ("both", ["Digest", "Basic"])],
)
async def test_mode_decides_challenges_and_accepted_schemes(
    mode: AuthMode, schemes: list[str]
) -> None:
    auth = CpeAuthenticator(STORE, mode=mode)
    outcome = await auth.authenticate(None, method="POST", request_uri="/", now=NOW)
    assert [c.split(" ")[0] for c in outcome.challenges] == schemes
    good_basic = await auth.authenticate(
        basic("cpe1", "s3cret"), method="POST", request_uri="/", now=NOW
    )
    assert good_basic.accepted is ("Basic" in schemes)


def endpoint(factory: OneRpcFactory, mode: AuthMode = "both") -> CwmpEndpoint:
    return CwmpEndpoint(
        factory, authenticator=CpeAuthenticator(STORE, mode=mode), clock=FakeClock(NOW)
    )


async def test_missing_auth_gets_401_with_challenges() -> None:
    factory = OneRpcFactory()
    async with running(endpoint(factory)) as url, aiohttp.ClientSession() as cpe:
        async with cpe.post(url, data=inform()) as resp:
            assert resp.status == 401
            challenges = resp.headers.getall("WWW-Authenticate")
        assert challenges[0].startswith("Digest ")
        digest = parse_auth_params(challenges[0].partition(" ")[2])
        assert digest["qop"] == "auth"
        assert digest["realm"] == "TraceACS"
        assert challenges[1].startswith("Basic ")
        assert factory.journal.informs == []


async def test_basic_accepted_and_whole_session_runs() -> None:
    factory = OneRpcFactory()
    async with (
        running(endpoint(factory)) as url,
        aiohttp.ClientSession(
            headers={"Authorization": basic("cpe1", "s3cret")},
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        ) as cpe,
    ):
        # a per-device credential speaks only for its own device (serial "cpe1")
        async with cpe.post(url, data=inform("cpe1")) as resp:
            assert resp.status == 200
            assert isinstance(decode(await resp.read()).body, m.InformResponse)
        async with cpe.post(url, data=b"") as resp:
            assert isinstance(decode(await resp.read()).body, m.GetParameterValues)


async def test_basic_wrong_password_rejected(caplog: pytest.LogCaptureFixture) -> None:
    factory = OneRpcFactory()
    caplog.set_level(logging.DEBUG)
    async with (
        running(endpoint(factory)) as url,
        aiohttp.ClientSession(headers={"Authorization": basic("cpe1", "hunter2")}) as cpe,
        cpe.post(url, data=inform()) as resp,
    ):
        assert resp.status == 401
    assert factory.journal.informs == []
    assert "hunter2" not in caplog.text
    assert "s3cret" not in caplog.text


async def test_basic_refused_when_only_digest_is_configured() -> None:
    factory = OneRpcFactory()
    async with (
        running(endpoint(factory, mode="digest")) as url,
        aiohttp.ClientSession(headers={"Authorization": basic("cpe1", "s3cret")}) as cpe,
        cpe.post(url, data=inform()) as resp,
    ):
        assert resp.status == 401
        assert resp.headers.getall("WWW-Authenticate")[0].startswith("Digest ")


async def test_digest_accepted_with_an_independent_client_implementation() -> None:
    factory = OneRpcFactory()
    digest = aiohttp.DigestAuthMiddleware("cpe1", "s3cret")
    async with (
        running(endpoint(factory, mode="digest")) as url,
        aiohttp.ClientSession(
            middlewares=(digest,), cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as cpe,
    ):
        async with cpe.post(url, data=inform("cpe1")) as resp:
            assert resp.status == 200
            assert isinstance(decode(await resp.read()).body, m.InformResponse)
        async with cpe.post(url, data=b"") as resp:
            assert isinstance(decode(await resp.read()).body, m.GetParameterValues)
    assert len(factory.journal.informs) == 1


async def test_digest_with_shared_secret_and_serial_as_username() -> None:
    factory = OneRpcFactory()
    digest = aiohttp.DigestAuthMiddleware("SN0001", "fleet-secret")
    async with (
        running(endpoint(factory)) as url,
        aiohttp.ClientSession(middlewares=(digest,)) as cpe,
        cpe.post(url, data=inform()) as resp,
    ):
        assert resp.status == 200


async def test_digest_wrong_password_rejected() -> None:
    factory = OneRpcFactory()
    digest = aiohttp.DigestAuthMiddleware("cpe1", "wrong")
    async with (
        running(endpoint(factory, mode="digest")) as url,
        aiohttp.ClientSession(middlewares=(digest,)) as cpe,
        cpe.post(url, data=inform()) as resp,
    ):
        assert resp.status == 401
    assert factory.journal.informs == []


async def test_no_authenticator_means_open_endpoint() -> None:
    factory = OneRpcFactory()
    open_endpoint = CwmpEndpoint(factory, authenticator=None, clock=FakeClock(NOW))
    async with (
        running(open_endpoint) as url,
        aiohttp.ClientSession() as cpe,
        cpe.post(url, data=inform()) as resp,
    ):
        assert resp.status == 200
