"""The OpenAPI entries of the preset and tag routes (merged into `openapi`)."""

from __future__ import annotations

from typing import Any, Final

from traceacs.presets.model import CONDITION_KEYS, MAX_WEIGHT
from traceacs.server.api.tasks_openapi import _json, _param, _ref

Schema = dict[str, Any]

_ERRORS: Final = {
    400: "Bad input (the message says what)",
    401: "No API token, or an invalid or revoked one",
    403: "The token's role does not allow this",
    404: "No such preset or device",
    409: "The serial number is used by several OUIs: add ?oui=",
    415: "Unsupported Content-Type",
    503: "The database is unavailable; retry later",
}


def _op(summary: str, ok: dict[int, Schema], parameters: list[Schema], errors: set[int]) -> Schema:
    responses = {str(code): response for code, response in ok.items()}
    for code in sorted(errors | {401, 403, 503}):
        responses[str(code)] = _json(_ref("Error"), _ERRORS[code])
    return {
        "summary": summary,
        "tags": ["presets"],
        "responses": responses,
        "parameters": parameters,
    }


_NAME: Final = _param("name", "path", "preset name (1-64 of letters, digits, . _ : -)")
_SERIAL: Final = _param("serial", "path", "the device's serial number")
_OUI: Final = _param("oui", "query", "the device's OUI, when a serial is shared by several OUIs")
_TAG: Final = _param("tag", "path", "tag (1-64 of letters, digits, . _ : -)")
_VALUE: Final = {
    "type": "array",
    "description": "[name, value, type]",
    "minItems": 2,
    "maxItems": 3,
}

PRESET_SCHEMAS: Final[dict[str, Schema]] = {
    "PresetBody": {
        "type": "object",
        "description": "A preset: when the condition holds at a device's inform, set the "
        "values and run the tasks (once per revision; at every matching event when the "
        "condition names an event). The higher weight wins a parameter set by several.",
        "properties": {
            "weight": {"type": "integer", "minimum": -MAX_WEIGHT, "maximum": MAX_WEIGHT},
            "condition": {
                "type": "object",
                "properties": {k: {"type": "string"} for k in CONDITION_KEYS},
                "additionalProperties": False,
            },
            "parameterValues": {"type": "array", "items": _VALUE},
            "tasks": {"type": "array", "items": _ref("TaskRequest")},
        },
    },
    "Preset": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "weight": {"type": "integer"},
            "condition": {"type": "object", "additionalProperties": {"type": "string"}},
            "parameterValues": {"type": "array", "items": _VALUE},
            "tasks": {"type": "array", "items": {"type": "object"}},
            "revision": {"type": "integer", "minimum": 1},
            "created_at": {"type": "number"},
            "updated_at": {"type": "number"},
        },
        "required": [
            "name",
            "weight",
            "condition",
            "parameterValues",
            "tasks",
            "revision",
            "created_at",
            "updated_at",
        ],
    },
    "DeviceTags": {
        "type": "object",
        "properties": {
            "serial_number": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["serial_number", "tags"],
    },
}

PRESET_PATHS: Final[dict[str, dict[str, Schema]]] = {
    "/api/presets": {
        "get": _op(
            "Every preset, highest weight first",
            {
                200: _json(
                    {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": _ref("Preset")}},
                        "required": ["items"],
                    },
                    "The presets",
                )
            },
            [],
            set(),
        ),
    },
    "/api/presets/{name}": {
        "get": _op("One preset", {200: _json(_ref("Preset"), "The preset")}, [_NAME], {404}),
        "put": {
            **_op(
                "Create or replace a preset (its revision goes up when it changed)",
                {
                    200: _json(_ref("Preset"), "Replaced (or unchanged)"),
                    201: _json(_ref("Preset"), "Created"),
                },
                [_NAME],
                {400, 415},
            ),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("PresetBody")}},
            },
        },
        "delete": _op("Delete a preset", {204: {"description": "Done"}}, [_NAME], {404}),
    },
    "/api/devices/{serial}/tags/{tag}": {
        "put": _op(
            "Tag a device (idempotent)",
            {200: _json(_ref("DeviceTags"), "The device's tags")},
            [_SERIAL, _TAG, _OUI],
            {400, 404, 409},
        ),
        "delete": _op(
            "Remove a tag from a device (idempotent)",
            {200: _json(_ref("DeviceTags"), "The device's tags")},
            [_SERIAL, _TAG, _OUI],
            {400, 404, 409},
        ),
    },
}
