"""The on-disk file store: atomic writes, content addressing, listing, deletion."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from traceacs.files import (
    FIRMWARE_IMAGE,
    VENDOR_CONFIG,
    DiskFileStore,
    FileAccessTokens,
    FileTooLarge,
    InvalidFileName,
    chunks_of,
)


async def read_all(
    store: DiskFileStore, name: str, start: int = 0, end: int | None = None
) -> bytes:
    stored = await store.get(name)
    assert stored is not None
    return b"".join([chunk async for chunk in store.read(stored, start, end)])


async def test_put_get_list_delete(tmp_path: Path) -> None:
    store = DiskFileStore(tmp_path / "files")
    image = bytes(range(256)) * 1000
    stored = await store.put(
        "fw-2.0.bin", chunks_of(image, 4096), file_type=FIRMWARE_IMAGE, now=5.0
    )
    assert stored.size == len(image)
    assert stored.sha256 == hashlib.sha256(image).hexdigest()
    assert stored.etag == f'"{stored.sha256}"'
    assert await store.get("fw-2.0.bin") == stored
    assert await read_all(store, "fw-2.0.bin") == image
    assert await read_all(store, "fw-2.0.bin", 10, 20) == image[10:20]

    await store.put("a.cfg", chunks_of(b"cfg"), file_type=VENDOR_CONFIG, now=6.0)
    assert [f.name for f in await store.list_files()] == ["a.cfg", "fw-2.0.bin"]
    meta = json.loads((tmp_path / "files" / "meta" / "a.cfg.json").read_text())
    assert meta["type"] == VENDOR_CONFIG
    assert meta["created"] == 6.0

    assert await store.delete("fw-2.0.bin")
    assert not await store.delete("fw-2.0.bin")
    assert await store.get("fw-2.0.bin") is None
    assert not (tmp_path / "files" / "blobs" / stored.sha256).exists()


async def test_identical_content_stored_once_and_kept_while_used(tmp_path: Path) -> None:
    store = DiskFileStore(tmp_path)
    a = await store.put("a.bin", chunks_of(b"same"), file_type=FIRMWARE_IMAGE, now=1.0)
    await store.put("b.bin", chunks_of(b"same"), file_type=FIRMWARE_IMAGE, now=1.0)
    assert len(list((tmp_path / "blobs").iterdir())) == 1
    await store.delete("a.bin")
    assert await read_all(store, "b.bin") == b"same"
    assert (tmp_path / "blobs" / a.sha256).exists()


async def test_replace_keeps_old_version_readable_until_done(tmp_path: Path) -> None:
    store = DiskFileStore(tmp_path)
    old = await store.put("x.bin", chunks_of(b"old bytes"), file_type=FIRMWARE_IMAGE, now=1.0)
    new = await store.put("x.bin", chunks_of(b"new bytes!"), file_type=FIRMWARE_IMAGE, now=2.0)
    assert new.sha256 != old.sha256
    assert await read_all(store, "x.bin") == b"new bytes!"
    assert not (tmp_path / "blobs" / old.sha256).exists()


async def test_size_cap_leaves_nothing_behind(tmp_path: Path) -> None:
    store = DiskFileStore(tmp_path)
    with pytest.raises(FileTooLarge):
        await store.put(
            "big.bin", chunks_of(b"x" * 100, 10), file_type="upload", now=0, max_size=50
        )
    assert await store.get("big.bin") is None
    assert list((tmp_path / "tmp").iterdir()) == []
    assert list((tmp_path / "blobs").iterdir()) == []


async def test_sweep_removes_orphans(tmp_path: Path) -> None:
    store = DiskFileStore(tmp_path)
    await store.put("keep.bin", chunks_of(b"k"), file_type=FIRMWARE_IMAGE, now=0)
    (tmp_path / "tmp" / "upload-dead").write_bytes(b"partial")
    (tmp_path / "blobs" / ("0" * 64)).write_bytes(b"orphan")
    assert await store.sweep() == 2
    assert await read_all(store, "keep.bin") == b"k"


@pytest.mark.parametrize(
    "name",
    ["../etc/passwd", "..", "a/b", ".hidden", "a..b", "", "x" * 201, "a b", "a\x00b", "%2e%2e"],
)
async def test_unsafe_names_rejected(tmp_path: Path, name: str) -> None:
    store = DiskFileStore(tmp_path)
    with pytest.raises(InvalidFileName):
        await store.put(name, chunks_of(b"x"), file_type=FIRMWARE_IMAGE, now=0)
    with pytest.raises(InvalidFileName):
        await store.get(name)


def test_tokens_bound_to_name_scope_and_time() -> None:
    tokens = FileAccessTokens(b"k" * 32)
    token = tokens.issue("fw.bin", now=100.0, ttl=60.0)
    assert tokens.verify("fw.bin", token, now=150.0)
    assert not tokens.verify("fw.bin", token, now=161.0)
    assert not tokens.verify("other.bin", token, now=150.0)
    assert not tokens.verify("fw.bin", token, now=150.0, scope="put")
    assert not FileAccessTokens(b"j" * 32).verify("fw.bin", token, now=150.0)
    expires, _, mac = token.partition(".")
    assert not tokens.verify("fw.bin", f"{int(expires) + 1000}.{mac}", now=150.0)
    assert not tokens.verify("fw.bin", "garbage", now=150.0)
    assert "k" * 32 not in repr(tokens)
