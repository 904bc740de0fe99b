"""Checks a response against the OpenAPI document: status documented, body valid."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from traceacs.server.api.openapi import build_document


@cache
def _document() -> dict[str, Any]:
    return build_document()


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in _document()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        out.append((re.compile(f"^{pattern}$"), template))
    # literal paths first: /api/profiles/import before /api/profiles/{name}
    return sorted(out, key=lambda item: "{" in item[1])


def operation_for(method: str, path: str) -> dict[str, Any] | None:
    for pattern, template in _templates():
        if pattern.match(path):
            operation = _document()["paths"][template].get(method.lower())
            if operation is not None:
                return dict(operation)
    return None


def check_response(method: str, path: str, status: int, body: Any) -> None:
    """Raise AssertionError when the response is not what the document promises."""
    operation = operation_for(method, path)
    if operation is None:
        return  # not an API operation (404 / 405 of the router)
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {path}: status {status} is not documented"
    content = responses[str(status)].get("content")
    if content is None:
        assert body is None, f"{method} {path}: {status} documented without a body"
        return
    schema = {**content["application/json"]["schema"], "components": _document()["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{method} {path} {status}: {errors[0].message} at {list(errors[0].path)}"
