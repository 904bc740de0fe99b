"""The file store's contract: firmware images, config files and CPE uploads.

A file is addressed by a *name* chosen by the operator (or by the ACS for an upload):
letters, digits, ``.``, ``_`` and ``-`` only, so a name can never be a path. Its
metadata travels as a `StoredFile`; its bytes are read in ranges so that HTTP Range
requests and large images are served without loading them in memory.

`FileStore` is the plug-in point: `traceacs.files.disk.DiskFileStore` is the embedded
one; an object-store or PostgreSQL variant implements the same six methods.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

FIRMWARE_IMAGE: Final = "1 Firmware Upgrade Image"
WEB_CONTENT: Final = "2 Web Content"
VENDOR_CONFIG: Final = "3 Vendor Configuration File"
UPLOAD: Final = "upload"
"""Files a CPE sent with an Upload RPC (config backups, logs)."""

MAX_NAME_LENGTH: Final = 200
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


class FileStoreError(Exception):
    """Base of the file store's errors."""


class InvalidFileName(FileStoreError, ValueError):
    """A name that could escape the store or is otherwise unusable."""


class FileTooLarge(FileStoreError):
    """More bytes than the caller's cap."""


class StoredFileNotFound(FileStoreError, KeyError):
    pass


def validate_name(name: str) -> str:
    """``name`` if it is a safe file name; `InvalidFileName` otherwise."""
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name) or ".." in name:
        raise InvalidFileName("file names use letters, digits, '.', '_' and '-' only")
    return name


@dataclass(frozen=True, slots=True)
class StoredFile:
    """Metadata of one stored file; ``sha256`` (hex) doubles as the HTTP ETag."""

    name: str
    file_type: str
    size: int
    sha256: str
    created: float
    content_type: str = "application/octet-stream"

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.file_type,
            "size": self.size,
            "sha256": self.sha256,
            "created": self.created,
            "content_type": self.content_type,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredFile:
        return cls(
            name=str(data["name"]),
            file_type=str(data["type"]),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
            created=float(data["created"]),
            content_type=str(data.get("content_type", "application/octet-stream")),
        )


class FileStore(Protocol):
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
        """Store (or atomically replace) ``name``; `FileTooLarge` past ``max_size``."""
        ...

    async def get(self, name: str) -> StoredFile | None: ...

    async def list_files(self) -> list[StoredFile]:
        """All files, by name."""
        ...

    async def delete(self, name: str) -> bool:
        """Whether there was such a file."""
        ...

    def read(
        self, stored: StoredFile, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive) of exactly the version ``stored``."""
        ...

    async def close(self) -> None: ...


async def chunks_of(data: bytes, size: int = 1 << 16) -> AsyncIterator[bytes]:
    """``data`` as an async iterable of chunks (for `FileStore.put`)."""
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]
