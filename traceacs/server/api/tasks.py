"""``/api/devices/{serial}/tasks`` and ``/api/tasks/{id}``: queue, list, show, cancel.

``POST`` takes GenieACS's task body (``{"name": "reboot"}``, ``{"name":
"setParameterValues", "parameterValues": [[name, value, type]]}``, ...). With
``?connection_request=true`` the device is asked to open a session now; with
``?timeout=N`` the call waits up to N seconds and answers 200 once the task is done or
failed, 202 while it is still queued or running (as GenieACS's NBI does).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from traceacs.server.api import params
from traceacs.server.api.context import ApiContext
from traceacs.server.api.devices import find_device
from traceacs.server.api.errors import ApiError, bad_request, not_found
from traceacs.tasks.model import Task, TaskError
from traceacs.tasks.service import TaskService
from traceacs.tasks.view import task_view

TASKS_KEY: Final = web.AppKey("api_tasks", TaskService)
MAX_WAIT_SECONDS: Final = 300


def task_service_for(context: ApiContext) -> TaskService | None:
    """The task service over the context's SQL database (None for another store)."""
    from traceacs.storage.repository import SqlDeviceRepository
    from traceacs.storage.tasks import SqlTaskStore

    repository = context.repository
    if not isinstance(repository, SqlDeviceRepository):
        return None
    return TaskService(SqlTaskStore(repository.db, repository.secrets), clock=context.clock)


def _service(request: web.Request) -> TaskService:
    service = request.app.get(TASKS_KEY)
    if service is None:
        raise ApiError(503, "tasks need the SQL store")
    return service


def flag(request: web.Request, name: str) -> bool:
    raw = (request.query.get(name) or "").lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise bad_request(f"{name} must be true or false")


def _task_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise not_found(f"no task {raw[:20]!r}")
    return int(raw)


async def add_task(request: web.Request) -> web.Response:
    service = _service(request)
    device = await find_device(request)
    wake = flag(request, "connection_request")
    timeout = params.integer(request, "timeout", 0, 0, MAX_WAIT_SECONDS)
    body = await params.json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise bad_request('the body must be a JSON object with a task "name"')
    arguments = {k: v for k, v in body.items() if k != "name"}
    try:
        task = await service.add(device, body["name"], arguments)
    except TaskError as exc:
        raise bad_request(str(exc)) from None
    view: dict[str, Any] = {}
    if wake:
        outcome = await service.wake(device)
        view["connection_request"] = {"outcome": outcome.outcome.value, "detail": outcome.detail}
    if timeout:
        task = await service.wait(task.id, timeout) or task
    view = {**task_view(task), **view}
    status = 200 if task.finished else 202
    return web.json_response(view, status=status)


async def device_tasks(request: web.Request) -> web.Response:
    service = _service(request)
    device = await find_device(request)
    limit, _ = params.page(request)
    tasks = await service.store.device_tasks(device.oui, device.serial_number, limit=limit)
    return web.json_response({"items": [task_view(t) for t in tasks]})


async def _get(request: web.Request) -> tuple[TaskService, Task]:
    service = _service(request)
    task = await service.store.get_task(_task_id(request))
    if task is None:
        raise not_found(f"no task {request.match_info['id']}")
    return service, task


async def get_task(request: web.Request) -> web.Response:
    _, task = await _get(request)
    return web.json_response(task_view(task))


async def delete_task(request: web.Request) -> web.Response:
    """Cancel a task (a transfer the CPE already accepted still happens on the CPE)."""
    service, task = await _get(request)
    await service.store.delete_task(task.id)
    return web.Response(status=204)
