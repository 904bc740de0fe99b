"""``traceacs audit``: the audit log of API writes (who, what, on what, when, answer).

The same entries as ``GET /api/audit`` and the console's audit page, read straight
from the store: an operator on the ACS host needs no write token to see them.
"""

from __future__ import annotations

import argparse

from traceacs.commands.output import EXIT_OK, format_time, print_json, print_table
from traceacs.commands.parsing import Commands, leaf_parser, non_negative_int
from traceacs.storage.repository import SqlDeviceRepository

PAGE = 50


def add_audit_command(commands: Commands) -> None:
    """Declare ``traceacs audit``."""
    parser = leaf_parser(
        commands,
        "audit",
        "the audit log of API writes: who, what, when",
        "List the writes made through the REST API, newest first: when, the token's "
        "name, the method and path, the target (a serial number, a profile...) and the "
        "status the API answered (refused writes are listed too).",
        "traceacs audit --limit 20\ntraceacs audit --token-id 3 --json",
    )
    parser.add_argument("--token-id", type=int, metavar="ID", help="only this token's writes")
    parser.add_argument("--limit", type=non_negative_int, default=PAGE, help=f"page size ({PAGE})")
    parser.add_argument("--offset", type=non_negative_int, default=0, help="entries to skip")
    parser.add_argument("--json", action="store_true", help="print the page as JSON")
    parser.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.storage.api_store import SqlApiStore

    async def work(repository: SqlDeviceRepository) -> int:
        entries = await SqlApiStore(repository.db).list_audit(
            token_id=args.token_id, limit=args.limit, offset=args.offset
        )
        if args.json:
            print_json(
                {
                    "limit": args.limit,
                    "offset": args.offset,
                    "items": [
                        {
                            "id": e.id,
                            "at": format_time(e.at),
                            "token_id": e.token_id,
                            "token_name": e.token_name,
                            "method": e.method,
                            "path": e.path,
                            "target": e.target,
                            "status": e.status,
                        }
                        for e in entries
                    ],
                }
            )
            return EXIT_OK
        print_table(
            ("WHEN", "WHO", "WHAT", "TARGET", "STATUS"),
            [
                (format_time(e.at), e.token_name, f"{e.method} {e.path}", e.target, e.status)
                for e in entries
            ],
        )
        return EXIT_OK

    return run_with_store(args, "traceacs audit", work)
