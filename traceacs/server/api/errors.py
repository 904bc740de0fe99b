"""API errors: one exception carrying the status, one JSON shape for every error.

Every error body is ``{"error": {"status": 404, "message": "...", ...}}`` (extra keys
such as ``rows`` or ``problems`` carry per-item detail). Messages are written for the
operator and never hold a secret or a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web


class ApiError(Exception):
    """Raised by handlers; the error middleware turns it into a JSON response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


def bad_request(message: str, **details: Any) -> ApiError:
    return ApiError(400, message, details=details)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def error_body(
    status: int, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {"error": {"status": status, "message": message, **(details or {})}}


def error_response(
    status: int,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    return web.json_response(error_body(status, message, details), status=status, headers=headers)
