"""Simulated firmware images: the version a CPE boots into is written in the image.

A real CPE learns its new SoftwareVersion from the image it flashed, not from the ACS.
The simulator does the same: an image made by `firmware_image` starts with a one-line
header naming its version, and `image_version` reads it back from the first bytes the
CPE fetched. Images without the header (any other file) carry no version.
"""

from __future__ import annotations

from typing import Final

MAGIC: Final = b"TRACEACS-FIRMWARE "
HEAD_BYTES: Final = 256
"""How much of a fetched image the simulator keeps to read the header from."""


def firmware_image(version: str, size: int = 4096) -> bytes:
    """An image of ``size`` bytes (at least the header) that installs ``version``."""
    if not version or any(ch in version for ch in "\r\n"):
        raise ValueError("a firmware version is one non-empty line")
    header = MAGIC + version.encode() + b"\n"
    if len(header) > HEAD_BYTES:
        raise ValueError("firmware version too long for the image header")
    body = bytes((i * 31 + 7) % 251 for i in range(max(0, size - len(header))))
    return header + body


def image_version(head: bytes) -> str | None:
    """The version named by an image's header, or None when it has none."""
    if not head.startswith(MAGIC):
        return None
    line, newline, _ = head[len(MAGIC) :].partition(b"\n")
    if not newline or not line.strip():
        return None
    try:
        return line.decode().strip()
    except UnicodeDecodeError:
        return None
