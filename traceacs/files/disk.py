"""The embedded file store: files on disk under the data directory.

Layout (``root`` is ``<data dir>/files``)::

    blobs/<sha256>      the bytes, content-addressed (identical images stored once)
    meta/<name>.json    name, type, size, sha256, created

Writes are atomic: bytes go to a temporary file in ``tmp/`` (hashed and counted on the
way, fsynced), which is renamed to its blob; then the metadata is written the same way.
A reader opens the blob named by the metadata it read, so a replaced file never mixes
old and new bytes, and a crash leaves at worst an orphaned blob or temporary file
(swept by `DiskFileStore.sweep`). Blocking file calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

from traceacs.files.store import (
    FileTooLarge,
    StoredFile,
    StoredFileNotFound,
    validate_name,
)

_CHUNK = 1 << 16


class DiskFileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._meta = root / "meta"
        self._tmp = root / "tmp"
        for directory in (self._blobs, self._meta, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"DiskFileStore({str(self.root)!r})"

    # ------------------------------------------------------------------ writing

    async def put(
        self,
        name: str,
        chunks: AsyncIterable[bytes],
        *,
        file_type: str,
        now: float,
        max_size: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> StoredFile:
        validate_name(name)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        tmp_path = Path(tmp_name)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise FileTooLarge(f"more than {max_size} bytes")
                    digest.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
                await asyncio.to_thread(_flush, out)
            stored = StoredFile(name, file_type, size, digest.hexdigest(), now, content_type)
            async with self._lock:
                await asyncio.to_thread(self._commit, tmp_path, stored)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        return stored

    def _commit(self, tmp_path: Path, stored: StoredFile) -> None:
        blob = self._blobs / stored.sha256
        if blob.exists():
            tmp_path.unlink()
        else:
            os.replace(tmp_path, blob)
        previous = self._read_meta(stored.name)
        _write_atomically(
            self._meta / f"{stored.name}.json",
            json.dumps(stored.to_json(), sort_keys=True).encode(),
            self._tmp,
        )
        if previous is not None and previous.sha256 != stored.sha256:
            self._drop_blob_if_unused(previous.sha256)

    # ------------------------------------------------------------------ reading

    def _read_meta(self, name: str) -> StoredFile | None:
        try:
            data = (self._meta / f"{name}.json").read_bytes()
        except FileNotFoundError:
            return None
        return StoredFile.from_json(json.loads(data))

    async def get(self, name: str) -> StoredFile | None:
        validate_name(name)
        return await asyncio.to_thread(self._read_meta, name)

    async def list_files(self) -> list[StoredFile]:
        def scan() -> list[StoredFile]:
            found = []
            for path in sorted(self._meta.glob("*.json")):
                stored = self._read_meta(path.name.removesuffix(".json"))
                if stored is not None:
                    found.append(stored)
            return found

        return await asyncio.to_thread(scan)

    async def read(
        self, stored: StoredFile, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        stop = stored.size if end is None else min(end, stored.size)
        try:
            handle: BinaryIO = await asyncio.to_thread(open, self._blobs / stored.sha256, "rb")
        except FileNotFoundError as exc:
            raise StoredFileNotFound(stored.name) from exc
        try:
            await asyncio.to_thread(handle.seek, start)
            position = start
            while position < stop:
                chunk = await asyncio.to_thread(handle.read, min(_CHUNK, stop - position))
                if not chunk:
                    break
                position += len(chunk)
                yield chunk
        finally:
            handle.close()

    # ------------------------------------------------------------------ deleting

    async def delete(self, name: str) -> bool:
        validate_name(name)

        def remove() -> bool:
            stored = self._read_meta(name)
            if stored is None:
                return False
            (self._meta / f"{name}.json").unlink(missing_ok=True)
            self._drop_blob_if_unused(stored.sha256)
            return True

        async with self._lock:
            return await asyncio.to_thread(remove)

    def _drop_blob_if_unused(self, sha256: str) -> None:
        for path in self._meta.glob("*.json"):
            other = self._read_meta(path.name.removesuffix(".json"))
            if other is not None and other.sha256 == sha256:
                return
        (self._blobs / sha256).unlink(missing_ok=True)

    async def sweep(self) -> int:
        """Remove leftovers of interrupted writes; how many files went."""

        def clean() -> int:
            removed = 0
            for path in self._tmp.iterdir():
                path.unlink(missing_ok=True)
                removed += 1
            used = {s.sha256 for s in self._scan_meta()}
            for blob in self._blobs.iterdir():
                if blob.name not in used:
                    blob.unlink(missing_ok=True)
                    removed += 1
            return removed

        async with self._lock:
            return await asyncio.to_thread(clean)

    def _scan_meta(self) -> list[StoredFile]:
        out = []
        for path in self._meta.glob("*.json"):
            stored = self._read_meta(path.name.removesuffix(".json"))
            if stored is not None:
                out.append(stored)
        return out

    async def close(self) -> None:
        return None


def _flush(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


def _write_atomically(path: Path, data: bytes, tmp_dir: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="meta-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            _flush(out)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
