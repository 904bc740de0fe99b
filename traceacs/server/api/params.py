"""Reading query parameters and bodies, with a 400 that names the bad parameter.

Handlers never see a raw ``ValueError`` from ``int("abc")``: each helper validates and
raises `ApiError` with a message such as ``limit must be an integer from 1 to 1000``.

No text the API takes may hold a NUL character: PostgreSQL cannot store one (nor
compare with one), so a ``?oui=%00`` or a ``"\u0000"`` in a profile would fail deep
in the store as a 500 on one engine and pass on the other. Refused here, on both
engines alike, with a 400 naming where it was.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from traceacs.server.api.errors import ApiError, bad_request

MAX_LIMIT: Final = 1000
DEFAULT_LIMIT: Final = 100
MAX_OFFSET: Final = 10_000_000


NUL: Final = "\x00"


def _no_nul(value: str, where: str) -> str:
    if NUL in value:
        raise bad_request(f"{where} must not contain NUL characters")
    return value


def refuse_nul(value: Any, where: str = "the body") -> Any:
    """``value`` (decoded JSON or YAML), unless a key or string in it holds a NUL."""
    if isinstance(value, str):
        _no_nul(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                _no_nul(key, where)
            refuse_nul(item, where)
    elif isinstance(value, list):
        for item in value:
            refuse_nul(item, where)
    return value


def path(request: web.Request, name: str) -> str:
    """A path parameter (never empty: the router would not have matched)."""
    return _no_nul(request.match_info[name], name)


def text(request: web.Request, name: str) -> str | None:
    """A query parameter; absent or empty means ``None`` (no condition)."""
    value = request.query.get(name)
    return _no_nul(value, name) if value else None


def integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise bad_request(f"{name} must be an integer from {low} to {high}")
    return value


def page(request: web.Request) -> tuple[int, int]:
    """``limit`` (1..1000, default 100) and ``offset`` (from 0)."""
    return (
        integer(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        integer(request, "offset", 0, 0, MAX_OFFSET),
    )


def timestamp(request: web.Request, name: str) -> float | None:
    """Epoch seconds, or an ISO 8601 date-time (UTC unless it names a zone)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise bad_request(
                f"{name} must be epoch seconds or an ISO 8601 date-time, not {raw[:40]!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if not math.isfinite(value):
        raise bad_request(f"{name} must be a finite number of epoch seconds")
    return value


def choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = text(request, name)
    if value is not None and value not in allowed:
        raise bad_request(f"{name} must be one of {', '.join(allowed)}")
    return value


def media_type(request: web.Request) -> str:
    return request.content_type.lower()


async def json_body(request: web.Request) -> Any:
    """The decoded JSON body; 415 for another media type, 400 for invalid JSON."""
    if media_type(request) != "application/json":
        raise ApiError(415, "the body must be JSON (Content-Type: application/json)")
    return decode_json(await request.read())


def decode_json(raw: bytes) -> Any:
    try:
        return refuse_nul(json.loads(raw.decode("utf-8-sig")))
    except UnicodeDecodeError:
        raise bad_request("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
