"""``traceacs tokens create|list|revoke``: API tokens for the REST API.

A token is printed once, at creation, and stored only as its SHA-256; losing it means
revoking it and creating another. ``read`` tokens may only GET; ``write`` tokens may do
everything the API offers, and every write they make is audited under their name.
"""

from __future__ import annotations

import argparse
import sys
import time

from traceacs.commands.output import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    error,
    format_time,
    print_json,
    print_table,
)
from traceacs.commands.parsing import Commands, group_parser, leaf_parser
from traceacs.storage.repository import SqlDeviceRepository


def add_tokens_command(commands: Commands) -> None:
    """Declare ``traceacs tokens ...``."""
    group = group_parser(
        commands,
        "tokens",
        "API tokens for the REST API: create, list, revoke",
        "API tokens authenticate callers of the REST API (Authorization: Bearer). "
        "They are stored hashed; the token itself is shown once, when created.",
    )
    create = leaf_parser(
        group,
        "create",
        "create a token and print it (once)",
        "Create an API token. read tokens may only read; write tokens may also change "
        "devices, inventory and profiles (every write is audited under the token's name).",
        "traceacs tokens create --role read --name grafana\n"
        "traceacs tokens create --role write --name oss --json",
    )
    create.add_argument("--role", required=True, choices=("read", "write"))
    create.add_argument("--name", default="", help="who uses it (shown in the audit log)")
    create.add_argument("--json", action="store_true", help="print the token as JSON")
    create.set_defaults(func=cmd_tokens_create)

    lst = leaf_parser(group, "list", "list tokens (never the tokens themselves)", "List tokens.")
    lst.add_argument("--json", action="store_true", help="print the list as JSON")
    lst.set_defaults(func=cmd_tokens_list)

    revoke = leaf_parser(
        group,
        "revoke",
        "revoke a token by id",
        "Revoke a token: it stops working at once.",
        "traceacs tokens revoke 3",
    )
    revoke.add_argument("id", type=int, metavar="ID", help="token id (see tokens list)")
    revoke.add_argument("--json", action="store_true", help="print the result as JSON")
    revoke.set_defaults(func=cmd_tokens_revoke)


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from traceacs.auth.tokens import issue_token, parse_role
    from traceacs.commands.store import run_with_store
    from traceacs.storage.api_store import SqlApiStore

    role = parse_role(args.role)
    name = args.name or f"{role}-token"

    async def work(repository: SqlDeviceRepository) -> int:
        issued = await issue_token(SqlApiStore(repository.db), name, role, time.time())
        token = issued.token
        if args.json:
            print_json(
                {"id": token.id, "name": token.name, "role": token.role, "token": issued.plaintext}
            )
        else:
            print(issued.plaintext)
            print(
                f"token {token.id} ({token.name}, {token.role}) created; it is shown only "
                "now: store it safely",
                file=sys.stderr,
            )
        return EXIT_OK

    return run_with_store(args, "traceacs tokens create", work, create=True)


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.storage.api_store import SqlApiStore

    async def work(repository: SqlDeviceRepository) -> int:
        tokens = await SqlApiStore(repository.db).list_tokens()
        if args.json:
            print_json(
                [
                    {
                        "id": t.id,
                        "name": t.name,
                        "role": t.role,
                        "created_at": format_time(t.created_at),
                        "revoked_at": format_time(t.revoked_at),
                    }
                    for t in tokens
                ]
            )
        else:
            print_table(
                ("ID", "NAME", "ROLE", "CREATED", "REVOKED"),
                [
                    (t.id, t.name, t.role, format_time(t.created_at), format_time(t.revoked_at))
                    for t in tokens
                ],
            )
        return EXIT_OK

    return run_with_store(args, "traceacs tokens list", work)


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.storage.api_store import SqlApiStore

    async def work(repository: SqlDeviceRepository) -> int:
        revoked = await SqlApiStore(repository.db).revoke_token(args.id, time.time())
        if args.json:
            print_json({"id": args.id, "revoked": revoked})
        if not revoked:
            error("traceacs tokens revoke", f"no active token with id {args.id}")
            return EXIT_NOT_FOUND
        if not args.json:
            print(f"token {args.id} revoked")
        return EXIT_OK

    return run_with_store(args, "traceacs tokens revoke", work)
