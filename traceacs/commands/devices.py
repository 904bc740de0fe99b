"""``traceacs devices import|list|show|reprovision|delete``: the inventory, for operators.

``devices show SERIAL`` is the support engineer's one command: who the device belongs
to, where it stands, and for the last attempt the failing step, fault and reason, with
the mismatching or faulting parameter names and the trace id to look up in the tracing
backend.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, get_args

from traceacs.commands.output import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    Progress,
    error,
    print_fields,
    print_json,
    print_table,
    show,
)
from traceacs.commands.parsing import Commands, group_parser, leaf_parser, non_negative_int
from traceacs.provisioning.device import Device, ProvisioningState
from traceacs.provisioning.repository import (
    AmbiguousSerial,
    AttemptFilter,
    DeviceFilter,
    DeviceRepository,
    DeviceSortKey,
    ImportRejected,
)

SORT_KEYS: tuple[str, ...] = get_args(DeviceSortKey)
STATES: tuple[str, ...] = tuple(state.value for state in ProvisioningState)
HISTORY_DEFAULT = 5


def add_devices_command(commands: Commands) -> None:
    """Declare ``traceacs devices ...``."""
    group = group_parser(
        commands,
        "devices",
        "the device inventory: import, list, show, reprovision, delete",
        "The device inventory (identified by OUI + serial number).",
    )

    imp = leaf_parser(
        group,
        "import",
        "import devices from a CSV or JSON file (all or nothing)",
        "Add or update devices from FILE. CSV needs a header naming serial_number, oui, "
        "product_class, customer_id, service_plan, location_id (optional: mac, "
        "connection_request_username, connection_request_password); JSON is a list of "
        "objects with the same fields. Every row is checked first: one bad row and "
        "nothing is imported. Re-importing a device updates it and keeps its history.",
        "traceacs devices import inventory.csv\ntraceacs devices import --dry-run new.json",
    )
    imp.add_argument("file", metavar="FILE", type=Path, help="inventory file (.csv or .json)")
    imp.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    imp.add_argument("--json", action="store_true", help="print the result as JSON")
    imp.set_defaults(func=cmd_devices_import)

    lst = leaf_parser(
        group,
        "list",
        "list devices, filtered and paged",
        "List devices matching every filter given, sorted and paged by the database.",
        "traceacs devices list --state failed --failed-step verify\n"
        "traceacs devices list --sort last_inform_at --desc --limit 20 --json",
    )
    lst.add_argument("--state", choices=STATES)
    lst.add_argument("--customer-id")
    lst.add_argument("--model")
    lst.add_argument("--plan", help="service plan")
    lst.add_argument("--location-id")
    lst.add_argument("--oui")
    lst.add_argument("--failed-step", help="e.g. fetch_profile, push_config, verify")
    lst.add_argument("--tag", help="devices carrying this tag")
    lst.add_argument("--limit", type=non_negative_int, default=50, help="page size (50)")
    lst.add_argument("--offset", type=non_negative_int, default=0)
    lst.add_argument(
        "--sort",
        choices=SORT_KEYS,
        default="serial_number",
        metavar="KEY",
        help=f"sort key: {', '.join(SORT_KEYS)} (serial_number)",
    )
    lst.add_argument("--desc", action="store_true", help="sort in descending order")
    lst.add_argument("--json", action="store_true", help="print the page as JSON")
    lst.set_defaults(func=cmd_devices_list)

    shw = leaf_parser(
        group,
        "show",
        "show a device, its last provisioning attempt and why it failed",
        "Show a device: identity, customer, plan, state, last inform, firmware, and its "
        "recent provisioning attempts with the failing step, fault and reason.",
        "traceacs devices show SN0001\ntraceacs devices show SN0001 --oui 00D09E --json",
    )
    _identity_arguments(shw)
    shw.add_argument(
        "--history",
        type=non_negative_int,
        default=HISTORY_DEFAULT,
        metavar="N",
        help=f"attempts to list ({HISTORY_DEFAULT})",
    )
    shw.add_argument("--json", action="store_true", help="print the device as JSON")
    shw.set_defaults(func=cmd_devices_show)

    rep = leaf_parser(
        group,
        "reprovision",
        "provision a device again at its next inform",
        "Set the device's state back to 'new', so that its next inform (periodic, boot "
        "or after a connection request) runs the whole provisioning workflow again.",
    )
    _identity_arguments(rep)
    rep.add_argument("--json", action="store_true", help="print the device as JSON")
    rep.set_defaults(func=cmd_devices_reprovision)

    dele = leaf_parser(
        group,
        "delete",
        "remove a device and its attempt history",
        "Remove a device from the inventory with its attempt history. Its next inform "
        "will be answered as an unknown device.",
    )
    _identity_arguments(dele)
    dele.add_argument("--json", action="store_true", help="print the result as JSON")
    dele.set_defaults(func=cmd_devices_delete)

    from traceacs.commands.presets import add_device_tag_command

    add_device_tag_command(group)


def _identity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("serial", metavar="SERIAL", help="the device's serial number")
    parser.add_argument("--oui", help="the device's OUI, when several OUIs share the serial")


async def find_device(repository: DeviceRepository, args: argparse.Namespace) -> Device:
    """The device named by ``args.serial`` [``--oui``]: not found is exit 4, ambiguous 2."""
    if args.oui:
        device = await repository.get_device(args.oui, args.serial)
    else:
        try:
            device = await repository.get_device_by_serial(args.serial)
        except AmbiguousSerial as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
    if device is None:
        oui = f" and OUI {args.oui.upper()}" if args.oui else ""
        raise CommandError(f"no device with serial number {args.serial!r}{oui}", EXIT_NOT_FOUND)
    return device


# --------------------------------------------------------------------------- import


def _rows_in(text: str, fmt: str) -> int:
    """About how many devices the file holds, before parsing it (the bar's total)."""
    if fmt == "json":
        return text.count('"serial_number"')
    return max(text.count("\n") - 1, 0)  # less the header


def cmd_devices_import(args: argparse.Namespace) -> int:
    from traceacs.commands.inventory_file import (
        InventoryFileError,
        detect_format,
        parse_inventory,
        read_inventory_text,
    )
    from traceacs.commands.store import run_with_store

    prog = "traceacs devices import"
    path: Path = args.file
    try:
        text = read_inventory_text(path)
        fmt = detect_format(path, text)
        progress = Progress(f"checking {path.name}", _rows_in(text, fmt), enabled=not args.json)
        try:
            entries = parse_inventory(text, fmt, source=str(path), on_row=progress.update)
        finally:
            progress.done()
    except InventoryFileError as exc:
        if args.json:
            print_json(
                {
                    "imported": False,
                    "problems": [
                        {"where": p.where, "field": p.field, "message": p.message}
                        for p in exc.problems
                    ],
                }
            )
        error(prog, f"{exc}:")
        for problem in exc.problems:
            error(prog, f"  {problem}")
        if exc.truncated:
            error(prog, "  ... (more problems not shown)")
        return EXIT_USAGE
    if args.dry_run:
        if args.json:
            print_json({"imported": False, "checked": len(entries)})
        else:
            print(f"{path}: {len(entries)} devices, no problems found (dry run: nothing written)")
        return EXIT_OK

    async def work(repository: DeviceRepository) -> int:
        progress = Progress("", len(entries), enabled=not args.json)
        progress.message(f"writing {len(entries)} devices...")
        try:
            result = await repository.import_devices(entries, time.time())
        except ImportRejected as exc:  # the file check should have caught it
            raise CommandError(f"{path}: nothing imported: {exc}", EXIT_USAGE) from None
        finally:
            progress.done()
        if args.json:
            print_json(
                {
                    "imported": True,
                    "created": result.created,
                    "updated": result.updated,
                    "total": result.total,
                }
            )
        else:
            print(
                f"imported {result.total} devices from {path}: "
                f"{result.created} created, {result.updated} updated"
            )
        return EXIT_OK

    return run_with_store(args, prog, work, create=True)


# --------------------------------------------------------------------------- list


def cmd_devices_list(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.commands.views import device_view

    filters = DeviceFilter(
        state=ProvisioningState(args.state) if args.state else None,
        customer_id=args.customer_id,
        service_plan=args.plan,
        location_id=args.location_id,
        model=args.model,
        oui=args.oui,
        failed_step=args.failed_step,
        tag=args.tag,
    )

    async def work(repository: DeviceRepository) -> int:
        devices = await repository.list_devices(
            filters,
            sort_by=args.sort,
            descending=args.desc,
            limit=args.limit,
            offset=args.offset,
        )
        total = await repository.count_devices(filters)
        if args.json:
            print_json(
                {
                    "total": total,
                    "limit": args.limit,
                    "offset": args.offset,
                    "devices": [device_view(d) for d in devices],
                }
            )
            return EXIT_OK
        views = [device_view(d) for d in devices]
        print_table(
            ("SERIAL", "OUI", "MODEL", "CUSTOMER", "PLAN", "STATE", "FAILED STEP", "LAST INFORM"),
            [
                (
                    v["serial_number"],
                    v["oui"],
                    v["model"] or v["product_class"],
                    v["customer_id"],
                    v["service_plan"],
                    v["state"],
                    v["failed_step"],
                    v["last_inform_at"],
                )
                for v in views
            ],
        )
        first = args.offset + 1 if views else 0
        print(f"{first}-{args.offset + len(views)} of {total} devices")
        return EXIT_OK

    return run_with_store(args, "traceacs devices list", work)


# --------------------------------------------------------------------------- show


def _print_details(details: Any, indent: str) -> None:
    """Attempt details (parameter names, per-parameter faults) as indented lines."""
    if not isinstance(details, dict):
        print(f"{indent}{show(details)}")
        return
    for key, value in details.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            for name, item in value.items():
                print(f"{indent}  {name}: {_inline(item)}")
        elif isinstance(value, list):
            print(f"{indent}{key}:")
            for item in value:
                print(f"{indent}  {_inline(item)}")
        else:
            print(f"{indent}{key}: {show(value)}")


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(show(v) for v in value)
    return show(value)


def _print_device(view: dict[str, Any], attempts: list[dict[str, Any]], history: int) -> None:
    print(f"device {view['oui']}/{view['serial_number']}")
    print_fields(
        [
            ("serial number", view["serial_number"]),
            ("OUI", view["oui"]),
            ("product class", view["product_class"]),
            ("MAC", view["mac"]),
            ("manufacturer", view["manufacturer"]),
            ("model", view["model"]),
            ("firmware", view["firmware_version"]),
            ("data model", view["data_model_root"]),
            ("customer", view["customer_id"]),
            ("service plan", view["service_plan"]),
            ("location", view["location_id"]),
            ("state", view["state"]),
            ("failed step", view["failed_step"]),
            ("failure reason", view["failure_reason"]),
            ("last inform", view["last_inform_at"]),
            ("last boot", view["last_boot_at"]),
            ("profile version", view["profile_version"]),
            ("parameter key", view["parameter_key"]),
            ("connection request", view["connection_request_url"]),
            ("tags", " ".join(view.get("tags", [])) or None),
        ],
        indent="  ",
    )
    if not attempts:
        print("\nno provisioning attempts yet")
        return
    last = attempts[0]
    print(f"\nlast attempt #{last['id']}")
    print_fields(
        [
            ("result", "in progress" if last["in_progress"] else last["result"]),
            ("started", last["started_at"]),
            ("ended", last["ended_at"]),
            ("duration", None if last["duration_s"] is None else f"{last['duration_s']:g} s"),
            ("failing step", last["failing_step"]),
            ("fault code", last["fault_code"]),
            ("fault string", last["fault_string"]),
            ("trace id", last["trace_id"]),
        ],
        indent="  ",
    )
    if last["details"]:
        print("  details:")
        _print_details(last["details"], "    ")
    if history == 0:
        return
    print("\nhistory")
    print_table(
        ("ID", "STARTED", "DURATION", "RESULT", "FAILING STEP", "FAULT", "TRACE ID"),
        [
            (
                a["id"],
                a["started_at"],
                None if a["duration_s"] is None else f"{a['duration_s']:g}s",
                "in progress" if a["in_progress"] else a["result"],
                a["failing_step"],
                a["fault_code"],
                a["trace_id"],
            )
            for a in attempts[:history]
        ],
    )


def cmd_devices_show(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.commands.views import attempt_view, device_view

    async def work(repository: DeviceRepository) -> int:
        device = await find_device(repository, args)
        attempts = await repository.list_attempts(
            AttemptFilter(oui=device.oui, serial_number=device.serial_number),
            limit=max(args.history, 1),
        )
        view = device_view(device)
        from traceacs.storage.repository import SqlDeviceRepository

        if isinstance(repository, SqlDeviceRepository):
            from traceacs.storage.tags import SqlTagStore

            tags = await SqlTagStore(repository.db).tags_of(device.oui, device.serial_number)
            view["tags"] = tags
        attempt_views = [attempt_view(a) for a in attempts]
        if args.json:
            view["last_attempt"] = attempt_views[0] if attempt_views else None
            view["attempts"] = attempt_views[: args.history]
            print_json(view)
        else:
            _print_device(view, attempt_views, args.history)
        return EXIT_OK

    return run_with_store(args, "traceacs devices show", work)


# --------------------------------------------------------------------------- reprovision


def cmd_devices_reprovision(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store

    async def work(repository: DeviceRepository) -> int:
        device = await find_device(repository, args)
        updated = await repository.set_state(
            device.oui, device.serial_number, ProvisioningState.NEW, time.time()
        )
        if updated is None:  # deleted between the two statements
            raise CommandError(f"no device with serial number {args.serial!r}", EXIT_NOT_FOUND)
        note = ""
        if device.state is ProvisioningState.PROVISIONING:
            note = " (an attempt is in progress now; its result will override this)"
        if args.json:
            from traceacs.commands.views import device_view

            print_json({"previous_state": device.state.value, **device_view(updated)})
            return EXIT_OK
        print(
            f"device {device.oui}/{device.serial_number}: state {device.state.value} -> new; "
            f"it will be provisioned again at its next inform{note}"
        )
        return EXIT_OK

    return run_with_store(args, "traceacs devices reprovision", work)


# --------------------------------------------------------------------------- delete


def cmd_devices_delete(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store

    async def work(repository: DeviceRepository) -> int:
        device = await find_device(repository, args)
        if not await repository.delete_device(device.oui, device.serial_number):
            raise CommandError(f"no device with serial number {args.serial!r}", EXIT_NOT_FOUND)
        if args.json:
            print_json({"deleted": True, "oui": device.oui, "serial_number": device.serial_number})
        else:
            print(f"deleted device {device.oui}/{device.serial_number} and its attempt history")
        return EXIT_OK

    return run_with_store(args, "traceacs devices delete", work)
