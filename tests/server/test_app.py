"""`traceacs.app` wiring: serve() in-process, with and without TLS; logging hygiene."""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.server.cwmp_client import decode, inform
from traceacs.app import ConfigurationError, build_authenticator, serve
from traceacs.config import Settings
from traceacs.cwmp import messages as m
from traceacs.provisioning.session_handler import SessionHandler
from traceacs.server.cwmp_sessions import COOKIE_NAME


@asynccontextmanager
async def serving(settings: Settings, factory: object = None) -> AsyncIterator[str]:
    stop = asyncio.Event()
    ready: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(settings, factory, stop=stop, on_ready=ready.set_result)  # type: ignore[arg-type]
    )
    try:
        urls = await asyncio.wait_for(asyncio.shield(ready), timeout=30)
        yield urls[0]
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def test_auth_required_by_default_and_needs_credentials() -> None:
    with pytest.raises(ConfigurationError, match="TRACEACS_CPE_SHARED_SECRET"):
        build_authenticator(Settings())
    assert build_authenticator(Settings(allow_unauthenticated_cpes=True)) is None
    authenticator = build_authenticator(Settings(cpe_shared_secret="x", cpe_auth="digest"))
    assert authenticator is not None
    assert authenticator.mode == "digest"


async def test_serve_logs_one_line_per_session_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    settings = Settings(cwmp_port=0, cpe_shared_secret="fleet-secret")
    headers = {"Authorization": aiohttp.encode_basic_auth("SN0001", "fleet-secret")}
    async with (
        serving(settings) as url,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers) as cpe,
    ):
        async with cpe.post(url, data=inform()) as resp:
            cookie = resp.cookies[COOKIE_NAME].value
            assert isinstance(decode(await resp.read()).body, m.InformResponse)
        async with cpe.post(url, data=b"") as resp:
            assert resp.status == 204
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cwmp session")]
    assert len(lines) == 1
    assert "device=00D09E-SN0001" in lines[0]
    assert "events=0 BOOTSTRAP,1 BOOT" in lines[0]
    assert "result=completed" in lines[0]
    assert "duration_ms=" in lines[0]
    assert cookie not in caplog.text
    assert "fleet-secret" not in caplog.text


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_endpoint_with_secure_cookie(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    settings = Settings(cwmp_port=0, tls_cert=cert, tls_key=key, allow_unauthenticated_cpes=True)
    client_tls = ssl.create_default_context(cafile=str(cert))
    async with serving(settings) as url:
        assert url.startswith("https://127.0.0.1:")
        async with (
            aiohttp.ClientSession() as cpe,
            cpe.post(url, data=inform(), ssl=client_tls) as resp,
        ):
            assert resp.status == 200
            assert resp.cookies[COOKIE_NAME]["secure"]
            assert isinstance(decode(await resp.read()).body, m.InformResponse)
        # Plain HTTP on the TLS port does not get a CWMP answer.
        async with aiohttp.ClientSession() as cpe:
            with pytest.raises(aiohttp.ClientError):
                await cpe.post(url.replace("https", "http"), data=inform())


class ExplodingFactory:
    def __init__(self, explode_in: str) -> None:
        self.explode_in = explode_in
        self.ends: list[str] = []

    def new_session(self, session_id: str) -> SessionHandler:
        factory = self

        def maybe(name: str) -> None:
            if factory.explode_in == name:
                raise RuntimeError("secret-wifi-key leaked into an exception")

        class Handler:
            async def on_inform(self, inform: m.Inform, now: float) -> m.InformResponse:
                maybe("on_inform")
                return m.InformResponse()

            async def on_cpe_request(self, request: m.Message, now: float) -> m.Message:
                raise AssertionError

            async def next_acs_request(self, now: float) -> m.Message | None:
                maybe("next_acs_request")
                return None

            async def on_cpe_response(self, response: m.Message, now: float) -> None:
                raise AssertionError

            async def on_session_end(self, reason: str, now: float) -> None:
                factory.ends.append(reason)

        return Handler()


@pytest.mark.parametrize("where", ["on_inform", "next_acs_request"])
async def test_handler_failure_is_a_clean_8002_fault(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    factory = ExplodingFactory(where)
    settings = Settings(cwmp_port=0, allow_unauthenticated_cpes=True)
    send: Callable[[], bytes] = inform
    async with (
        serving(settings, factory) as url,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as cpe,
    ):
        async with cpe.post(url, data=send()) as resp:
            body = await resp.read()
        if where == "next_acs_request":
            async with cpe.post(url, data=b"") as resp:
                body = await resp.read()
        assert resp.status == 200
        fault = decode(body).body
    assert isinstance(fault, m.CwmpFault)
    assert fault.fault_code == 8002
    assert factory.ends == ["dropped"]
    assert "secret-wifi-key" not in caplog.text
