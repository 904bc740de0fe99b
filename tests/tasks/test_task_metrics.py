"""``cpe.task.count`` and ``cpe.task.duration``: what the runner reports, what the
instruments keep (task name and result only, never a device), what /metrics shows."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.metrics.export import HistogramDataPoint

from tests.tasks.live import fleet_of, live
from tests.tasks.test_task_session import INFORM, MemoryStore, Telemetry, session
from tests.telemetry.conftest import Harness, make_harness
from traceacs.app import add_metrics_route
from traceacs.cwmp import messages as m
from traceacs.tasks.model import TaskRetryPolicy


async def test_runner_reports_each_outcome_with_its_duration() -> None:
    store = MemoryStore()
    store.queue("getParameterValues", {"parameterNames": ["Device.A"]})
    store.queue("setParameterValues", {"parameterValues": [["Device.A", "1", "string"]]})
    last_try = store.queue("addObject", {"objectName": "Device.X."})
    store.tasks[last_try.id] = replace(last_try, attempts=TaskRetryPolicy().max_attempts - 1)
    store.queue("deleteObject", {"objectName": "Device.X.1."})
    telemetry = Telemetry()
    tasks = session(store, telemetry)
    await tasks.on_inform(INFORM, 100.0)
    await tasks.next_acs_request(100.0)
    await tasks.on_cpe_response(
        m.GetParameterValuesResponse((m.ParameterValueStruct("Device.A", "v"),)), 100.25
    )
    await tasks.next_acs_request(100.25)
    await tasks.on_cpe_response(m.CwmpFault(9003, "Invalid arguments"), 101.0)
    await tasks.next_acs_request(101.0)
    await tasks.on_cpe_response(m.CwmpFault(9002, "Internal error"), 101.5)
    await tasks.next_acs_request(101.5)  # deleteObject sent; the session then drops
    await tasks.on_session_end("dropped", 103.0)

    assert telemetry.tasks_finished == [
        ("getParameterValues", "done", 250.0),
        ("setParameterValues", "retry", 750.0),
        ("addObject", "failed", 500.0),  # attempts ran out
        ("deleteObject", "interrupted", 1500.0),
    ]


async def test_instruments_keep_only_task_name_and_result() -> None:
    harness = make_harness()
    try:
        _check_task_instruments(harness)
    finally:
        harness.telemetry.shutdown()


def _check_task_instruments(harness: Harness) -> None:
    harness.port.task_finished("reboot", "done", 120.0)
    harness.port.task_finished("reboot", "done", 80.0)
    harness.port.task_finished("download", "waiting", 40.0)
    harness.port.task_finished("download", "done", None)  # finished by TransferComplete
    counts = {
        (p.attributes["cpe.task.name"], p.attributes["result"]): p.value  # type: ignore[union-attr,index]
        for p in harness.points("cpe.task.count")
    }
    assert counts == {("reboot", "done"): 2, ("download", "waiting"): 1, ("download", "done"): 1}
    durations = {
        (p.attributes["cpe.task.name"], p.attributes["result"]): (p.count, p.sum)  # type: ignore[index]
        for p in harness.points("cpe.task.duration")
        if isinstance(p, HistogramDataPoint)
    }
    assert durations == {("reboot", "done"): (2, 200.0), ("download", "waiting"): (1, 40.0)}
    for point in harness.points("cpe.task.count"):
        assert set(point.attributes or {}) == {"cpe.task.name", "result"}
    assert harness.metric_map()["cpe.task.duration"].unit == "ms"


async def test_a_live_task_shows_on_metrics(tmp_path: Path) -> None:
    harness = make_harness()
    try:
        async with live(tmp_path, fleet_of(), telemetry=harness.telemetry) as acs:
            serial = acs.cpe().identity.serial_number
            body = {"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo."]}
            status, task = await acs.task(serial, body)
            assert (status, task["status"]) == (200, "done"), task
            registry = harness.telemetry.prometheus_registry
            assert registry is not None
            app = web.Application()
            add_metrics_route(app, registry)
            client = TestClient(TestServer(app, host="127.0.0.1", port=0))
            await client.start_server()
            try:
                response = await client.get("/metrics")
                text = await response.text()
            finally:
                await client.close()
            assert response.status == 200
            for series in ("cpe_task_count_total", "cpe_task_duration_milliseconds_count"):
                line = re.compile(
                    series + r'\{cpe_task_name="getParameterValues",[^}]*result="done"\} 1\.0$',
                    re.MULTILINE,
                )
                assert line.search(text), series
            assert serial not in text
    finally:
        harness.telemetry.shutdown()
