"""``traceacs files put|list|delete``: the ACS's file store, for operators.

Firmware images and configuration files live under ``<data dir>/files`` (the directory
``traceacs serve`` uses; with PostgreSQL too). An image stored here is what a service
profile's ``firmware`` target names; CPEs fetch it over HTTP from the ACS with a
per-file token, so nothing here needs a URL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from traceacs.commands.output import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    error,
    format_time,
    print_json,
    print_table,
)
from traceacs.commands.parsing import Commands, group_parser, leaf_parser
from traceacs.config import DEFAULT_DATA_DIR

FILE_TYPES: Final = {
    "firmware": "1 Firmware Upgrade Image",
    "web": "2 Web Content",
    "config": "3 Vendor Configuration File",
}
_CHUNK = 1 << 16


def add_files_command(commands: Commands) -> None:
    """Declare ``traceacs files ...``."""
    group = group_parser(
        commands,
        "files",
        "the file store: firmware images and config files",
        "Files CPEs download (firmware images, configuration files) and files they "
        "upload. Profiles name firmware images by their store name.",
    )
    put = leaf_parser(
        group,
        "put",
        "store a file under a name (replacing one of that name)",
        "Store a local file in the file store. A profile's firmware target names it.",
        "traceacs files put tracegw-4.0.0.bin ./build/tracegw-4.0.0.bin\n"
        "traceacs files put acme.cfg ./acme.cfg --type config",
    )
    put.add_argument("name", metavar="NAME", help="store name (letters, digits, '.', '_', '-')")
    put.add_argument("path", metavar="PATH", help="the local file to store")
    put.add_argument("--type", choices=tuple(FILE_TYPES), default="firmware")
    put.add_argument("--json", action="store_true", help="print the stored file as JSON")
    put.set_defaults(func=cmd_files_put)

    lst = leaf_parser(group, "list", "list stored files", "List the stored files.")
    lst.add_argument("--json", action="store_true", help="print the list as JSON")
    lst.set_defaults(func=cmd_files_list)

    delete = leaf_parser(group, "delete", "remove a stored file", "Remove a stored file.")
    delete.add_argument("name", metavar="NAME")
    delete.set_defaults(func=cmd_files_delete)


def _store_root(args: argparse.Namespace) -> Path:
    data_dir = args.data_dir or os.environ.get("TRACEACS_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(data_dir) / "files"


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, _CHUNK):
            yield chunk


def cmd_files_put(args: argparse.Namespace) -> int:
    from traceacs.files import DiskFileStore, InvalidFileName

    source = Path(args.path)
    if not source.is_file():
        error("traceacs files put", f"{source} is not a readable file")
        return EXIT_USAGE
    try:
        stored = asyncio.run(
            DiskFileStore(_store_root(args)).put(
                args.name, _read(source), file_type=FILE_TYPES[args.type], now=time.time()
            )
        )
    except InvalidFileName as exc:
        error("traceacs files put", f"{args.name!r}: {exc}")
        return EXIT_USAGE
    if args.json:
        print_json(stored.to_json())
    else:
        print(f"stored {stored.name}: {stored.size} bytes, sha256 {stored.sha256}")
    return EXIT_OK


def cmd_files_list(args: argparse.Namespace) -> int:
    from traceacs.files import DiskFileStore

    root = _store_root(args)
    if not root.is_dir():
        error("traceacs files list", f"no file store at {root}")
        return EXIT_FAILED
    files = asyncio.run(DiskFileStore(root).list_files())
    if args.json:
        print_json({"items": [f.to_json() for f in files]})
        return EXIT_OK
    print_table(
        ("name", "type", "size", "created", "sha256"),
        [(f.name, f.file_type, f.size, format_time(f.created), f.sha256[:16]) for f in files],
    )
    return EXIT_OK


def cmd_files_delete(args: argparse.Namespace) -> int:
    from traceacs.files import DiskFileStore, InvalidFileName

    try:
        gone = asyncio.run(DiskFileStore(_store_root(args)).delete(args.name))
    except InvalidFileName as exc:
        error("traceacs files delete", f"{args.name!r}: {exc}")
        return EXIT_USAGE
    if not gone:
        print(f"traceacs files delete: no file {args.name!r}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"deleted {args.name}")
    return EXIT_OK
