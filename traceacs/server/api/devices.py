"""``/api/devices``: search, show, delete, re-provision a device, and its attempts.

A device is addressed by serial number; when a serial is shared by several OUIs the
API answers 409 and the caller adds ``?oui=``.
"""

from __future__ import annotations

from typing import Final, cast, get_args

from aiohttp import web

from traceacs.provisioning.device import Device, ProvisioningState
from traceacs.provisioning.repository import AttemptFilter, DeviceFilter, DeviceSortKey
from traceacs.server.api import params
from traceacs.server.api.context import context_of
from traceacs.server.api.errors import bad_request, not_found
from traceacs.server.api.views import attempt_view, device_view

SORT_KEYS: Final[tuple[str, ...]] = get_args(DeviceSortKey)
STATES: Final = tuple(s.value for s in ProvisioningState)


def _sort(request: web.Request) -> tuple[DeviceSortKey, bool]:
    raw = params.text(request, "sort") or "serial_number"
    descending = raw.startswith("-")
    key = raw[1:] if descending else raw
    if key not in SORT_KEYS:
        raise bad_request(f"sort must be one of {', '.join(SORT_KEYS)} (prefix - to reverse)")
    return cast(DeviceSortKey, key), descending


def device_filter(request: web.Request) -> DeviceFilter:
    state = params.choice(request, "state", STATES)
    return DeviceFilter(
        serial_prefix=params.text(request, "serial"),
        mac=params.text(request, "mac"),
        customer_id=params.text(request, "customer_id"),
        model=params.text(request, "model"),
        firmware_version=params.text(request, "firmware"),
        state=ProvisioningState(state) if state else None,
        service_plan=params.text(request, "plan"),
        oui=params.text(request, "oui"),
        failed_step=params.text(request, "failed_step"),
        tag=params.text(request, "tag"),
    )


async def list_devices(request: web.Request) -> web.Response:
    filters = device_filter(request)
    sort_by, descending = _sort(request)
    limit, offset = params.page(request)
    repository = context_of(request).repository
    devices = await repository.list_devices(
        filters, sort_by=sort_by, descending=descending, limit=limit, offset=offset
    )
    total = await repository.count_devices(filters)
    tags = await tags_of_page(request, devices)
    return web.json_response(
        {
            "items": [
                {**device_view(d), "tags": tags.get((d.oui, d.serial_number), [])} for d in devices
            ],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


async def tags_of_page(
    request: web.Request, devices: list[Device]
) -> dict[tuple[str, str], list[str]]:
    """The operator tags of these devices (none without the SQL store)."""
    from traceacs.storage.repository import SqlDeviceRepository
    from traceacs.storage.tags import SqlTagStore

    repository = context_of(request).repository
    if not devices or not isinstance(repository, SqlDeviceRepository):
        return {}
    return await SqlTagStore(repository.db).tags_of_many(
        [(d.oui, d.serial_number) for d in devices]
    )


async def find_device(request: web.Request) -> Device:
    """The device named by the path (and ``?oui=``); 404 when unknown."""
    serial = params.path(request, "serial")
    oui = params.text(request, "oui")
    repository = context_of(request).repository
    if oui is not None:
        device = await repository.get_device(oui, serial)
    else:
        device = await repository.get_device_by_serial(serial)
    if device is None:
        raise not_found(f"no device with serial number {serial!r}")
    return device


async def get_device(request: web.Request) -> web.Response:
    device = await find_device(request)
    attempts = await context_of(request).repository.list_attempts(
        AttemptFilter(oui=device.oui, serial_number=device.serial_number), limit=1
    )
    view = device_view(device, detail=True)
    view["tags"] = (await tags_of_page(request, [device])).get(
        (device.oui, device.serial_number), []
    )
    view["last_attempt"] = attempt_view(attempts[0]) if attempts else None
    return web.json_response(view)


async def delete_device(request: web.Request) -> web.Response:
    device = await find_device(request)
    if not await context_of(request).repository.delete_device(device.oui, device.serial_number):
        raise not_found(f"no device with serial number {device.serial_number!r}")
    return web.Response(status=204)


async def reprovision(request: web.Request) -> web.Response:
    """Back to ``new``: the next inform of the device runs the whole workflow again."""
    device = await find_device(request)
    context = context_of(request)
    updated = await context.repository.set_state(
        device.oui, device.serial_number, ProvisioningState.NEW, context.clock()
    )
    if updated is None:  # deleted between the two statements
        raise not_found(f"no device with serial number {device.serial_number!r}")
    return web.json_response(device_view(updated, detail=True))


async def device_attempts(request: web.Request) -> web.Response:
    device = await find_device(request)
    limit, offset = params.page(request)
    attempts = await context_of(request).repository.list_attempts(
        AttemptFilter(oui=device.oui, serial_number=device.serial_number),
        limit=limit,
        offset=offset,
    )
    return web.json_response(
        {"items": [attempt_view(a) for a in attempts], "limit": limit, "offset": offset}
    )
