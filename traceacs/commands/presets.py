"""``traceacs presets list|show|put|delete`` and ``traceacs devices tag``.

A preset is written with flags (``--model``, ``--tag``, ``--set NAME=VALUE``,
``--task '{"name": "reboot"}'``) or as a whole JSON document (``--file``); see
`traceacs.presets.model` for what the fields mean. A running ACS picks changes up
within seconds (its cache), devices get a changed preset at their next inform.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from traceacs.commands.output import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    error,
    print_json,
    print_table,
)
from traceacs.commands.parsing import Commands, group_parser, leaf_parser
from traceacs.storage.repository import SqlDeviceRepository
from traceacs.tasks.view import preset_view


def add_device_tag_command(devices: Any) -> None:
    """``traceacs devices tag SERIAL add|remove TAG`` (added to the devices group)."""
    tag = leaf_parser(
        devices,
        "tag",
        "add or remove an operator tag on a device",
        "Tags select devices in searches (--tag, ?tag=), bulk tasks and presets.",
        "traceacs devices tag SN0001 add vip\ntraceacs devices tag SN0001 remove vip",
    )
    tag.add_argument("serial", metavar="SERIAL")
    tag.add_argument("action", choices=("add", "remove"))
    tag.add_argument("tag", metavar="TAG")
    tag.add_argument("--oui", default=None, help="when a serial is shared by several OUIs")
    tag.add_argument("--json", action="store_true", help="print the device's tags as JSON")
    tag.set_defaults(func=cmd_devices_tag)


def add_presets_command(commands: Commands) -> None:
    group = group_parser(
        commands,
        "presets",
        "declarative presets: values and tasks for devices that match",
        "Presets apply at a device's inform when their condition matches, once per "
        "revision; the higher weight wins a parameter set by several presets.",
    )
    lst = leaf_parser(group, "list", "list presets, highest weight first", "List presets.")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_presets_list)
    shw = leaf_parser(group, "show", "show one preset", "Show a preset as JSON.")
    shw.add_argument("name", metavar="NAME")
    shw.set_defaults(func=cmd_presets_show)
    put = leaf_parser(
        group,
        "put",
        "create or replace a preset",
        "Create or replace a preset (its revision goes up when it changed).",
        "traceacs presets put vip-interval --weight 10 --tag vip "
        "--set Device.ManagementServer.PeriodicInformInterval=900\n"
        "traceacs presets put boot-check --event '1 BOOT' --task '{\"name\": \"upload\"}'\n"
        "traceacs presets put from-file --file preset.json",
    )
    put.add_argument("name", metavar="NAME")
    put.add_argument("--file", type=Path, help="the whole preset as a JSON document")
    put.add_argument("--weight", type=int, default=0, help="precedence (higher wins)")
    for option in ("model", "oui", "firmware", "tag", "event"):
        put.add_argument(f"--{option}", default=None, help=f"condition: {option}")
    put.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE[:TYPE]", dest="values"
    )
    put.add_argument("--task", action="append", default=[], metavar="JSON", dest="tasks")
    put.add_argument("--json", action="store_true", help="print the stored preset as JSON")
    put.set_defaults(func=cmd_presets_put)
    dele = leaf_parser(group, "delete", "delete a preset", "Delete a preset.")
    dele.add_argument("name", metavar="NAME")
    dele.set_defaults(func=cmd_presets_delete)


def _value(text: str) -> list[Any]:
    """``NAME=VALUE`` (type implied: integers, true/false, else string) or
    ``NAME=VALUE:TYPE`` with an xsd type name."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"--set takes NAME=VALUE[:TYPE], not {text!r}")
    head, colon, xsd_type = value.rpartition(":")
    if colon and xsd_type.removeprefix("xsd:") in _TYPES:
        return [name, head, xsd_type]
    if value.lstrip("-").isdigit():
        return [name, int(value)]
    if value in ("true", "false"):
        return [name, value == "true"]
    return [name, value]


_TYPES = frozenset(
    {"string", "int", "unsignedInt", "long", "unsignedLong", "boolean", "dateTime", "base64"}
)


def _body(args: argparse.Namespace) -> dict[str, Any]:
    if args.file is not None:
        loaded = json.loads(args.file.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError("the preset file must hold a JSON object")
        return loaded
    condition = {
        k: getattr(args, k)
        for k in ("model", "oui", "firmware", "tag", "event")
        if getattr(args, k) is not None
    }
    body: dict[str, Any] = {"weight": args.weight, "condition": condition}
    if args.values:
        body["parameterValues"] = [_value(v) for v in args.values]
    if args.tasks:
        body["tasks"] = [json.loads(t) for t in args.tasks]
    return body


def cmd_presets_put(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.presets.model import PresetError, parse_preset
    from traceacs.storage.presets import SqlPresetStore

    prog = "traceacs presets put"
    try:
        preset = parse_preset(args.name, _body(args))
    except (ValueError, OSError) as exc:  # PresetError, bad JSON, unreadable file
        error(prog, str(exc) if isinstance(exc, PresetError | ValueError) else type(exc).__name__)
        return EXIT_USAGE

    async def work(repository: SqlDeviceRepository) -> int:
        stored, created = await SqlPresetStore(repository.db, repository.secrets).put_preset(
            preset, time.time()
        )
        if args.json:
            print_json(preset_view(stored))
        else:
            verb = "created" if created else "stored"
            print(f"preset {stored.name} {verb} (revision {stored.revision})")
        return EXIT_OK

    return run_with_store(args, prog, work)


def cmd_presets_list(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.storage.presets import SqlPresetStore

    async def work(repository: SqlDeviceRepository) -> int:
        presets = await SqlPresetStore(repository.db, repository.secrets).list_presets()
        if args.json:
            print_json([preset_view(p) for p in presets])
        else:
            print_table(
                ("NAME", "WEIGHT", "REVISION", "CONDITION", "VALUES", "TASKS"),
                [
                    (
                        p.name,
                        p.weight,
                        p.revision,
                        " ".join(f"{k}={v}" for k, v in p.condition.to_json().items()),
                        len(p.parameter_values),
                        ",".join(str(t["name"]) for t in p.tasks),
                    )
                    for p in presets
                ],
            )
        return EXIT_OK

    return run_with_store(args, "traceacs presets list", work)


def cmd_presets_show(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.storage.presets import SqlPresetStore

    async def work(repository: SqlDeviceRepository) -> int:
        preset = await SqlPresetStore(repository.db, repository.secrets).get_preset(args.name)
        if preset is None:
            error("traceacs presets show", f"no preset {args.name!r}")
            return EXIT_NOT_FOUND
        print_json(preset_view(preset))
        return EXIT_OK

    return run_with_store(args, "traceacs presets show", work)


def cmd_presets_delete(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.storage.presets import SqlPresetStore

    async def work(repository: SqlDeviceRepository) -> int:
        if not await SqlPresetStore(repository.db, repository.secrets).delete_preset(args.name):
            error("traceacs presets delete", f"no preset {args.name!r}")
            return EXIT_NOT_FOUND
        print(f"preset {args.name} deleted")
        return EXIT_OK

    return run_with_store(args, "traceacs presets delete", work)


def cmd_devices_tag(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.presets.model import PresetError, check_name
    from traceacs.storage.tags import SqlTagStore

    prog = "traceacs devices tag"
    try:
        tag = check_name(args.tag, "tag")
    except PresetError as exc:
        error(prog, str(exc))
        return EXIT_USAGE

    async def work(repository: SqlDeviceRepository) -> int:
        device = (
            await repository.get_device(args.oui, args.serial)
            if args.oui
            else await repository.get_device_by_serial(args.serial)
        )
        if device is None:
            error(prog, f"no device with serial number {args.serial!r}")
            return EXIT_NOT_FOUND
        store = SqlTagStore(repository.db)
        if args.action == "add":
            await store.add_tag(device.oui, device.serial_number, tag)
        else:
            await store.remove_tag(device.oui, device.serial_number, tag)
        tags = await store.tags_of(device.oui, device.serial_number)
        if args.json:
            print_json({"serial_number": device.serial_number, "tags": tags})
        else:
            print(f"{device.serial_number}: {' '.join(tags) or '(no tags)'}")
        return EXIT_OK

    return run_with_store(args, prog, work)
