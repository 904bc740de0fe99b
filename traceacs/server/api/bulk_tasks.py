"""``/api/tasks/bulk``: one task for every device a search matches, paced.

``POST /api/tasks/bulk?model=X&rate=20&connection_request=true`` with a task body
(``{"name": "reboot"}``) takes the same filters as ``GET /api/devices``; a request
without any filter is refused unless it says ``all=true`` (a fleet-wide job is never
an accident). The answer is the job (202): matched devices and progress, which
``GET /api/tasks/bulk/{id}`` reads again. See `traceacs.tasks.bulk_service`.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from traceacs.server.api import params
from traceacs.server.api.context import ApiContext
from traceacs.server.api.devices import device_filter
from traceacs.server.api.errors import ApiError, bad_request, not_found
from traceacs.server.api.middleware import set_audit_target
from traceacs.server.api.tasks import flag, task_service_for
from traceacs.tasks.bulk import BulkRequest
from traceacs.tasks.bulk_service import BulkTaskService, device_filter_json
from traceacs.tasks.model import TaskError
from traceacs.tasks.pacing import MAX_RATE

BULK_KEY: Final = web.AppKey("api_bulk_tasks", BulkTaskService)
DEFAULT_RATE: Final = 10.0


def bulk_service_for(context: ApiContext) -> BulkTaskService | None:
    """Bulk jobs over the context's SQL database (None for another store)."""
    from traceacs.storage.bulk_tasks import SqlBulkStore
    from traceacs.storage.repository import SqlDeviceRepository

    repository = context.repository
    tasks = task_service_for(context)
    if not isinstance(repository, SqlDeviceRepository) or tasks is None:
        return None
    return BulkTaskService(
        SqlBulkStore(repository.db, repository.secrets), repository, tasks, clock=context.clock
    )


def _service(request: web.Request) -> BulkTaskService:
    service = request.app.get(BULK_KEY)
    if service is None:
        raise ApiError(503, "bulk tasks need the SQL store")
    return service


def _rate(request: web.Request) -> float:
    raw = request.query.get("rate")
    if raw is None or raw == "":
        return DEFAULT_RATE
    try:
        rate = float(raw)
    except ValueError:
        rate = -1.0
    if not 0 < rate <= MAX_RATE:
        raise bad_request(f"rate must be above 0 and at most {MAX_RATE:g} devices per second")
    return rate


async def start_bulk(request: web.Request) -> web.Response:
    service = _service(request)
    filters = device_filter(request)
    conditions = device_filter_json(filters)
    if not conditions and not flag(request, "all"):
        raise bad_request("no filter given: add filters, or all=true for every device")
    rate = _rate(request)
    wake = flag(request, "connection_request")
    body = await params.json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise bad_request('the body must be a JSON object with a task "name"')
    arguments = {k: v for k, v in body.items() if k != "name"}
    try:
        job = await service.start(
            BulkRequest(body["name"], arguments, conditions, rate, wake), filters
        )
    except TaskError as exc:
        raise bad_request(str(exc)) from None
    set_audit_target(request, f"bulk job {job.id}: {job.name} x {job.matched}")
    service.launch(job)
    return web.json_response(job.to_json(), status=202)


async def get_bulk(request: web.Request) -> web.Response:
    service = _service(request)
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise not_found(f"no bulk job {raw[:20]!r}")
    job = await service.store.get_job(int(raw))
    if job is None:
        raise not_found(f"no bulk job {raw}")
    return web.json_response(job.to_json())
