"""Errors as JSON, bearer-token authorisation and the audit of writes.

Two middlewares, outermost first:

* `error_middleware` turns every failure into ``{"error": {...}}`` with the right
  status; an unexpected exception becomes a bare 500 (logged by type, never echoed).
* `auth_middleware` checks the ``Authorization: Bearer`` token against the role the
  route needs (read for GET, write for everything else unless the route says so),
  then records every write (and every refused write by a known token) in the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, Literal

from aiohttp import web

from traceacs.auth.tokens import ApiToken, authenticate, role_allows
from traceacs.provisioning.repository import (
    AmbiguousSerial,
    DeviceNotFound,
    RepositoryError,
    StorageUnavailable,
)
from traceacs.server.api.context import context_of
from traceacs.server.api.errors import ApiError, error_response

log = logging.getLogger("traceacs.server.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Access = Literal["public", "read", "write"]

ROUTE_ACCESS_KEY = web.AppKey("api_route_access", dict[web.AbstractRoute, Access])
TOKEN_KEY = web.RequestKey("api_token", ApiToken)
AUDIT_TARGET_KEY = web.RequestKey("api_audit_target", str)
READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="traceacs"'}
_INVALID: Final = {"WWW-Authenticate": 'Bearer realm="traceacs", error="invalid_token"'}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.details, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason, headers=_allow_header(exc))
    except AmbiguousSerial as exc:
        return error_response(409, str(exc))
    except DeviceNotFound as exc:
        return error_response(404, str(exc))
    except StorageUnavailable:
        log.error("api: %s %s: storage unavailable", request.method, request.path)
        return error_response(503, "the database is unavailable; retry later")
    except RepositoryError as exc:
        log.error("api: %s %s: storage error %s", request.method, request.path, type(exc).__name__)
        return error_response(500, "internal storage error")
    except Exception as exc:
        # The type is enough to find the bug; the message may quote request data.
        log.error("api: %s %s failed: %s", request.method, request.path, type(exc).__name__)
        return error_response(500, "internal error")


def _allow_header(exc: web.HTTPException) -> dict[str, str] | None:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else None


def set_audit_target(request: web.Request, target: str) -> None:
    """Name what a write acted on (default: the serial or name in the path)."""
    request[AUDIT_TARGET_KEY] = target[:200]


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _status_of(exc: BaseException) -> int:
    if isinstance(exc, ApiError | web.HTTPException):
        return exc.status
    if isinstance(exc, AmbiguousSerial):
        return 409
    if isinstance(exc, DeviceNotFound):
        return 404
    if isinstance(exc, StorageUnavailable):
        return 503
    return 500


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    access = request.app[ROUTE_ACCESS_KEY].get(route)
    if access is None or access == "public":  # public, or no such route (404/405)
        return await handler(request)
    context = context_of(request)
    presented = _bearer(request)
    if presented is None:
        raise ApiError(
            401, "an API token is required (Authorization: Bearer ...)", headers=_CHALLENGE
        )
    token = await authenticate(context.tokens, presented)
    if token is None:
        raise ApiError(401, "the API token is invalid or revoked", headers=_INVALID)
    request[TOKEN_KEY] = token
    audited = request.method not in READ_METHODS
    if not role_allows(token.role, access):
        if audited:
            await _audit(request, token, 403)
        raise ApiError(403, f"this needs a {access} token; {token.name!r} is {token.role}")
    if not audited:
        return await handler(request)
    try:
        response = await handler(request)
    except Exception as exc:
        await _audit(request, token, _status_of(exc))
        raise
    await _audit(request, token, response.status)
    return response


async def _audit(request: web.Request, token: ApiToken, status: int) -> None:
    target = request.get(AUDIT_TARGET_KEY)
    if target is None:
        match = request.match_info
        target = match.get("serial") or match.get("name") or match.get("id")
    try:
        await context_of(request).audit.record_audit(
            at=context_of(request).clock(),
            token_id=token.id,
            token_name=token.name,
            method=request.method,
            path=request.path,
            target=target,
            status=status,
        )
    except Exception as exc:  # the write already happened: report, do not hide its result
        log.error(
            "api: could not audit %s %s: %s", request.method, request.path, type(exc).__name__
        )
