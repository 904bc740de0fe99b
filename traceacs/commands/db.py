"""``traceacs db migrate``: bring the store's schema up to date, and say which version it is.

``serve`` and every other command migrate on open too; this command exists so that
an upgrade can be applied (and checked) before the servers are restarted, and to
create an empty store.
"""

from __future__ import annotations

import argparse

from traceacs.commands.output import EXIT_OK, print_json
from traceacs.commands.parsing import Commands, group_parser, leaf_parser


def add_db_command(commands: Commands) -> None:
    """Declare ``traceacs db ...``."""
    group = group_parser(
        commands,
        "db",
        "the store's schema: migrate",
        "Maintenance of the TraceACS store.",
    )
    migrate = leaf_parser(
        group,
        "migrate",
        "apply pending schema migrations (creates the store if needed)",
        "Apply pending schema migrations and print the schema version. "
        "Safe to run repeatedly and from several hosts at once.",
        "traceacs db migrate --database-url postgresql://acs@db.example/traceacs",
    )
    migrate.add_argument("--json", action="store_true", help="print the result as JSON")
    migrate.set_defaults(func=cmd_db_migrate)


def cmd_db_migrate(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.storage.repository import SqlDeviceRepository

    async def work(repository: SqlDeviceRepository) -> int:
        applied = await repository.migrate()
        version = int(await repository.db.fetchval("SELECT max(version) FROM schema_version"))
        if args.json:
            print_json({"schema_version": version, "applied": applied})
        elif applied:
            listed = ", ".join(str(v) for v in applied)
            print(f"schema version {version} (applied migration(s) {listed})")
        else:
            print(f"schema version {version} (already up to date)")
        return EXIT_OK

    return run_with_store(args, "traceacs db migrate", work, create=True, migrate=False)
