"""``/api/presets`` (declarative presets, CRUD) and ``/api/devices/{serial}/tags/{tag}``.

``PUT /api/presets/{name}`` creates or replaces a preset (201 / 200); its revision goes
up only when the content changed, and devices then get it once more. Tags are added
with ``PUT`` and removed with ``DELETE`` (both idempotent: 200 either way, with the
device's tags). See `traceacs.presets.model` for the preset document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol

from aiohttp import web

from traceacs.presets.model import PresetError, check_name, parse_preset
from traceacs.server.api import params
from traceacs.server.api.context import context_of
from traceacs.server.api.devices import find_device
from traceacs.server.api.errors import ApiError, bad_request, not_found
from traceacs.storage.database import Database
from traceacs.storage.presets import SqlPresetStore
from traceacs.storage.tags import SqlTagStore
from traceacs.tasks.view import preset_view

if TYPE_CHECKING:
    from traceacs.storage.repository import SqlDeviceRepository


class PresetsChanged(Protocol):
    """Told after every preset write (the in-process applier reloads at once)."""

    def __call__(self) -> None: ...


PRESETS_CHANGED_KEY: Final = web.AppKey("api_presets_changed", PresetsChanged)


def _db(request: web.Request) -> Database:
    return _sql(request).db


def _presets(request: web.Request) -> SqlPresetStore:
    repository = _sql(request)
    return SqlPresetStore(repository.db, repository.secrets)


def _sql(request: web.Request) -> SqlDeviceRepository:
    from traceacs.storage.repository import SqlDeviceRepository

    repository = context_of(request).repository
    if not isinstance(repository, SqlDeviceRepository):
        raise ApiError(503, "presets and tags need the SQL store")
    return repository


def _changed(request: web.Request) -> None:
    callback = request.app.get(PRESETS_CHANGED_KEY)
    if callback is not None:
        callback()


async def list_presets(request: web.Request) -> web.Response:
    presets = await _presets(request).list_presets()
    return web.json_response({"items": [preset_view(p) for p in presets]})


async def get_preset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    preset = await _presets(request).get_preset(name)
    if preset is None:
        raise not_found(f"no preset {name[:64]!r}")
    return web.json_response(preset_view(preset))


async def put_preset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await params.json_body(request)
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object: weight, condition, action")
    try:
        preset = parse_preset(name, body)
    except PresetError as exc:
        raise bad_request(str(exc)) from None
    stored, created = await _presets(request).put_preset(preset, context_of(request).clock())
    _changed(request)
    return web.json_response(preset_view(stored), status=201 if created else 200)


async def delete_preset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if not await _presets(request).delete_preset(name):
        raise not_found(f"no preset {name[:64]!r}")
    _changed(request)
    return web.Response(status=204)


async def _tag_request(request: web.Request) -> tuple[SqlTagStore, str, str, str]:
    device = await find_device(request)
    try:
        tag = check_name(request.match_info["tag"], "tag")
    except PresetError as exc:
        raise bad_request(str(exc)) from None
    return SqlTagStore(_db(request)), device.oui, device.serial_number, tag


async def add_tag(request: web.Request) -> web.Response:
    store, oui, serial, tag = await _tag_request(request)
    await store.add_tag(oui, serial, tag)
    return web.json_response({"serial_number": serial, "tags": await store.tags_of(oui, serial)})


async def remove_tag(request: web.Request) -> web.Response:
    store, oui, serial, tag = await _tag_request(request)
    await store.remove_tag(oui, serial, tag)
    return web.json_response({"serial_number": serial, "tags": await store.tags_of(oui, serial)})
