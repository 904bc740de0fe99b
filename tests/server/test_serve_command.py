"""`traceacs serve` as a real subprocess: starts, completes a session, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.server.cwmp_client import decode, inform
from traceacs.config import default_database_url
from traceacs.cwmp import messages as m
from traceacs.provisioning.device import InventoryEntry
from traceacs.storage import open_repository

LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+/)")


async def read_until(
    stream: asyncio.StreamReader, pattern: re.Pattern[bytes]
) -> tuple[re.Match[bytes], bytes]:
    seen = b""
    while True:
        line = await asyncio.wait_for(stream.readline(), timeout=30)
        if not line:
            raise AssertionError(f"server output ended before {pattern.pattern!r}: {seen!r}")
        seen += line
        match = pattern.search(line)
        if match:
            return match, seen


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEACS_")}
    env["TRACEACS_DATA_DIR"] = str(tmp_path / "data")
    env["TRACEACS_FILES_PORT"] = "0"  # a free port: tests run beside other servers
    env.update(extra)
    return env


async def register(data_dir: Path, *serials: str) -> None:
    """Put devices in the store `serve` will open (unknown devices are refused)."""
    repo = await open_repository(default_database_url(data_dir))
    try:
        await repo.import_devices(
            [InventoryEntry(s, "00D09E", "RG", f"cust-{s}", "basic", "loc-1") for s in serials],
            time.time(),
        )
    finally:
        await repo.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    await register(tmp_path / "data", "SERVE1", "SERVE2")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "traceacs.cli", "serve",
        "--cwmp-port", "0", "--bind", "127.0.0.1", "--allow-unauthenticated-cpes",
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(tmp_path),
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        match, _ = await read_until(proc.stderr, LISTENING)
        yield proc, match.group(1).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_serve_completes_a_session_and_stops_cleanly_on_sigterm(
    server: tuple[asyncio.subprocess.Process, str],
) -> None:
    proc, url = server
    assert proc.stderr is not None
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as cpe:
        async with cpe.post(url, data=inform("SERVE1")) as resp:
            assert resp.status == 200
            assert isinstance(decode(await resp.read()).body, m.InformResponse)
        async with cpe.post(url, data=b"") as resp:
            assert resp.status == 204
    session_line, _ = await read_until(proc.stderr, re.compile(rb"cwmp session .*"))
    assert b"device=00D09E-SERVE1" in session_line.group(0)
    assert b"result=completed" in session_line.group(0)
    assert b"events=0 BOOTSTRAP,1 BOOT" in session_line.group(0)

    # A second device is mid-session when the server is told to stop.
    async with aiohttp.ClientSession() as cpe:
        assert (await cpe.post(url, data=inform("SERVE2"))).status == 200
    proc.send_signal(signal.SIGTERM)
    rest = await asyncio.wait_for(proc.stderr.read(), timeout=30)
    assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
    assert re.search(rb"device=00D09E-SERVE2 .*result=dropped", rest)
    assert b"Traceback" not in rest


async def test_sigint_also_stops_cleanly(server: tuple[asyncio.subprocess.Process, str]) -> None:
    proc, _ = server
    proc.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(proc.wait(), timeout=30) == 0


async def test_serve_refuses_to_start_when_cpes_could_not_authenticate(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "traceacs.cli", "serve", "--cwmp-port", "0",
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(tmp_path),
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2
    assert b"TRACEACS_CPE_SHARED_SECRET" in err
    assert b"--allow-unauthenticated-cpes" in err


async def test_serve_with_shared_secret_from_the_environment(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "traceacs.cli", "serve", "--cwmp-port", "0",
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(
            tmp_path, TRACEACS_CPE_SHARED_SECRET="fleet-secret", TRACEACS_CPE_AUTH="digest"
        ),
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        match, _ = await read_until(proc.stderr, LISTENING)
        url = match.group(1).decode()
        async with aiohttp.ClientSession() as cpe:
            assert (await cpe.post(url, data=inform())).status == 401
        digest = aiohttp.DigestAuthMiddleware("SN0001", "fleet-secret")
        async with aiohttp.ClientSession(middlewares=(digest,)) as cpe:
            assert (await cpe.post(url, data=inform())).status == 200
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), timeout=30)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
        assert b"fleet-secret" not in rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
