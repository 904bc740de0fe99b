"""``traceacs trace SERIAL``: a device's provisioning trace from the embedded store.

The seed's promise, kept without a tracing backend: look up a serial number, see the
provisioning steps as a waterfall, which one failed and why, and the trace id to take
to the tracing backend. The latest trace is one indexed lookup (see
`traceacs.storage.traces`), so this answers instantly on a large inventory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TextIO

from traceacs.commands.output import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_STORE_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    error,
    print_json,
)
from traceacs.commands.parsing import Commands, leaf_parser
from traceacs.commands.store import resolve_database_url
from traceacs.provisioning.repository import RepositoryError, SchemaTooNew, StorageUnavailable
from traceacs.storage.trace_records import StoredTrace
from traceacs.telemetry.waterfall import Style, render_many, trace_to_json

PROG = "traceacs trace"
ALL_LIMIT = 1000

_EXAMPLES = """traceacs trace SN123456
traceacs trace SN123456 --oui 00259E --all
traceacs trace SN123456 --json | jq .failing_step
traceacs trace --trace-id 4bf92f3577b34da6a3ce929d0e0e4736"""


def add_trace_command(commands: Commands) -> None:
    """Declare ``traceacs trace``."""
    parser = leaf_parser(
        commands,
        "trace",
        "show a device's provisioning trace as a waterfall",
        "Print the latest (or every) provisioning trace of a device from the embedded "
        "trace store: each step with its offset, duration and key attributes, the "
        "failing step and its reason, and the trace id for your tracing backend. "
        "Traces are stored when no OTLP endpoint is configured (or with "
        "TRACEACS_TRACE_STORE=on).",
        _EXAMPLES,
    )
    parser.add_argument("serial", nargs="?", metavar="SERIAL", help="the device serial number")
    parser.add_argument("--oui", help="the device OUI, when a serial number is not unique")
    parser.add_argument(
        "--all",
        dest="all_traces",
        action="store_true",
        help=f"every stored trace of the device, oldest first (at most {ALL_LIMIT})",
    )
    parser.add_argument("--json", action="store_true", help="JSON instead of the waterfall")
    parser.add_argument("--trace-id", metavar="ID", help="show this trace (SERIAL optional)")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the failing step (auto: on a terminal, unless NO_COLOR is set)",
    )
    parser.set_defaults(func=cmd_trace)


def cmd_trace(args: argparse.Namespace) -> int:
    if not args.serial and not args.trace_id:
        error(PROG, "give a SERIAL (or --trace-id ID)")
        return EXIT_USAGE
    url = resolve_database_url(args)
    try:
        _check_store_exists(url)
        traces = asyncio.run(_lookup(url, args))
    except CommandError as exc:
        error(PROG, exc.message)
        return exc.code
    except (StorageUnavailable, SchemaTooNew) as exc:
        error(PROG, f"cannot use the database: {exc}")
        return EXIT_STORE_UNAVAILABLE
    except RepositoryError as exc:
        error(PROG, str(exc))
        return EXIT_FAILED
    _print(traces, args, sys.stdout)
    return EXIT_OK


def _check_store_exists(url: str) -> None:
    """A read-only command must not create an empty SQLite file for a mistyped path."""
    from traceacs.storage.url import parse_location

    try:
        location = parse_location(url)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    is_file = location.engine == "sqlite" and location.target != ":memory:"
    if is_file and not Path(location.target).is_file():
        raise CommandError(
            f"no TraceACS store at {location.target} (give --data-dir or --database-url)",
            EXIT_STORE_UNAVAILABLE,
        )


async def _lookup(url: str, args: argparse.Namespace) -> list[StoredTrace]:
    from traceacs.storage.traces import open_trace_store

    try:
        store = await open_trace_store(url)
    except ValueError as exc:  # unsupported URL scheme
        raise CommandError(str(exc), EXIT_USAGE) from None
    try:
        serial: str | None = args.serial
        if args.trace_id:
            trace = await store.get(args.trace_id.strip())
            if trace is None:
                raise CommandError(
                    f"no trace with id {args.trace_id} in the trace store", EXIT_NOT_FOUND
                )
            if serial and trace.summary.serial_number != serial:
                raise CommandError(
                    f"trace {args.trace_id} belongs to {trace.summary.serial_number or '?'}, "
                    f"not {serial}",
                    EXIT_NOT_FOUND,
                )
            return [trace]
        assert serial is not None
        oui: str | None = args.oui
        if oui is None:
            ouis = await store.ouis_of(serial, limit=2)
            if len(ouis) > 1:
                raise CommandError(
                    f"serial number {serial} has traces under several OUIs "
                    f"({', '.join(ouis)}, ...): pass --oui",
                    EXIT_USAGE,
                )
        if args.all_traces:
            traces = list(reversed(await store.all_traces(serial, oui, limit=ALL_LIMIT)))
        else:
            latest = await store.latest(serial, oui)
            traces = [latest] if latest is not None else []
    finally:
        await store.close()
    if not traces:
        device = f"{serial} (OUI {oui.upper()})" if oui else serial
        raise CommandError(
            f"no provisioning trace stored for {device}: it has not informed since the "
            "trace store was enabled, its traces expired, or traces go to an OTLP "
            "endpoint (look there)",
            EXIT_NOT_FOUND,
        )
    return traces


def _print(traces: list[StoredTrace], args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        documents = [trace_to_json(t) for t in traces]
        print_json(documents if args.all_traces else documents[0], out)
        return
    out.write(render_many(traces, _style(args.color, out)))


def _style(choice: str, out: TextIO) -> Style:
    """Colour only on a terminal (or when asked); ASCII glyphs if the output cannot
    encode the Unicode ones."""
    if choice == "always":
        color = True
    elif choice == "never":
        color = False
    else:
        isatty = getattr(out, "isatty", None)
        color = bool(isatty and isatty()) and not os.environ.get("NO_COLOR")
    encoding = getattr(out, "encoding", None) or "ascii"
    try:
        "█✗└".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return Style(color=color, unicode=False)
    return Style(color=color, unicode=True)
