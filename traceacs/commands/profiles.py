"""``traceacs profiles import|list|show``: the embedded BSS profile source, for operators.

Profiles live in the same store as the inventory and are looked up per customer
(``customer:<id>``) then per service plan. Imports are all or nothing (see
`traceacs.profiles.embedded`); ``show`` prints the stored document as YAML with every
secret (Wi-Fi passphrase, SIP passwords, secret-named extra parameters) as ``********``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from traceacs.commands.output import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_STORE_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    Progress,
    error,
    print_json,
    print_table,
)
from traceacs.commands.parsing import Commands, group_parser, leaf_parser
from traceacs.provisioning.repository import DeviceRepository, StorageUnavailable

PROGRESS_THRESHOLD = 50  # profiles: each is a read and a write, slower than a device row


def add_profiles_command(commands: Commands) -> None:
    """Declare ``traceacs profiles ...``."""
    group = group_parser(
        commands,
        "profiles",
        "service profiles of the embedded BSS source: import, list, show",
        "Service profiles stored in TraceACS (the embedded BSS source).",
    )

    imp = leaf_parser(
        group,
        "import",
        "import profiles from a YAML or JSON file (all or nothing)",
        "Validate every profile in FILE (a list, {profiles: [...]}, or one profile), "
        "then store them. One invalid profile and nothing is imported. A profile named "
        "'customer:<id>' applies to that customer only; others are named after a plan.",
        "traceacs profiles import profiles.yaml",
    )
    imp.add_argument("file", metavar="FILE", type=Path, help="profile file (.yaml/.yml/.json)")
    imp.add_argument("--json", action="store_true", help="print the result as JSON")
    imp.set_defaults(func=cmd_profiles_import)

    lst = leaf_parser(group, "list", "list stored profiles", "List stored profiles by name.")
    lst.add_argument("--json", action="store_true", help="print the list as JSON")
    lst.set_defaults(func=cmd_profiles_list)

    shw = leaf_parser(
        group,
        "show",
        "show one profile (secrets masked)",
        "Print a stored profile as YAML; secrets are shown as ********.",
        "traceacs profiles show gold-1000\ntraceacs profiles show customer:C1001 --json",
    )
    shw.add_argument("name", metavar="NAME", help="profile name (a plan, or customer:<id>)")
    shw.add_argument("--json", action="store_true", help="print the profile as JSON")
    shw.set_defaults(func=cmd_profiles_show)


def _report_problems(prog: str, problems: tuple[str, ...], source: str, as_json: bool) -> None:
    if as_json:
        print_json({"imported": False, "problems": list(problems)})
    error(prog, f"{source}: nothing imported, {len(problems)} problem(s):")
    for problem in problems:
        error(prog, f"  {problem}")


def cmd_profiles_import(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.profiles.embedded import (
        ProfileImportError,
        import_documents,
        load_profile_file,
    )

    prog = "traceacs profiles import"
    source = str(args.file)
    try:
        profiles = load_profile_file(args.file)  # validated before the store is opened
    except ProfileImportError as exc:
        _report_problems(prog, exc.problems, source, args.json)
        return EXIT_USAGE

    async def work(repository: DeviceRepository) -> int:
        progress = Progress(
            f"importing {args.file.name}",
            len(profiles),
            enabled=not args.json,
            threshold=PROGRESS_THRESHOLD,
        )
        try:
            results = await import_documents(
                repository, profiles, source, on_progress=progress.update
            )
        except ProfileImportError as exc:
            # import_documents rolled back and wrapped the store's error.
            _report_problems(prog, exc.problems, source, args.json)
            down = isinstance(exc.__context__, StorageUnavailable)
            return EXIT_STORE_UNAVAILABLE if down else EXIT_FAILED
        finally:
            progress.done()
        if args.json:
            print_json(
                {
                    "imported": True,
                    "profiles": [
                        {"name": r.name, "version": r.version, "status": r.status} for r in results
                    ],
                }
            )
            return EXIT_OK
        print_table(("NAME", "VERSION", "STATUS"), [(r.name, r.version, r.status) for r in results])
        counts = {s: sum(1 for r in results if r.status == s) for s in ("created", "updated")}
        unchanged = len(results) - counts["created"] - counts["updated"]
        print(
            f"imported {len(results)} profiles from {source}: {counts['created']} created, "
            f"{counts['updated']} updated, {unchanged} unchanged"
        )
        return EXIT_OK

    return run_with_store(args, prog, work, create=True)


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    """What ``profiles list`` shows of a stored document (never a secret)."""
    from traceacs.profiles.document import ProfileDocumentError, profile_from_document

    try:
        profile = profile_from_document(document)
    except ProfileDocumentError:
        return {"services": None, "wifi_ssid": None, "valid": False}
    return {
        "services": list(profile.services),
        "wifi_ssid": profile.wifi.ssid if profile.wifi else None,
        "voip_lines": len(profile.voip_lines),
        "valid": True,
    }


def cmd_profiles_list(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store

    async def work(repository: DeviceRepository) -> int:
        rows: list[dict[str, Any]] = []
        for name, version in await repository.list_profile_documents():
            entry = await repository.get_profile_document(name)
            summary = _summary(entry[0]) if entry is not None else {"valid": False}
            rows.append({"name": name, "version": version, **summary})
        if args.json:
            print_json(rows)
            return EXIT_OK
        print_table(
            ("NAME", "VERSION", "SERVICES", "WI-FI SSID", "VOIP LINES"),
            [
                (
                    r["name"],
                    r["version"],
                    ",".join(r["services"]) if r.get("services") else "(invalid)",
                    r.get("wifi_ssid"),
                    r.get("voip_lines"),
                )
                for r in rows
            ],
        )
        print(f"{len(rows)} profiles")
        return EXIT_OK

    return run_with_store(args, "traceacs profiles list", work)


def _in_file_order(document: dict[str, Any]) -> dict[str, Any]:
    """The document with its fields in the order of a profile file (the store sorts keys)."""
    from traceacs.profiles.document import (
        ProfileDocumentError,
        profile_from_document,
        profile_to_document,
    )

    try:
        return profile_to_document(profile_from_document(document))
    except ProfileDocumentError:
        return document  # shown as stored, so the operator can see what is wrong


def cmd_profiles_show(args: argparse.Namespace) -> int:
    import yaml

    from traceacs.commands.store import run_with_store
    from traceacs.commands.views import mask_secrets

    async def work(repository: DeviceRepository) -> int:
        entry = await repository.get_profile_document(args.name)
        if entry is None:
            raise CommandError(f"no profile named {args.name!r}", EXIT_NOT_FOUND)
        document, version = entry
        masked: dict[str, Any] = mask_secrets(_in_file_order(document))
        masked["version"] = version
        if args.json:
            print_json(masked)
        else:
            print(yaml.safe_dump(masked, sort_keys=False, allow_unicode=True), end="")
        return EXIT_OK

    return run_with_store(args, "traceacs profiles show", work)
