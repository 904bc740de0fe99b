"""Finding and opening the store exactly as ``traceacs serve`` does.

The URL comes from ``--database-url`` / ``TRACEACS_DATABASE_URL``, else a SQLite file
under ``--data-dir`` / ``TRACEACS_DATA_DIR`` (same precedence as `traceacs.config`).
Only the two store settings are read, so an unrelated bad server variable (say
``TRACEACS_CWMP_PORT=abc``) does not stop an operator from listing devices.

Commands that only read refuse to create a new, empty SQLite file: a mistyped
``--data-dir`` should say "no store here", not silently show zero devices.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from traceacs.commands.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STORE_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    error,
)
from traceacs.config import DEFAULT_DATA_DIR, default_database_url
from traceacs.provisioning.repository import RepositoryError, SchemaTooNew, StorageUnavailable
from traceacs.storage.repository import SqlDeviceRepository
from traceacs.storage.secret_box import SecretBox

StoreWork = Callable[[SqlDeviceRepository], Awaitable[int]]


def _option(args: argparse.Namespace, name: str, env: Mapping[str, str]) -> str | None:
    value = getattr(args, name, None)
    if value is not None:
        return str(value)
    raw = env.get(f"TRACEACS_{name.upper()}")
    return raw or None


def resolve_database_url(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> str:
    """The store URL for these options: the same answer `load_settings` would give."""
    env = os.environ if env is None else env
    url = _option(args, "database_url", env)
    if url:
        return url
    return default_database_url(Path(_option(args, "data_dir", env) or DEFAULT_DATA_DIR))


def _check_exists(url: str) -> None:
    from traceacs.storage.url import parse_location

    try:
        location = parse_location(url)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    is_file = location.engine == "sqlite" and location.target != ":memory:"
    if is_file and not Path(location.target).is_file():
        raise CommandError(
            f"no TraceACS store at {location.target} (give --data-dir or "
            "--database-url, or create one with `traceacs db migrate`)",
            EXIT_STORE_UNAVAILABLE,
        )


def resolve_data_dir(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(_option(args, "data_dir", env) or DEFAULT_DATA_DIR)


def resolve_secret_box(args: argparse.Namespace, *, create: bool) -> SecretBox | None:
    """The key ring `serve` would use (``TRACEACS_SECRET_KEY``, else the data dir's
    ``secret.key``); a command that only reads does not create a key file."""
    from traceacs.storage.secret_key import existing_secret_box, load_secret_box

    key_text = os.environ.get("TRACEACS_SECRET_KEY") or None
    data_dir = resolve_data_dir(args)
    return (
        load_secret_box(data_dir, key_text) if create else existing_secret_box(data_dir, key_text)
    )


async def _open_and_run(
    url: str,
    work: StoreWork,
    migrate: bool,
    secrets: Callable[[], SecretBox | None] = lambda: None,
) -> int:
    from traceacs.storage import open_repository

    try:
        repository = await open_repository(url, pool_max_size=2, migrate=migrate)
    except ValueError as exc:  # unsupported URL scheme
        raise CommandError(str(exc), EXIT_USAGE) from None
    try:
        # The key ring only once the store opened: a bad URL leaves no key file behind.
        repository.secrets = secrets()
        return await work(repository)
    finally:
        await repository.close()


def run_with_store(
    args: argparse.Namespace,
    prog: str,
    work: StoreWork,
    *,
    create: bool = False,
    migrate: bool = True,
    keyed: bool = False,
) -> int:
    """Open the store, run ``work`` on it, close it; map failures to exit codes.

    ``create`` lets the command make a new SQLite store (imports, ``db migrate``);
    ``migrate=False`` leaves the schema to ``work`` (``db migrate`` reports what it did);
    ``keyed`` makes sure a key ring exists (creating the key file) even for a read.
    Messages never carry credentials: the storage layer scrubs them, and the URL is
    only ever shown redacted.
    """
    url = resolve_database_url(args)
    try:
        if not create:
            _check_exists(url)

        def secrets() -> SecretBox | None:
            return resolve_secret_box(args, create=create or keyed)

        return asyncio.run(_open_and_run(url, work, migrate, secrets))
    except CommandError as exc:
        error(prog, exc.message)
        return exc.code
    except StorageUnavailable as exc:
        error(prog, f"cannot reach the database: {exc}")
        return EXIT_STORE_UNAVAILABLE
    except SchemaTooNew as exc:
        error(prog, str(exc))
        return EXIT_STORE_UNAVAILABLE
    except RepositoryError as exc:
        error(prog, str(exc))
        return EXIT_FAILED
    except BrokenPipeError:
        # ``traceacs devices list --json | head``: the reader left; that is not an error.
        _silence_stdout()
        return EXIT_OK


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (captured output)
        pass
