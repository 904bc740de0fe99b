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
        "the store: schema migrations, secret keys",
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

    rotate = leaf_parser(
        group,
        "rotate-key",
        "seal stored secrets with a new key (key file in the data directory)",
        "Put a new key first in the data directory's secret.key (older keys stay, to open "
        "what running ACS processes still write with them) and re-seal every stored "
        "secret with it. Once every ACS process has been restarted, run it again with "
        "--drop-old to re-seal stragglers and remove the old keys. With "
        "TRACEACS_SECRET_KEY the key ring is yours to change: see SECURITY.md.",
        "traceacs db rotate-key --data-dir /var/lib/traceacs\n"
        "traceacs db rotate-key --drop-old --data-dir /var/lib/traceacs",
    )
    rotate.add_argument(
        "--drop-old", action="store_true", help="re-seal, then keep only the current key"
    )
    rotate.set_defaults(func=cmd_db_rotate_key)

    reseal = leaf_parser(
        group,
        "reseal",
        "seal stored secrets not yet sealed with the current key",
        "Re-seal plaintext rows (from before sealing) and rows sealed with an older key of "
        "the ring with the current key; `serve` does the same when it starts.",
        "TRACEACS_SECRET_KEY=NEW,OLD traceacs db reseal --database-url postgresql://...",
    )
    reseal.set_defaults(func=cmd_db_reseal)

    new_key = leaf_parser(
        group,
        "new-key",
        "print a new random key for TRACEACS_SECRET_KEY",
        "Print a new 256-bit key, base64, for TRACEACS_SECRET_KEY.",
        "traceacs db new-key",
    )
    new_key.set_defaults(func=cmd_db_new_key)


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


def cmd_db_new_key(args: argparse.Namespace) -> int:
    from traceacs.storage.secret_box import encode_key, new_key

    print(encode_key(new_key()))
    return EXIT_OK


def cmd_db_reseal(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.storage.repository import SqlDeviceRepository

    async def work(repository: SqlDeviceRepository) -> int:
        count = await repository.reseal()
        print(f"sealed {count} stored secret(s) with {repository.secrets!r}")
        return EXIT_OK

    return run_with_store(args, "traceacs db reseal", work, keyed=True)


def cmd_db_rotate_key(args: argparse.Namespace) -> int:
    import os

    from traceacs.commands.output import EXIT_USAGE, error
    from traceacs.commands.store import resolve_data_dir, run_with_store
    from traceacs.storage.repository import SqlDeviceRepository
    from traceacs.storage.secret_box import SecretBox, key_id, new_key
    from traceacs.storage.secret_key import key_file_path, read_or_create_key_file, write_key_file

    prog = "traceacs db rotate-key"
    if os.environ.get("TRACEACS_SECRET_KEY"):
        error(
            prog,
            "the key ring comes from TRACEACS_SECRET_KEY: set it to NEW,OLD on every ACS "
            "process (`traceacs db new-key` prints a key), run `traceacs db reseal`, then "
            "drop OLD",
        )
        return EXIT_USAGE
    path = key_file_path(resolve_data_dir(args))
    if not path.exists():
        error(prog, f"no key file at {path}: nothing to rotate")
        return EXIT_USAGE
    keys = read_or_create_key_file(path)
    if not args.drop_old:
        keys = [new_key(), *keys]
        write_key_file(path, keys)  # before re-sealing: a crash leaves both keys usable

    async def work(repository: SqlDeviceRepository) -> int:
        box = SecretBox(keys[0], keys[1:])
        repository.secrets = box
        count = await repository.reseal()
        if args.drop_old:
            write_key_file(path, keys[:1])
            print(f"sealed {count} stored secret(s); {path} now holds key {box.current_id} only")
        else:
            old = ", ".join(key_id(k) for k in keys[1:])
            print(
                f"sealed {count} stored secret(s) with new key {box.current_id} (kept {old}); "
                "restart every ACS process, then run with --drop-old"
            )
        return EXIT_OK

    return run_with_store(args, prog, work)
