"""The OpenAPI entries of the task routes (merged into `openapi.PATHS` / `SCHEMAS`).

Kept apart so the task API is documented next to its own code; the helpers are the
few lines of `openapi` it needs, repeated to avoid an import cycle.
"""

from __future__ import annotations

from typing import Any, Final

from traceacs.provisioning.device import ProvisioningState
from traceacs.tasks.model import TASK_NAMES, TaskStatus
from traceacs.tasks.pacing import MAX_RATE

Schema = dict[str, Any]

_ERRORS: Final = {
    400: "Bad input (the message says what)",
    401: "No API token, or an invalid or revoked one",
    403: "The token's role does not allow this",
    404: "No such device or task",
    409: "The serial number is used by several OUIs: add ?oui=",
    415: "Unsupported Content-Type",
    503: "The database is unavailable; retry later",
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str, where: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _op(summary: str, ok: dict[int, Schema], parameters: list[Schema], errors: set[int]) -> Schema:
    responses = {str(code): response for code, response in ok.items()}
    for code in sorted(errors | {400, 401, 403, 503}):
        responses[str(code)] = _json(_ref("Error"), _ERRORS[code])
    return {"summary": summary, "tags": ["tasks"], "responses": responses, "parameters": parameters}


_SERIAL: Final = {
    **_param("serial", "path", "the device's serial number"),
    "example": "CP2045A0123",
}
_OUI: Final = _param("oui", "query", "the device's OUI, when a serial is shared by several OUIs")
_ID: Final = {**_param("id", "path", "task id"), "example": "1"}

_DEVICE_FILTERS: Final = [
    _param("serial", "query", "serial number or its beginning"),
    _param("mac", "query", "MAC address (case-insensitive)"),
    _param("customer_id", "query", "customer id"),
    _param("model", "query", "model reported by the device"),
    _param("firmware", "query", "firmware version reported by the device"),
    _param(
        "state",
        "query",
        "provisioning state",
        {"type": "string", "enum": [s.value for s in ProvisioningState]},
    ),
    _param("plan", "query", "service plan"),
    _param("oui", "query", "OUI"),
    _param("failed_step", "query", "the step a failed device failed at"),
    _param("tag", "query", "devices carrying this tag"),
]
_COUNT: Final = {"type": "integer", "minimum": 0}

TASK_SCHEMAS: Final[dict[str, Schema]] = {
    "BulkJob": {
        "type": "object",
        "description": "A bulk job: one task per matched device, released at `rate` per second",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string", "enum": list(TASK_NAMES)},
            "arguments": {"type": "object"},
            "filters": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "the device conditions the job was created with",
            },
            "rate": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RATE},
            "connection_request": {"type": "boolean"},
            "matched": {**_COUNT, "description": "devices matched (one task each)"},
            "queued": _COUNT,
            "running": _COUNT,
            "done": _COUNT,
            "failed": _COUNT,
            "deleted": {**_COUNT, "description": "tasks cancelled or gone with their device"},
            "finished": {"type": "boolean", "description": "no task queued or running"},
            "created_at": {"type": "number"},
            "starts_at": {"type": "number", "description": "release of the first task"},
            "ends_at": {"type": "number", "description": "release of the last task"},
        },
        "required": [
            "id",
            "name",
            "arguments",
            "filters",
            "rate",
            "connection_request",
            "matched",
            "queued",
            "running",
            "done",
            "failed",
            "deleted",
            "finished",
            "created_at",
            "starts_at",
            "ends_at",
        ],
    },
    "Task": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "device": {
                "type": "object",
                "properties": {"oui": {"type": "string"}, "serial_number": {"type": "string"}},
                "required": ["oui", "serial_number"],
            },
            "name": {"type": "string", "enum": list(TASK_NAMES)},
            "arguments": {"type": "object"},
            "status": {"type": "string", "enum": [s.value for s in TaskStatus]},
            "attempts": {"type": "integer", "minimum": 0},
            "fault": {
                "type": ["object", "null"],
                "properties": {
                    "code": {"type": ["integer", "null"]},
                    "string": {"type": ["string", "null"]},
                },
            },
            "result": {"type": "object", "description": "values read, instance number, ..."},
            "created_at": {"type": "number"},
            "updated_at": {"type": "number"},
            "next_attempt_at": {"type": "number"},
            "trace_id": {"type": ["string", "null"]},
            "bulk_id": {
                "type": ["integer", "null"],
                "description": "the bulk job that queued it (GET /api/tasks/bulk/{id})",
            },
            "connection_request": {
                "type": "object",
                "description": "only with ?connection_request=true",
                "properties": {"outcome": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
        "required": [
            "id",
            "device",
            "name",
            "arguments",
            "status",
            "attempts",
            "fault",
            "result",
            "created_at",
            "updated_at",
            "next_attempt_at",
            "trace_id",
        ],
    },
    "TaskRequest": {
        "type": "object",
        "description": "GenieACS's task body: the name and its arguments, e.g. "
        '{"name": "setParameterValues", "parameterValues": [["Device.X", "1", "xsd:int"]]}',
        "properties": {"name": {"type": "string", "enum": list(TASK_NAMES)}},
        "required": ["name"],
    },
}

TASK_PATHS: Final[dict[str, dict[str, Schema]]] = {
    "/api/devices/{serial}/tasks": {
        "get": _op(
            "The device's tasks, newest first",
            {
                200: _json(
                    {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": _ref("Task")}},
                        "required": ["items"],
                    },
                    "The tasks",
                )
            },
            [
                _SERIAL,
                _OUI,
                _param("limit", "query", "most tasks (1-1000, default 100)", {"type": "integer"}),
            ],
            {404, 409},
        ),
        "post": {
            **_op(
                "Queue a task; optionally wake the device and wait for the result",
                {
                    200: _json(_ref("Task"), "The task ended (done or failed) within the timeout"),
                    202: _json(_ref("Task"), "The task is queued (or running)"),
                },
                [
                    _SERIAL,
                    _OUI,
                    _param(
                        "connection_request",
                        "query",
                        "send a connection request so the task runs now",
                        {"type": "boolean", "default": False},
                    ),
                    _param(
                        "timeout",
                        "query",
                        "seconds to wait for the result (0-300)",
                        {"type": "integer", "minimum": 0, "maximum": 300, "default": 0},
                    ),
                ],
                {404, 409, 415},
            ),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("TaskRequest")}},
            },
        },
    },
    "/api/tasks/bulk": {
        "post": {
            **_op(
                "Queue a task for every device the filters match, released at a rate",
                {202: _json(_ref("BulkJob"), "The job, with its matched devices")},
                [
                    *_DEVICE_FILTERS,
                    _param(
                        "all",
                        "query",
                        "required (true) when no filter is given: the whole fleet",
                        {"type": "boolean", "default": False},
                    ),
                    _param(
                        "rate",
                        "query",
                        "devices per second (tasks released and connection requests sent)",
                        {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": MAX_RATE,
                            "default": 10,
                        },
                    ),
                    _param(
                        "connection_request",
                        "query",
                        "wake each device at its release time",
                        {"type": "boolean", "default": False},
                    ),
                ],
                {415},
            ),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("TaskRequest")}},
            },
        },
    },
    "/api/tasks/bulk/{id}": {
        "get": _op(
            "A bulk job and its progress",
            {200: _json(_ref("BulkJob"), "The job")},
            [_param("id", "path", "bulk job id")],
            {404},
        ),
    },
    "/api/tasks/{id}": {
        "get": _op("One task", {200: _json(_ref("Task"), "The task")}, [_ID], {404}),
        "delete": _op("Cancel (delete) a task", {204: {"description": "Done"}}, [_ID], {404}),
    },
}
