"""Where the key ring of `SecretBox` comes from: the environment, or a 0600 key file.

``TRACEACS_SECRET_KEY`` (base64 of 32 bytes; several comma-separated, the first seals
and the others only open) wins; that is the way for several ACS processes sharing a
PostgreSQL store, which must all hold the same key. Otherwise the key lives in
``<data dir>/secret.key`` (one base64 key per line, the first current), created on
first use with mode 0600 in a 0700 directory; a key file other users can read is
refused rather than used. Losing the key loses the sealed secrets: back it up apart
from the database (a backup holding both protects nothing).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Final

from traceacs.storage.secret_box import (
    SecretBox,
    SecretKeyError,
    decode_key,
    encode_key,
    new_key,
)

KEY_FILE: Final = "secret.key"


def key_file_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_secret_box(data_dir: Path, key_text: str | None = None) -> SecretBox:
    """The key ring from ``key_text`` (the variable) or the data directory's key file
    (created when missing: what `serve` and the commands that write do)."""
    if key_text:
        keys = [decode_key(part) for part in key_text.split(",") if part.strip()]
    else:
        keys = read_or_create_key_file(key_file_path(data_dir))
    if not keys:
        raise SecretKeyError("no secret key given")
    return SecretBox(keys[0], keys[1:])


def existing_secret_box(data_dir: Path, key_text: str | None = None) -> SecretBox | None:
    """Like `load_secret_box`, but None instead of creating a key file (read-only
    commands: a mistyped ``--data-dir`` must not leave a new key behind)."""
    if not key_text and not key_file_path(data_dir).exists():
        return None
    return load_secret_box(data_dir, key_text)


def read_or_create_key_file(path: Path) -> list[bytes]:
    """The keys of ``path``, creating it (0600, one new key) when it does not exist."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        write_key_file(path, [new_key()], exclusive=True)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"{path} may be read by other users (mode {stat.S_IMODE(mode):o}): "
            f"run `chmod 600 {path}`"
        )
    keys = [decode_key(line) for line in path.read_text().splitlines() if line.strip()]
    if not keys:
        raise SecretKeyError(f"{path} holds no key")
    return keys


def write_key_file(path: Path, keys: list[bytes], *, exclusive: bool = False) -> None:
    """Write ``keys`` (first = current) to ``path`` with mode 0600, atomically.

    Written to a temporary file beside it first, so a reader never sees half a file
    and a crash leaves the old file or the new one. ``exclusive``: fail with
    FileExistsError rather than replace (first creation: two processes starting
    together agree on one key).
    """
    text = "".join(encode_key(k) + "\n" for k in keys).encode()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if exclusive:
            os.link(temporary, path)
        else:
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
