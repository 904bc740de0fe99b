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
    EXIT_OK,
    EXIT_USAGE,
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

    bulk = leaf_parser(
        group,
        "bulk",
        "queue a task for every device a search matches, paced",
        "Queue one task per matching device (same filters as 'devices list'), released at "
        "--rate devices per second so a fleet-wide reboot is no boot storm. With --now "
        "each device is sent a connection request at its release time (the command "
        "stays until the last one is sent); otherwise devices pick the task up at their "
        "next inform. A running ACS paces the dispatch itself too.",
        "traceacs tasks bulk --model RG-1 --name reboot --rate 20 --now\n"
        "traceacs tasks bulk --all --name scheduleInform --arg delaySeconds=60 --json",
    )
    for option, help_text in (
        ("--serial", "serial number or its beginning"),
        ("--mac", "MAC address"),
        ("--customer-id", "customer id"),
        ("--model", "model reported by the device"),
        ("--firmware", "firmware version reported by the device"),
        ("--state", "provisioning state"),
        ("--plan", "service plan"),
        ("--oui", "OUI"),
        ("--failed-step", "the step a failed device failed at"),
        ("--tag", "devices carrying this tag"),
    ):
        bulk.add_argument(option, default=None, help=help_text)
    bulk.add_argument("--all", action="store_true", help="every device (when no filter)")
    bulk.add_argument("--name", required=True, metavar="TASK", help="the task's name")
    bulk.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE")
    bulk.add_argument("--rate", type=float, default=10.0, help="devices per second")
    bulk.add_argument("--now", action="store_true", help="send connection requests")
    bulk.add_argument("--json", action="store_true", help="print the job as JSON")
    bulk.set_defaults(func=cmd_tasks_bulk)

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
    from traceacs.commands.devices import find_device
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
        return EXIT_USAGE

    async def work(repository: SqlDeviceRepository) -> int:
        device = await find_device(repository, args)
        service = TaskService(SqlTaskStore(repository.db, repository.secrets))
        try:
            task = await service.add(device, args.name, arguments)
        except TaskError as exc:  # a bad task name or arguments: nothing was queued
            error(prog, str(exc))
            return EXIT_USAGE
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


def cmd_tasks_bulk(args: argparse.Namespace) -> int:
    from traceacs.commands.store import run_with_store
    from traceacs.provisioning.device import ProvisioningState
    from traceacs.provisioning.repository import DeviceFilter
    from traceacs.storage.bulk_tasks import SqlBulkStore
    from traceacs.storage.tasks import SqlTaskStore
    from traceacs.tasks.bulk import BulkRequest
    from traceacs.tasks.bulk_service import BulkTaskService, device_filter_json
    from traceacs.tasks.model import TaskError
    from traceacs.tasks.service import TaskService

    prog = "traceacs tasks bulk"
    states = [s.value for s in ProvisioningState]
    if args.state is not None and args.state not in states:
        error(prog, f"--state must be one of {', '.join(states)}")
        return EXIT_USAGE
    try:
        arguments = parse_args(args.arg)
    except ValueError as exc:
        error(prog, str(exc))
        return EXIT_USAGE
    filters = DeviceFilter(
        serial_prefix=args.serial,
        mac=args.mac,
        customer_id=args.customer_id,
        model=args.model,
        firmware_version=args.firmware,
        state=ProvisioningState(args.state) if args.state else None,
        service_plan=args.plan,
        oui=args.oui,
        failed_step=args.failed_step,
        tag=args.tag,
    )
    conditions = device_filter_json(filters)
    if not conditions and not args.all:
        error(prog, "no filter given: add filters, or --all for every device")
        return EXIT_USAGE

    async def work(repository: SqlDeviceRepository) -> int:
        service = BulkTaskService(
            SqlBulkStore(repository.db, repository.secrets),
            repository,
            TaskService(SqlTaskStore(repository.db, repository.secrets)),
        )
        request = BulkRequest(args.name, arguments, conditions, args.rate, args.now)
        try:
            job = await service.start(request, filters)
        except TaskError as exc:
            error(prog, str(exc))
            return EXIT_USAGE
        if args.now:
            await service.drive(job, follow=False)
            job = await service.store.get_job(job.id) or job
        if args.json:
            print_json(job.to_json())
        else:
            p = job.progress
            print(
                f"bulk job {job.id}: {job.name} for {job.matched} device(s) at {job.rate:g}/s"
                f" (queued {p.queued}, running {p.running}, done {p.done}, failed {p.failed})"
            )
        return EXIT_OK

    return run_with_store(args, prog, work)


def cmd_tasks_list(args: argparse.Namespace) -> int:
    from traceacs.commands.devices import find_device
    from traceacs.commands.store import run_with_store
    from traceacs.storage.tasks import SqlTaskStore
    from traceacs.tasks.view import task_view

    async def work(repository: SqlDeviceRepository) -> int:
        device = await find_device(repository, args)
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
