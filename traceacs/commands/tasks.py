"""``traceacs tasks add|list``: queue a task for a device, see a device's tasks.

Arguments use GenieACS's names (``--arg objectName=Device.IP.Interface.``); a value that
is valid JSON is taken as JSON (``--arg 'parameterValues=[["Device.X", "1", "xsd:int"]]'``,
``--arg delaySeconds=30``). With ``--now`` the device is sent a connection request so the
task runs right away; ``--wait N`` waits up to N seconds for the result.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from traceacs.commands.output import (
    EXIT_FAILED,
    EXIT_OK,
    error,
    format_time,
    print_json,
    print_table,
)
from traceacs.commands.parsing import Commands, group_parser, leaf_parser
from traceacs.storage.repository import SqlDeviceRepository


def add_tasks_command(commands: Commands) -> None:
    """Declare ``traceacs tasks ...``."""
    group = group_parser(
        commands,
        "tasks",
        "device tasks: get/set values, reboot, download, ...",
        "Tasks run in a device's next CWMP session (or now, with a connection request).",
    )
    add = leaf_parser(
        group,
        "add",
        "queue a task for a device",
        "Queue a task (GenieACS names: getParameterValues, setParameterValues, "
        "refreshObject, addObject, deleteObject, reboot, factoryReset, download, upload, "
        "scheduleInform).",
        "traceacs tasks add SIM20260000001 reboot --now --wait 30\n"
        "traceacs tasks add SIM20260000001 download --arg fileName=fw-2.0.bin --now",
    )
    add.add_argument("serial", metavar="SERIAL")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE")
    add.add_argument("--oui", default=None, help="when a serial is shared by several OUIs")
    add.add_argument("--now", action="store_true", help="send a connection request")
    add.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")
    add.add_argument("--json", action="store_true", help="print the task as JSON")
    add.set_defaults(func=cmd_tasks_add)

    lst = leaf_parser(group, "list", "list a device's tasks, newest first", "List tasks.")
    lst.add_argument("serial", metavar="SERIAL")
    lst.add_argument("--oui", default=None)
    lst.add_argument("--json", action="store_true", help="print the list as JSON")
    lst.set_defaults(func=cmd_tasks_list)


def parse_args(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that is JSON is decoded, otherwise kept as text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--arg takes KEY=VALUE, not {key!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def cmd_tasks_add(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.storage.tasks import SqlTaskStore
    from traceacs.tasks.model import TaskError
    from traceacs.tasks.service import TaskService
    from traceacs.tasks.view import task_view

    prog = "traceacs tasks add"
    try:
        arguments = parse_args(args.arg)
    except ValueError as exc:
        error(prog, str(exc))
        return EXIT_FAILED

    async def work(repository: SqlDeviceRepository) -> int:
        device = (
            await repository.get_device(args.oui, args.serial)
            if args.oui
            else await repository.get_device_by_serial(args.serial)
        )
        if device is None:
            error(prog, f"no device with serial number {args.serial!r}")
            return EXIT_FAILED
        service = TaskService(SqlTaskStore(repository.db, repository.secrets))
        try:
            task = await service.add(device, args.name, arguments)
        except TaskError as exc:
            error(prog, str(exc))
            return EXIT_FAILED
        woke = None
        if args.now:
            woke = await service.wake(device)
        if args.wait > 0:
            task = await service.wait(task.id, args.wait) or task
        if args.json:
            view = task_view(task)
            if woke is not None:
                view["connection_request"] = {"outcome": woke.outcome.value, "detail": woke.detail}
            print_json(view)
        else:
            print(f"task {task.id} {task.name} for {device.serial_number}: {task.status.value}")
            if woke is not None:
                print(f"connection request: {woke.outcome.value} {woke.detail}".rstrip())
            if task.fault_string:
                print(f"fault: {task.fault_code} {task.fault_string}")
        return EXIT_OK

    return run_with_store(args, prog, work)


def cmd_tasks_list(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.storage.tasks import SqlTaskStore
    from traceacs.tasks.view import task_view

    async def work(repository: SqlDeviceRepository) -> int:
        device = (
            await repository.get_device(args.oui, args.serial)
            if args.oui
            else await repository.get_device_by_serial(args.serial)
        )
        if device is None:
            error("traceacs tasks list", f"no device with serial number {args.serial!r}")
            return EXIT_FAILED
        tasks = await SqlTaskStore(repository.db, repository.secrets).device_tasks(
            device.oui, device.serial_number
        )
        if args.json:
            print_json([task_view(t) for t in tasks])
        else:
            print_table(
                ("ID", "NAME", "STATUS", "ATTEMPTS", "FAULT", "UPDATED"),
                [
                    (
                        t.id,
                        t.name,
                        t.status.value,
                        t.attempts,
                        "" if t.fault_code is None else t.fault_code,
                        format_time(t.updated_at),
                    )
                    for t in tasks
                ],
            )
        return EXIT_OK

    return run_with_store(args, "traceacs tasks list", work)
