"""What `traceacs serve` puts on its ports beyond CWMP: the file server (its own port) and STUN.

Built the way `traceacs.app.run` builds it (open_acs, then serve with the ACS's file
store, tokens and STUN binding table), on free ports of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from traceacs.app import serve
from traceacs.assembly import FILE_KEY, Acs, load_or_create_secret, open_acs
from traceacs.config import Settings
from traceacs.files import chunks_of
from traceacs.server import stun_codec as sc
from traceacs.server.file_server import FileServer, file_url


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Running:
    acs: Acs
    url: str
    files_url: str


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    settings = Settings(
        cwmp_port=0,
        api_port=0,
        files_port=0,
        data_dir=tmp_path,
        allow_unauthenticated_cpes=True,
        stun_port=free_udp_port(),
    )
    env = {"OTEL_SDK_DISABLED": "true"}
    async with open_acs(settings, environ=env, sweep_interval=None) as acs:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[list[str]] = loop.create_future()
        files_ready: asyncio.Future[list[str]] = loop.create_future()
        task = asyncio.create_task(
            serve(
                settings,
                acs.factory,
                stop=stop,
                on_ready=ready.set_result,
                file_server=FileServer(acs.files, acs.file_tokens),
                on_files_ready=files_ready.set_result,
                stun_bindings=acs.stun_bindings,
            )
        )
        try:
            yield Running(acs, (await ready)[0], (await files_ready)[0])
        finally:
            stop.set()
            await task


async def test_files_of_the_store_are_served_on_their_own_port(running: Running) -> None:
    image = os.urandom(4096)
    await running.acs.files.put(
        "fw-2.0.bin", chunks_of(image), file_type="1 Firmware Upgrade Image", now=time.time()
    )
    assert running.files_url != running.url
    url = file_url(running.files_url, "fw-2.0.bin", running.acs.file_tokens, now=time.time())
    cwmp_port_url = file_url(running.url, "fw-2.0.bin", running.acs.file_tokens, now=time.time())
    async with aiohttp.ClientSession() as http:
        async with http.get(cwmp_port_url) as resp:
            assert resp.status == 405  # the CWMP port only takes POSTs
            assert resp.headers["Allow"] == "POST"
        async with http.get(url) as resp:
            assert resp.status == 200
            assert await resp.read() == image
        async with http.get(url.split("?")[0]) as resp:
            assert resp.status == 403  # no token, no file


async def test_stun_listener_learns_a_cpe_binding(running: Running) -> None:
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[bytes] = loop.create_future()

    class Cpe(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
            if not answered.done():
                answered.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Cpe, local_addr=("127.0.0.1", 0))
    try:
        request = sc.StunMessage(
            sc.BINDING_REQUEST,
            os.urandom(12),
            (
                (sc.USERNAME, b"cpe-0042"),
                (sc.CONNECTION_REQUEST_BINDING, sc.TR111_BINDING_VALUE),
            ),
        )
        port = running.acs.settings.stun_port
        transport.sendto(sc.serialize_message(request), ("127.0.0.1", port))
        reply = sc.parse_message(await asyncio.wait_for(answered, timeout=10))
    finally:
        local = transport.get_extra_info("sockname")
        transport.close()
    assert reply.message_type == sc.BINDING_SUCCESS
    binding = running.acs.stun_bindings.get("cpe-0042")
    assert binding is not None
    assert binding.port == local[1]


def test_file_token_secret_is_created_once_and_private(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path / FILE_KEY)
    assert load_or_create_secret(tmp_path / FILE_KEY) == first
    assert (tmp_path / FILE_KEY).stat().st_mode & 0o077 == 0


def test_a_worker_losing_the_race_for_the_file_secret_uses_the_winners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --workers N` on a fresh data directory: every worker finds no secret and
    creates one at the same moment. They must end with the same secret (a Download URL
    issued by one worker is fetched, through the balancer, from another), and none may
    fail to start. Here the other worker's secret appears between our read and our
    write."""
    path = tmp_path / FILE_KEY
    winner = b"w" * 32
    read_bytes = Path.read_bytes
    missed: list[Path] = []

    def first_read_misses(self: Path) -> bytes:
        if self == path and not missed:
            missed.append(self)
            path.write_bytes(winner)  # the other worker, just now
            raise FileNotFoundError(self)
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", first_read_misses)
    assert load_or_create_secret(path) == winner
    assert missed
    assert [p.name for p in tmp_path.iterdir()] == [FILE_KEY]  # no temporary left over
