"""The OpenAPI 3.1 document of the API, served at ``GET /api/openapi.json``.

Written by hand next to the routes and kept true by tests: one walks the router and
checks every ``/api`` route is documented and every documented operation exists, one
validates the document, and the API tests check responses against these schemas.
"""

from __future__ import annotations

import json
from typing import Any, Final

from aiohttp import web

from traceacs import __version__
from traceacs.provisioning.device import ProvisioningState
from traceacs.server.api.presets_openapi import PRESET_PATHS, PRESET_SCHEMAS
from traceacs.server.api.tasks_openapi import TASK_PATHS, TASK_SCHEMAS

Schema = dict[str, Any]

_ERROR_STATUSES: Final = {
    400: "Bad input (the message names the parameter or the bad rows)",
    401: "No API token, or an invalid or revoked one",
    403: "The token's role does not allow this",
    404: "No such device, profile or attempt",
    409: "The serial number is used by several OUIs: add ?oui=",
    415: "Unsupported Content-Type",
    503: "The database is unavailable; retry later",
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **more: Any) -> Schema:
    return {"type": [kind, "null"], **more}


def _obj(properties: dict[str, Schema], *, required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


def _page_of(item: str, *, total: bool = False) -> Schema:
    props: dict[str, Schema] = {"items": {"type": "array", "items": _ref(item)}}
    if total:
        props["total"] = {"type": "integer", "minimum": 0}
    props["limit"] = {"type": "integer"}
    props["offset"] = {"type": "integer"}
    return _obj(props)


_COUNTS: Final[Schema] = _obj(
    {
        "attempts": {"type": "integer"},
        "finished": {"type": "integer"},
        "in_progress": {"type": "integer"},
        "failed": {"type": "integer"},
        "failure_rate": _nullable("number"),
        "by_result": {"type": "object", "additionalProperties": {"type": "integer"}},
    }
)

_DEVICE_PROPS: Final[dict[str, Schema]] = {
    "oui": {"type": "string"},
    "serial_number": {"type": "string"},
    "product_class": _nullable("string"),
    "mac": _nullable("string"),
    "customer_id": {"type": "string"},
    "service_plan": {"type": "string"},
    "location_id": {"type": "string"},
    "state": {"type": "string", "enum": [s.value for s in ProvisioningState]},
    "failed_step": _nullable("string"),
    "failure_reason": _nullable("string"),
    "manufacturer": _nullable("string"),
    "model": _nullable("string"),
    "firmware_version": _nullable("string"),
    "data_model_root": _nullable("string"),
    "profile_version": _nullable("string"),
    "last_inform_at": _nullable("number"),
    "last_boot_at": _nullable("number"),
    "created_at": {"type": "number"},
    "updated_at": {"type": "number"},
}

_TAGS: Final[Schema] = {
    "type": "array",
    "items": {"type": "string"},
    "description": "operator tags (device list and device detail)",
}

SCHEMAS: Final[dict[str, Schema]] = {
    "Error": _obj(
        {
            "error": {
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "message": {"type": "string"},
                    "rows": {
                        "type": "array",
                        "description": "inventory import: every problem, where and which field",
                        "items": _obj(
                            {
                                "where": {"type": "string"},
                                "field": _nullable("string"),
                                "message": {"type": "string"},
                            }
                        ),
                    },
                    "problems": {
                        "type": "array",
                        "description": "profile validation: every problem, with field paths",
                        "items": {"type": "string"},
                    },
                },
                "required": ["status", "message"],
            }
        }
    ),
    "Device": _obj({**_DEVICE_PROPS, "tags": _TAGS}, required=list(_DEVICE_PROPS)),
    "DeviceDetail": _obj(
        {
            **_DEVICE_PROPS,
            "tags": _TAGS,
            "connection_request_url": _nullable("string"),
            "connection_request_username": _nullable("string"),
            "has_connection_request_password": {"type": "boolean"},
            "parameter_key": _nullable("string"),
            "last_values": {
                "type": "object",
                "description": "values last read from the device; secret ones masked",
                "additionalProperties": {"type": "string"},
            },
            "last_attempt": {"oneOf": [_ref("Attempt"), {"type": "null"}]},
        },
        required=[*_DEVICE_PROPS, "last_values", "has_connection_request_password"],
    ),
    "DevicePage": _page_of("Device", total=True),
    "Attempt": _obj(
        {
            "id": {"type": "integer"},
            "oui": {"type": "string"},
            "serial_number": {"type": "string"},
            "started_at": {"type": "number"},
            "ended_at": _nullable("number"),
            "duration_s": _nullable("number"),
            "result": _nullable("string"),
            "in_progress": {"type": "boolean"},
            "failing_step": _nullable("string"),
            "fault_code": _nullable("integer"),
            "fault_string": _nullable("string"),
            "details": {"type": "object"},
            "trace_id": _nullable("string", description="W3C trace id in the tracing backend"),
        }
    ),
    "AttemptPage": _page_of("Attempt"),
    "ImportResult": _obj(
        {
            "created": {"type": "integer"},
            "updated": {"type": "integer"},
            "total": {"type": "integer"},
        }
    ),
    "ProfileSummary": _obj({"name": {"type": "string"}, "version": {"type": "string"}}),
    "ProfileList": _obj({"items": {"type": "array", "items": _ref("ProfileSummary")}}),
    "ProfileDocument": {
        "type": "object",
        "description": "A service profile document (traceacs.profiles.document); "
        "secrets read as [REDACTED] and may be sent back as such to keep them",
        "properties": {
            "name": {"type": "string"},
            "version": {"type": ["string", "integer"]},
            "services": {
                "type": "array",
                "items": {"type": "string", "enum": ["internet", "voip", "iptv"]},
            },
            "wifi": {"type": "object"},
            "vlans": {"type": "object"},
            "voip_lines": {"type": "array", "items": {"type": "object"}},
            "iptv": {"type": "object"},
            "extra_parameters": {"type": "array", "items": {"type": "object"}},
            "target_firmware": {"type": "string"},
            "firmware": {
                "type": "object",
                "description": "target firmware per model (ProductClass): the image, by its "
                "file-store name, that provisioning installs when the device reports another "
                "SoftwareVersion",
                "additionalProperties": {
                    "type": "object",
                    "required": ["version", "file"],
                    "additionalProperties": False,
                    "properties": {"version": {"type": "string"}, "file": {"type": "string"}},
                },
            },
        },
    },
    "ProfileWriteResult": _obj(
        {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "status": {"type": "string", "enum": ["created", "updated", "unchanged"]},
        }
    ),
    "ProfileImportResult": _obj({"items": {"type": "array", "items": _ref("ProfileWriteResult")}}),
    "Counts": _COUNTS,
    "Alert": _obj(
        {
            "name": {"type": "string"},
            "firing": {"type": "boolean"},
            "value": _nullable("number"),
            "threshold": {"type": "number"},
            "description": {"type": "string"},
        }
    ),
    "Summary": _obj(
        {
            "window_s": {"type": "integer"},
            "since": {"type": "number"},
            "until": {"type": "number"},
            **_COUNTS["properties"],
            "by_model": {"type": "object", "additionalProperties": _ref("Counts")},
            "by_plan": {"type": "object", "additionalProperties": _ref("Counts")},
            "duration_s": _obj(
                {
                    "count": {"type": "integer"},
                    "mean": _nullable("number"),
                    "max": _nullable("number"),
                    "p50": _nullable("number"),
                    "p90": _nullable("number"),
                    "p95": _nullable("number"),
                    "p99": _nullable("number"),
                }
            ),
            "sessions": _obj({"active": _nullable("integer"), "capacity": _nullable("integer")}),
            "alerts": {"type": "array", "items": _ref("Alert")},
            "firing": {"type": "array", "items": {"type": "string"}},
        }
    ),
    "AuditEntry": _obj(
        {
            "id": {"type": "integer"},
            "at": {"type": "number"},
            "token_id": _nullable("integer"),
            "token_name": _nullable("string"),
            "method": {"type": "string"},
            "path": {"type": "string"},
            "target": _nullable("string"),
            "status": {"type": "integer"},
        }
    ),
    "AuditPage": _page_of("AuditEntry"),
    "Token": _obj(
        {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "role": {"type": "string", "enum": ["read", "write"]},
            "created_at": {"type": "number"},
            "revoked_at": _nullable("number"),
        }
    ),
    "Span": _obj(
        {
            "name": {"type": "string"},
            "span_id": {"type": "string"},
            "parent_span_id": _nullable("string"),
            "depth": {"type": "integer", "minimum": 0, "description": "depth in the span tree"},
            "offset_ms": {"type": "number", "description": "start, from the trace's start"},
            "duration_ms": {"type": "number"},
            "status": {"type": "string", "enum": ["unset", "ok", "error"]},
            "status_message": {"type": "string"},
            "failing": {"type": "boolean", "description": "this span is the failing step"},
            "attributes": {"type": "object", "description": "span attributes (redacted)"},
        }
    ),
    "TraceFailure": _obj(
        {
            "step": _nullable("string", description="e.g. verify, push_config, firmware"),
            "span_id": _nullable("string"),
            "reason": {"type": "string"},
            "fault_code": _nullable("integer"),
            "fault_string": _nullable("string"),
            "mismatched_parameters": {"type": "array", "items": {"type": "string"}},
        }
    ),
    "Trace": _obj(
        {
            "trace_id": {"type": "string", "description": "W3C trace id in the tracing backend"},
            "serial_number": {"type": "string"},
            "oui": {"type": "string"},
            "started_at": {"type": "number"},
            "duration_ms": {"type": "number"},
            "total_ms": {"type": "number", "description": "the time axis: last span end"},
            "result": {"type": "string"},
            "failing_step": _nullable("string"),
            "status": {"type": "string"},
            "reason": {"type": "string"},
            "span_count": {"type": "integer"},
            "failure": {"oneOf": [_ref("TraceFailure"), {"type": "null"}]},
            "spans": {"type": "array", "items": _ref("Span")},
        }
    ),
    "Timeseries": _obj(
        {
            "window_s": {"type": "integer"},
            "bucket_s": {"type": "integer"},
            "since": {"type": "number"},
            "until": {"type": "number"},
            "buckets": {
                "type": "array",
                "items": _obj(
                    {
                        "start": {"type": "number"},
                        "attempts": {"type": "integer"},
                        "finished": {"type": "integer"},
                        "succeeded": {"type": "integer"},
                        "failed": {"type": "integer"},
                        "failure_rate": _nullable("number"),
                        "mean_duration_s": _nullable("number"),
                    }
                ),
            },
        }
    ),
    "DurationHistogram": _obj(
        {
            "window_s": {"type": "integer"},
            "since": {"type": "number"},
            "until": {"type": "number"},
            "buckets": {
                "type": "array",
                "items": _obj(
                    {
                        "le": _nullable("number", description="upper bound (s); null: above"),
                        "count": {"type": "integer"},
                    }
                ),
            },
        }
    ),
    "FailureGroups": _obj(
        {
            "items": {
                "type": "array",
                "items": _obj(
                    {
                        "result": _nullable("string"),
                        "step": _nullable("string"),
                        "model": _nullable("string"),
                        "fault_code": _nullable("integer"),
                        "count": {"type": "integer"},
                    }
                ),
            },
            "total_devices": {"type": "integer"},
        }
    ),
    "DevicePageNoTotal": _page_of("Device"),
    **TASK_SCHEMAS,
    **PRESET_SCHEMAS,
}


EXAMPLES: Final = {
    "serial": "CP2045A0123",
    "profile": "fiber-500",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "id": "1",
}
"""The path parameters' examples (clients see them in the document; the schemathesis
run seeds a store where they name real rows)."""


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _path(name: str, description: str, example: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
        "example": example,
    }


_PAGE: Final = [
    _query(
        "limit",
        "page size (1-1000, default 100)",
        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    ),
    _query("offset", "rows to skip", {"type": "integer", "minimum": 0, "default": 0}),
]
_SERIAL: Final = _path("serial", "the device's serial number", EXAMPLES["serial"])
_OUI: Final = _query("oui", "the device's OUI, when a serial is shared by several OUIs")
_NAME: Final = _path("name", "profile name (a plan, or customer:<id>)", EXAMPLES["profile"])
_WINDOW: Final = _query(
    "window",
    "window in seconds (default 3600)",
    {"type": "integer", "minimum": 1, "maximum": 90 * 86400, "default": 3600},
)
_TIME: Final = {"type": "string", "description": "epoch seconds or ISO 8601 date-time"}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    tag: str,
    ok: dict[int, Schema],
    *,
    parameters: list[Schema] | None = None,
    body: Schema | None = None,
    errors: tuple[int, ...] = (),
    public: bool = False,
) -> Schema:
    responses: dict[str, Schema] = {str(code): response for code, response in ok.items()}
    statuses = set(errors) | ({400} if parameters else set())
    if body is not None:
        statuses |= {400}
    if not public:
        statuses |= {401, 403, 503}
    for code in sorted(statuses):
        responses[str(code)] = _json(_ref("Error"), _ERROR_STATUSES[code])
    op: Schema = {"summary": summary, "tags": [tag], "responses": responses}
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    if public:
        op["security"] = []
    return op


_NO_CONTENT: Final = {"description": "Done"}

PATHS: Final[dict[str, dict[str, Schema]]] = {
    "/api/openapi.json": {
        "get": _op(
            "This document", "meta", {200: _json({"type": "object"}, "OpenAPI 3.1")}, public=True
        )
    },
    "/api/devices": {
        "get": _op(
            "Search devices (filtered, sorted and paged by the database)",
            "devices",
            {200: _json(_ref("DevicePage"), "A page of devices and the total count")},
            parameters=[
                _query("serial", "serial number or its beginning"),
                _query("mac", "MAC address (case-insensitive)"),
                _query("customer_id", "customer id"),
                _query("model", "model reported by the device"),
                _query("firmware", "firmware version reported by the device"),
                _query(
                    "state",
                    "provisioning state",
                    {"type": "string", "enum": [s.value for s in ProvisioningState]},
                ),
                _query("plan", "service plan"),
                _query("oui", "OUI"),
                _query("failed_step", "the step a failed device failed at"),
                _query("tag", "devices carrying this tag"),
                _query(
                    "sort",
                    "sort key, prefixed with - for descending",
                    {
                        "type": "string",
                        "pattern": "^-?(serial_number|oui|customer_id|state|"
                        "model|last_inform_at|created_at|updated_at)$",
                        "default": "serial_number",
                    },
                ),
                *_PAGE,
            ],
        )
    },
    "/api/devices/{serial}": {
        "get": _op(
            "A device with its last values (secrets masked) and last attempt",
            "devices",
            {200: _json(_ref("DeviceDetail"), "The device")},
            parameters=[_SERIAL, _OUI],
            errors=(404, 409),
        ),
        "delete": _op(
            "Remove a device and its attempt history",
            "devices",
            {204: _NO_CONTENT},
            parameters=[_SERIAL, _OUI],
            errors=(404, 409),
        ),
    },
    "/api/devices/{serial}/reprovision": {
        "post": _op(
            "Re-provision now: state back to new, the next inform provisions again",
            "devices",
            {200: _json(_ref("DeviceDetail"), "The device, now in state new")},
            parameters=[_SERIAL, _OUI],
            errors=(404, 409),
        )
    },
    "/api/devices/{serial}/attempts": {
        "get": _op(
            "A device's provisioning attempts, newest first",
            "attempts",
            {200: _json(_ref("AttemptPage"), "A page of attempts")},
            parameters=[_SERIAL, _OUI, *_PAGE],
            errors=(404, 409),
        )
    },
    "/api/inventory": {
        "post": _op(
            "Import devices (upsert by OUI + serial); any bad row imports nothing",
            "inventory",
            {200: _json(_ref("ImportResult"), "How many devices were created and updated")},
            body={
                "required": True,
                "description": "CSV with a header (serial_number, oui, product_class, "
                "customer_id, service_plan, location_id, [mac, connection_request_username,"
                " connection_request_password]) or JSON: a list of such objects",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"type": "array", "items": {"type": "object"}},
                                _obj({"devices": {"type": "array", "items": {"type": "object"}}}),
                            ]
                        }
                    },
                },
            },
            errors=(415,),
        )
    },
    "/api/profiles": {
        "get": _op(
            "Stored service profiles (the embedded profile source)",
            "profiles",
            {200: _json(_ref("ProfileList"), "Names and versions")},
        )
    },
    "/api/profiles/import": {
        "post": _op(
            "Import several profiles (JSON or YAML); any invalid document imports nothing",
            "profiles",
            {200: _json(_ref("ProfileImportResult"), "What happened to each profile")},
            body={
                "required": True,
                "content": {
                    mime: {
                        "schema": {
                            "oneOf": [
                                {"type": "array", "items": _ref("ProfileDocument")},
                                _obj(
                                    {
                                        "profiles": {
                                            "type": "array",
                                            "items": _ref("ProfileDocument"),
                                        }
                                    }
                                ),
                            ]
                        }
                    }
                    for mime in ("application/json", "application/yaml")
                },
            },
            errors=(415,),
        )
    },
    "/api/profiles/{name}": {
        "get": _op(
            "A profile document, secrets masked",
            "profiles",
            {200: _json(_ref("ProfileDocument"), "The document")},
            parameters=[_NAME],
            errors=(404,),
        ),
        "put": _op(
            "Create or replace a profile",
            "profiles",
            {
                200: _json(_ref("ProfileWriteResult"), "Updated (or unchanged)"),
                201: _json(_ref("ProfileWriteResult"), "Created"),
            },
            parameters=[_NAME],
            body={
                "required": True,
                "content": {"application/json": {"schema": _ref("ProfileDocument")}},
            },
            errors=(415,),
        ),
        "delete": _op(
            "Delete a profile", "profiles", {204: _NO_CONTENT}, parameters=[_NAME], errors=(404,)
        ),
    },
    "/api/attempts": {
        "get": _op(
            "Provisioning attempts across the fleet, newest first",
            "attempts",
            {200: _json(_ref("AttemptPage"), "A page of attempts")},
            parameters=[
                _query(
                    "result", "result class, e.g. success, verification_failed, firmware_failed"
                ),
                _query("step", "failing step, e.g. push_config, firmware"),
                _query("model", "device model"),
                _query("serial", "device serial number"),
                _query("oui", "device OUI"),
                _query(
                    "state",
                    "running or finished attempts only",
                    {"type": "string", "enum": ["in_progress", "finished"]},
                ),
                _query("from", "started at or after", _TIME),
                _query("to", "started before", _TIME),
                *_PAGE,
            ],
        )
    },
    "/api/attempts/{id}": {
        "get": _op(
            "One attempt, with its trace id",
            "attempts",
            {200: _json(_ref("Attempt"), "The attempt")},
            parameters=[_path("id", "attempt id", EXAMPLES["id"])],
            errors=(404,),
        )
    },
    "/api/summary": {
        "get": _op(
            "Fleet summary over a window: results, failure rates, durations, sessions, alerts",
            "fleet",
            {200: _json(_ref("Summary"), "The summary")},
            parameters=[
                _query(
                    "window",
                    "window in seconds (default 3600)",
                    {"type": "integer", "minimum": 1, "maximum": 90 * 86400, "default": 3600},
                ),
            ],
        )
    },
    "/api/devices/{serial}/trace": {
        "get": _op(
            "The device's latest provisioning trace (embedded store), failing step pulled out",
            "traces",
            {200: _json(_ref("Trace"), "Spans on the trace's time axis and the failure")},
            parameters=[_SERIAL, _OUI],
            errors=(404, 409),
        )
    },
    "/api/traces/{trace_id}": {
        "get": _op(
            "A trace by id (as in an attempt's trace_id)",
            "traces",
            {200: _json(_ref("Trace"), "The trace")},
            parameters=[_path("trace_id", "32 hexadecimal digits", EXAMPLES["trace_id"])],
            errors=(404,),
        )
    },
    "/api/summary/timeseries": {
        "get": _op(
            "Attempts, successes and failure rate per time bucket over a window",
            "fleet",
            {200: _json(_ref("Timeseries"), "Every bucket of the window, oldest first")},
            parameters=[
                _WINDOW,
                _query(
                    "bucket",
                    "bucket in seconds (default: window / 60); at most 1000 buckets",
                    {"type": "integer", "minimum": 1, "maximum": 90 * 86400},
                ),
            ],
        )
    },
    "/api/summary/durations": {
        "get": _op(
            "Histogram of provisioning durations over a window",
            "fleet",
            {200: _json(_ref("DurationHistogram"), "Counts per duration bucket")},
            parameters=[_WINDOW],
        )
    },
    "/api/failures": {
        "get": _op(
            "Failed devices grouped by result, step, model and fault code of their last attempt",
            "fleet",
            {200: _json(_ref("FailureGroups"), "Groups, largest first")},
            parameters=[
                _query(
                    "limit",
                    "most groups returned (default 100)",
                    {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                )
            ],
        )
    },
    "/api/failures/devices": {
        "get": _op(
            "The failed devices of one group (every field given, or named in missing=)",
            "fleet",
            {200: _json(_ref("DevicePageNoTotal"), "A page of devices")},
            parameters=[
                _query("result", "the group's result"),
                _query("step", "the group's failing step"),
                _query("model", "the group's model"),
                _query("fault_code", "the group's fault code", {"type": "integer"}),
                _query(
                    "missing",
                    "comma-separated group fields that are null, e.g. fault_code",
                    {"type": "string", "pattern": "^((result|step|model|fault_code),?)*$"},
                ),
                *_PAGE,
            ],
        )
    },
    "/api/audit": {
        "get": _op(
            "The audit log of writes, newest first (write tokens only)",
            "audit",
            {200: _json(_ref("AuditPage"), "A page of audit entries")},
            parameters=[
                _query("token_id", "only this token's writes", {"type": "integer", "minimum": 1}),
                *_PAGE,
            ],
        )
    },
    "/api/token": {
        "get": _op(
            "The token this request carries: its id, name and role (never the token)",
            "meta",
            {200: _json(_ref("Token"), "The caller's token")},
        )
    },
    **TASK_PATHS,
    **PRESET_PATHS,
}


def build_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "TraceACS API",
            "version": __version__,
            "description": "Devices, inventory, service profiles, provisioning attempts and "
            "the fleet summary of a TraceACS ACS. Every operation needs an API token "
            "(`traceacs tokens create --role read|write`) sent as `Authorization: Bearer`;"
            ' read tokens may only GET. Errors are `{"error": {"status", "message"}}`.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerToken": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "tacs_..."}
            },
            "schemas": SCHEMAS,
        },
    }


_DOCUMENT_TEXT: Final = json.dumps(build_document())


async def serve_document(request: web.Request) -> web.Response:
    return web.Response(text=_DOCUMENT_TEXT, content_type="application/json")
