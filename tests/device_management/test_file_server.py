"""The file server on a real 127.0.0.1 listener: tokens, Digest, ETag, Range, uploads."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from traceacs.files import FIRMWARE_IMAGE, UPLOAD, DiskFileStore, FileAccessTokens, chunks_of
from traceacs.server.cpe_auth import CpeAuthenticator, StaticCredentialStore
from traceacs.server.digest_client import authorization_for, choose_challenge, parse_challenges
from traceacs.server.file_server import FileServer, file_url, make_file_application, parse_range

IMAGE = bytes(range(256)) * 400  # 102,400 bytes
CPE_USER, CPE_PASSWORD = "SN1", "cpe-pass"


@dataclass
class Served:
    base: str
    store: DiskFileStore
    tokens: FileAccessTokens
    client: aiohttp.ClientSession
    now: list[float]

    def url(self, name: str, *, ttl: float = 60.0, scope: str = "get") -> str:
        return file_url(self.base, name, self.tokens, now=self.now[0], ttl=ttl, scope=scope)  # type: ignore[arg-type]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    store = DiskFileStore(tmp_path / "files")
    await store.put("fw-2.0.bin", chunks_of(IMAGE), file_type=FIRMWARE_IMAGE, now=0.0)
    tokens = FileAccessTokens(b"s" * 32)
    now = [1000.0]
    auth = CpeAuthenticator(
        StaticCredentialStore(per_device={CPE_USER: CPE_PASSWORD}), mode="digest"
    )
    server = FileServer(store, tokens, authenticator=auth, max_upload=4096, clock=lambda: now[0])
    runner = web.AppRunner(make_file_application(server), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as client:
        yield Served(f"http://{host}:{port}", store, tokens, client, now)
    await runner.cleanup()


async def test_full_download_with_etag(served: Served) -> None:
    async with served.client.get(served.url("fw-2.0.bin")) as r:
        body = await r.read()
        assert r.status == 200
        assert r.headers["ETag"] == f'"{hashlib.sha256(IMAGE).hexdigest()}"'
        assert r.headers["Accept-Ranges"] == "bytes"
        assert int(r.headers["Content-Length"]) == len(IMAGE)
    assert body == IMAGE


async def test_head_has_headers_no_body(served: Served) -> None:
    async with served.client.head(served.url("fw-2.0.bin")) as r:
        assert r.status == 200
        assert int(r.headers["Content-Length"]) == len(IMAGE)
        assert await r.read() == b""


async def test_conditional_get_304(served: Served) -> None:
    etag = f'"{hashlib.sha256(IMAGE).hexdigest()}"'
    url = served.url("fw-2.0.bin")
    async with served.client.get(url, headers={"If-None-Match": f'"x", W/{etag}'}) as r:
        assert r.status == 304
        assert await r.read() == b""
    async with served.client.get(url, headers={"If-None-Match": '"other"'}) as r:
        assert r.status == 200


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=100000-", 100000, len(IMAGE)),
        ("bytes=-10", len(IMAGE) - 10, len(IMAGE)),
        ("bytes=5-999999", 5, len(IMAGE)),
    ],
)
async def test_range_206(served: Served, header: str, start: int, end: int) -> None:
    async with served.client.get(served.url("fw-2.0.bin"), headers={"Range": header}) as r:
        assert r.status == 206
        assert r.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(IMAGE)}"
        assert await r.read() == IMAGE[start:end]


async def test_range_unsatisfiable_416(served: Served) -> None:
    async with served.client.get(
        served.url("fw-2.0.bin"), headers={"Range": f"bytes={len(IMAGE)}-"}
    ) as r:
        assert r.status == 416
        assert r.headers["Content-Range"] == f"bytes */{len(IMAGE)}"


async def test_if_range_mismatch_serves_whole_file(served: Served) -> None:
    headers = {"Range": "bytes=0-9", "If-Range": '"stale-etag"'}
    async with served.client.get(served.url("fw-2.0.bin"), headers=headers) as r:
        assert r.status == 200
        assert len(await r.read()) == len(IMAGE)


def test_parse_range_edge_cases() -> None:
    assert parse_range("bytes=0-0", 10) == (0, 1)
    assert parse_range("bytes=0-1,5-6", 10) is None  # several ranges: whole file
    assert parse_range("bytes=9-3", 10) is None
    assert parse_range("items=0-1", 10) is None
    assert parse_range("bytes=-0", 10) == "unsatisfiable"
    assert parse_range("bytes=0-", 0) == "unsatisfiable"


async def test_expired_token_forbidden(served: Served) -> None:
    url = served.url("fw-2.0.bin", ttl=30.0)
    served.now[0] += 31.0
    async with served.client.get(url) as r:
        assert r.status == 403


async def test_forged_or_moved_token_forbidden(served: Served) -> None:
    good = served.url("fw-2.0.bin")
    token = good.rsplit("token=", 1)[1]
    expires, _, mac = token.partition(".")
    forged = good.replace(token, f"{int(expires) + 10_000}.{mac}")
    await served.store.put("other.bin", chunks_of(b"o"), file_type=FIRMWARE_IMAGE, now=0.0)
    moved = good.replace("fw-2.0.bin", "other.bin")
    upload_token_for_get = served.url("fw-2.0.bin", scope="put")
    for url in (forged, moved, upload_token_for_get):
        async with served.client.get(url) as r:
            assert r.status == 403, url


async def test_no_credentials_gets_digest_challenge_then_digest_works(served: Served) -> None:
    url = f"{served.base}/files/fw-2.0.bin"
    async with served.client.get(url) as r:
        assert r.status == 401
        challenges = r.headers.getall("WWW-Authenticate")
    challenge = choose_challenge(parse_challenges(challenges), allow_basic=False)
    header = authorization_for(
        challenge, method="GET", uri="/files/fw-2.0.bin", username=CPE_USER, password=CPE_PASSWORD
    )
    async with served.client.get(url, headers={"Authorization": header}) as r:
        assert r.status == 200
        assert await r.read() == IMAGE
    wrong = authorization_for(
        challenge, method="GET", uri="/files/fw-2.0.bin", username=CPE_USER, password="nope", nc=2
    )
    async with served.client.get(url, headers={"Authorization": wrong}) as r:
        assert r.status == 401


async def test_missing_file_404(served: Served) -> None:
    async with served.client.get(served.url("nope.bin")) as r:
        assert r.status == 404


async def test_upload_stored_and_listed(served: Served) -> None:
    backup = b"<config>backup</config>"
    url = served.url("backup-SN1.xml", scope="put")
    async with served.client.put(url, data=backup, headers={"Content-Type": "text/xml"}) as r:
        assert r.status == 201
        assert r.headers["ETag"] == f'"{hashlib.sha256(backup).hexdigest()}"'
    stored = await served.store.get("backup-SN1.xml")
    assert stored is not None
    assert stored.file_type == UPLOAD
    assert stored.content_type == "text/xml"
    assert "backup-SN1.xml" in [f.name for f in await served.store.list_files()]
    async with served.client.get(served.url("backup-SN1.xml")) as r:
        assert await r.read() == backup


async def test_multipart_post_upload(served: Served) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b"log lines", filename="log.txt", content_type="text/plain")
    async with served.client.post(served.url("log-SN1.txt", scope="put"), data=form) as r:
        assert r.status == 201
    stored = await served.store.get("log-SN1.txt")
    assert stored is not None
    assert stored.size == len(b"log lines")


async def test_upload_needs_put_token_and_size_cap(served: Served) -> None:
    async with served.client.put(served.url("x.cfg", scope="get"), data=b"x") as r:
        assert r.status == 403
    async with served.client.put(served.url("x.cfg", scope="put"), data=b"x" * 5000) as r:
        assert r.status == 413

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: cap while streaming
        for _ in range(10):
            yield b"y" * 1000

    async with served.client.put(served.url("y.cfg", scope="put"), data=stream()) as r:
        assert r.status == 413
    assert await served.store.get("x.cfg") is None
    assert await served.store.get("y.cfg") is None


async def test_upload_cannot_overwrite_firmware(served: Served) -> None:
    async with served.client.put(served.url("fw-2.0.bin", scope="put"), data=b"evil") as r:
        assert r.status == 409
    stored = await served.store.get("fw-2.0.bin")
    assert stored is not None
    assert stored.size == len(IMAGE)


@pytest.mark.parametrize(
    "raw_path",
    [
        "/files/..%2F..%2Fetc%2Fpasswd",
        "/files/%2e%2e",
        "/files/..",
        "/files/../files/fw-2.0.bin",
        "/files/.hidden",
        "/files/a%00b",
    ],
)
async def test_path_traversal_rejected(served: Served, raw_path: str) -> None:
    # Sent byte for byte on a raw socket: clients would normalise the dots away.
    host, port = served.base.removeprefix("http://").split(":")
    token = served.tokens.issue("..", now=served.now[0])
    request = f"GET {raw_path}?token={token} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request.encode())
        status_line = (await asyncio.wait_for(reader.readline(), timeout=5)).decode()
    finally:
        writer.close()
        await writer.wait_closed()
    status = int(status_line.split(" ")[1])
    assert status in (400, 403, 404)


async def test_encoded_traversal_via_client(served: Served) -> None:
    url = URL(f"{served.base}/files/..%2Fmeta%2Ffw-2.0.bin.json", encoded=True)
    async with served.client.get(url) as r:
        assert r.status == 404
