"""A connection request is a span, and the session it causes links to it.

Unit level: the registry (`ConnectionRequestTraces`) and the composite handler that
puts the reference on the session's root. End to end: the real ACS sends a connection
request to a simulated CPE; the exported ``cpe.connection_request`` span and the next
session's ``cpe.inform`` root are connected by a real OTel span link, and the embedded
trace store keeps the reference on the root (what the console follows).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.tasks.live import fleet_of, live
from tests.tasks.test_task_session import INFORM, MemoryStore, Provisioning, session
from tests.telemetry.conftest import Harness, make_harness
from traceacs.cwmp import messages as m
from traceacs.provisioning.trace_recorder import to_ns
from traceacs.server.connection_request import ConnectionRequestOutcome, ConnectionRequestResult
from traceacs.storage.traces import open_trace_store
from traceacs.tasks.composite import CompositeSessionHandler
from traceacs.tasks.wake_trace import (
    LINK_SPAN_ID,
    LINK_TRACE_ID,
    SPAN_NAME,
    ConnectionRequestTraces,
)
from traceacs.telemetry.exporter import cause_links
from traceacs.telemetry.setup import build_telemetry
from traceacs.telemetry.trace_store import embedded_trace_processor

OK = ConnectionRequestResult(ConnectionRequestOutcome.OK, status=200, attempts=2)
OUI, SERIAL = INFORM.device_id.oui, INFORM.device_id.serial_number


def test_a_request_is_one_span_remembered_for_the_next_session() -> None:
    wakes = ConnectionRequestTraces(ttl=60)
    trace = wakes.record(OUI, SERIAL, OK, 100.0, 100.25)
    (span,) = trace.spans
    assert (span.name, span.start_ns, span.end_ns) == (SPAN_NAME, to_ns(100.0), to_ns(100.25))
    assert span.attributes["cpe.connection_request.outcome"] == "ok"
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["cpe.serial_number"] == SERIAL
    assert span.status == "unset"
    reference = wakes.take(OUI, SERIAL, 101.0)
    assert reference is not None
    assert (reference.trace_id, reference.span_id) == (trace.trace_id, span.span_id)
    assert wakes.take(OUI, SERIAL, 101.0) is None  # taken once

    refused = ConnectionRequestResult(ConnectionRequestOutcome.AUTH_FAILED, status=401)
    failed = wakes.record(OUI, SERIAL, refused, 200.0, 200.1)
    assert failed.spans[0].status == "error"
    assert "401" in failed.spans[0].status_message
    assert wakes.take(OUI, SERIAL, 200.2) is None  # no session will follow a refusal
    wakes.record(OUI, SERIAL, OK, 300.0, 300.1)
    assert wakes.take(OUI, SERIAL, 361.0) is None  # too old to be the cause


async def test_composite_links_only_a_connection_request_session() -> None:
    wakes = ConnectionRequestTraces()
    cause = wakes.record(OUI, SERIAL, OK, 10.0, 10.1)
    provisioning = Provisioning()
    handler = CompositeSessionHandler(provisioning, session(MemoryStore()), wakes)
    await handler.on_inform(INFORM, 10.5)  # INFORM carries "6 CONNECTION REQUEST"
    root = provisioning.root_span
    assert root is not None
    assert root.attributes[LINK_TRACE_ID] == cause.trace_id
    assert root.attributes[LINK_SPAN_ID] == cause.spans[0].span_id
    assert root.attributes["cpe.connection_request.to_inform_ms"] == 500.0

    wakes.record(OUI, SERIAL, OK, 20.0, 20.1)
    boot = replace(INFORM, events=(m.EventStruct("1 BOOT"),))
    other = Provisioning()
    await CompositeSessionHandler(other, session(MemoryStore()), wakes).on_inform(boot, 20.5)
    assert other.root_span is not None
    assert LINK_TRACE_ID not in other.root_span.attributes


def test_malformed_references_make_no_link() -> None:
    assert cause_links({}) == []
    assert cause_links({LINK_TRACE_ID: "zz", LINK_SPAN_ID: "00"}) == []
    assert cause_links({LINK_TRACE_ID: "0" * 32, LINK_SPAN_ID: "0" * 16}) == []
    (link,) = cause_links({LINK_TRACE_ID: "ab" * 16, LINK_SPAN_ID: "cd" * 8})
    assert (link.context.trace_id, link.context.span_id) == (int("ab" * 16, 16), int("cd" * 8, 16))


async def test_the_woken_session_links_to_the_connection_request(tmp_path: Path) -> None:
    memory = make_harness()
    url = f"sqlite:///{tmp_path / 'acs.db'}"
    stored = embedded_trace_processor(url)
    telemetry = build_telemetry(
        {"OTEL_SERVICE_NAME": "traceacs-test"},
        span_processors=[SimpleSpanProcessor(memory.spans), stored],
        metric_readers=[],
    )
    harness = Harness(telemetry, memory.spans, memory.metrics)
    try:
        async with live(tmp_path, fleet_of(), telemetry=telemetry) as acs:
            serial = acs.cpe().identity.serial_number
            body = {"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo."]}
            status, task = await acs.task(serial, body)
            assert (status, task["status"]) == (200, "done"), task
            assert task["connection_request"]["outcome"] == "ok"

            spans = harness.finished_spans()
            (request,) = [s for s in spans if s.name == SPAN_NAME]
            assert request.attributes is not None
            assert request.attributes["cpe.connection_request.outcome"] == "ok"
            assert request.attributes["cpe.serial_number"] == serial
            assert "cpe.connection_request.password" not in request.attributes
            roots = [
                s
                for s in spans
                if s.name == "cpe.inform"
                and s.attributes is not None
                and "6 CONNECTION REQUEST" in str(s.attributes.get("cpe.event_codes"))
            ]
            (woken,) = roots
            assert woken.context is not None
            assert request.context is not None
            assert woken.context.trace_id == task_trace_id(task)  # the task ran in it
            (link,) = woken.links
            assert link.context.trace_id == request.context.trace_id
            assert link.context.span_id == request.context.span_id
            assert woken.context.trace_id != request.context.trace_id

            assert stored.force_flush()
            store = await open_trace_store(url)
            try:
                kept = await store.get(f"{woken.context.trace_id:032x}")
                assert kept is not None
                (root,) = [s for s in kept.spans if s.name == "cpe.inform"]
                assert root.attributes[LINK_SPAN_ID] == f"{request.context.span_id:016x}"
                cause = await store.get(f"{request.context.trace_id:032x}")
                assert cause is not None
                assert [s.name for s in cause.spans] == [SPAN_NAME]
            finally:
                await store.close()
    finally:
        telemetry.shutdown()


def task_trace_id(task: dict[str, object]) -> int:
    return int(str(task["trace_id"]), 16)
