"""Presets end to end: the real ACS and a simulated CPE over HTTP.

Two presets set the same parameter; the device carries the tag of the higher one. At
its next session (woken by a connection request) the higher weight's value reaches the
CPE, each preset application is a ``cpe.preset.apply`` span in the session's trace,
and the session after that pushes nothing again (same revisions).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan

from tests.tasks.live import Live, fleet_of, live
from tests.telemetry.conftest import Harness, make_harness
from traceacs.storage.tasks import SqlTaskStore

INTERVAL = "Device.ManagementServer.PeriodicInformInterval"


def _woken_roots(harness: Harness) -> list[ReadableSpan]:
    return [
        s
        for s in harness.finished_spans()
        if s.name == "cpe.inform"
        and "6 CONNECTION REQUEST" in str((s.attributes or {}).get("cpe.event_codes"))
    ]


async def _wake_and_wait(acs: Live, harness: Harness, sessions_before: int) -> ReadableSpan:
    """Send a connection request; the root span of the session it caused, once exported."""
    device = await acs.acs.repository.get_device_by_serial(acs.cpe().identity.serial_number)
    assert device is not None
    assert acs.acs.tasks is not None
    assert (await acs.acs.tasks.service.wake(device)).ok
    deadline = time.monotonic() + 15
    while len(_woken_roots(harness)) <= sessions_before:
        assert time.monotonic() < deadline, "the woken session did not end"
        await asyncio.sleep(0.05)
    return _woken_roots(harness)[-1]


async def test_presets_apply_once_with_precedence(tmp_path: Path) -> None:
    harness = make_harness()
    try:
        async with live(tmp_path, fleet_of(), telemetry=harness.telemetry) as acs:
            cpe = acs.cpe()
            serial, model = cpe.identity.serial_number, cpe.identity.product_class
            low = {"weight": 1, "condition": {"model": model}, "parameterValues": [[INTERVAL, 600]]}
            high = {"weight": 10, "condition": {"tag": "vip"}, "parameterValues": [[INTERVAL, 900]]}
            for name, body in (("low", low), ("high", high)):
                status, _ = await acs.api("PUT", f"api/presets/{name}", json=body)
                assert status == 201
            status, _ = await acs.api("PUT", f"api/devices/{serial}/tags/vip")
            assert status == 200

            root = await _wake_and_wait(acs, harness, 0)
            assert cpe.value(INTERVAL) == 900  # the higher weight won
            assert root.context is not None
            applied = {
                s.attributes["cpe.preset.name"]: s
                for s in harness.finished_spans()
                if s.name == "cpe.preset.apply"
                and s.attributes is not None
                and s.context is not None
                and s.context.trace_id == root.context.trace_id
            }
            assert set(applied) == {"low", "high"}
            assert applied["high"].attributes is not None
            assert applied["high"].attributes["cpe.preset.parameter_count"] == 1
            assert applied["low"].attributes is not None
            assert applied["low"].attributes["cpe.preset.overridden_count"] == 1
            assert applied["high"].parent is not None
            assert applied["high"].parent.span_id == root.context.span_id
            store = SqlTaskStore(acs.acs.repository.db, acs.acs.repository.secrets)  # type: ignore[attr-defined]
            (task,) = await store.device_tasks(cpe.identity.oui, serial)
            assert (task.name, task.status.value) == ("setParameterValues", "done")

            await _wake_and_wait(acs, harness, 1)  # a later session: nothing new
            assert len(await store.device_tasks(cpe.identity.oui, serial)) == 1
            assert sum(s.name == "cpe.preset.apply" for s in harness.finished_spans()) == 2

            high["parameterValues"] = [[INTERVAL, 1200]]  # a new revision goes out once more
            status, preset = await acs.api("PUT", "api/presets/high", json=high)
            assert (status, preset["revision"]) == (200, 2)
            await _wake_and_wait(acs, harness, 2)
            assert cpe.value(INTERVAL) == 1200
            assert len(await store.device_tasks(cpe.identity.oui, serial)) == 2
    finally:
        harness.telemetry.shutdown()
