"""The embedded trace store end to end, on SQLite and PostgreSQL.

Spans go the production way: a hand-built `SessionTrace` is exported by
`OtelProvisioningTelemetry.export_trace` to the span processors of a real
`TracerProvider` (built by `build_telemetry`), the store's among them, then read back
from the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.storage.conftest import pg_database, pg_user, store_url  # noqa: F401
from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.storage.trace_records import StoredSpan, TraceSummary, summarize
from traceacs.storage.traces import open_trace_store
from traceacs.telemetry.exporter import OtelProvisioningTelemetry
from traceacs.telemetry.instruments import METER_NAME
from traceacs.telemetry.setup import Telemetry, build_telemetry
from traceacs.telemetry.trace_store import (
    TraceStoreOptions,
    TraceStoreProcessor,
    embedded_trace_processor,
)

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
DAY_NS = 86_400 * 1_000_000_000
SERIAL = "SN-TS-0001"
SECRET = "hunter2-wpa-passphrase-77"
VERIFY_ERROR = "Config verification failed"


class _Ids:
    def __init__(self, n: int) -> None:
        self.trace_id = f"{0xFEED:016x}{n:016x}"
        self._n = n
        self._next = 0

    def span(self) -> str:
        self._next += 1
        return f"{self._n:08x}{self._next:08x}"


def failed_verify_trace(
    serial: str = SERIAL, *, n: int = 1, start_ns: int = T0, fail: bool = True
) -> SessionTrace:
    """A bootstrap provisioning whose verify step finds two mismatches (or succeeds)."""
    ids = _Ids(n)
    root = SpanRecord("cpe.inform", ids.span(), None, start_ns)
    root.attributes.update(
        {
            "cpe.serial_number": serial,
            "cpe.oui": "00259e",
            "cpe.model": "HG8245Q2",
            "cpe.firmware_version": "V5R019C10S115",
            "cpe.event_codes": "0 BOOTSTRAP,1 BOOT",
            "cpe.provision.result": "verification_failed" if fail else "success",
            "cpe.wifi.passphrase": SECRET,  # not allow-listed: must never be stored
        }
    )
    trace = SessionTrace(trace_id=ids.trace_id, spans=[root])
    at = start_ns + 5 * MS

    def step(name: str, length_ms: int, **attributes: object) -> SpanRecord:
        nonlocal at
        span = SpanRecord(f"cpe.provision.{name}", ids.span(), root.span_id, at)
        span.attributes.update(attributes)  # type: ignore[arg-type]
        trace.spans.append(span)
        span.end(at + length_ms * MS)
        at += length_ms * MS
        return span

    step("authenticate", 10, **{"cpe.customer_id": "C-77", "cpe.service_plan": "fiber-500"})
    step("fetch_profile", 20, **{"cpe.profile.parameter_count": 12})
    push = step(
        "push_config",
        30,
        **{
            "cpe.config.param_count": 14,
            "cpe.config.has_voip": True,
            "cpe.config.wifi_bands": ("2.4GHz", "5GHz"),
        },
    )
    rpc = SpanRecord("cwmp.rpc SetParameterValues", ids.span(), push.span_id, push.start_ns + MS)
    rpc.attributes["cwmp.rpc.method"] = "SetParameterValues"
    rpc.attributes["cwmp.parameter_names"] = (
        "Device.WiFi.SSID.1.SSID",
        f"Device.WiFi.AccessPoint.1.Security.KeyPassphrase={SECRET}",
    )
    rpc.end(push.end_ns - MS if push.end_ns else push.start_ns)
    trace.spans.append(rpc)
    verify = step("verify", 40, **{"cpe.verify.mismatches": 2 if fail else 0})
    if fail:
        verify.status = "error"
        verify.status_message = (
            f"{VERIFY_ERROR}: Device.WiFi.AccessPoint.1.Security.KeyPassphrase={SECRET}"
        )
    get = SpanRecord("cwmp.rpc GetParameterValues", ids.span(), verify.span_id, verify.start_ns)
    get.end(verify.start_ns + 3 * MS)
    trace.spans.append(get)
    root.end(at + 5 * MS, error=VERIFY_ERROR if fail else None)
    trace.changed_something = True
    trace.failed = fail
    return trace


@dataclass
class Pipeline:
    telemetry: Telemetry
    processor: TraceStoreProcessor

    def export(self, *traces: SessionTrace) -> None:
        port = self.telemetry.provisioning
        assert isinstance(port, OtelProvisioningTelemetry)
        for trace in traces:
            port.export_trace(trace)
        assert self.processor.force_flush(20_000)


def make_pipeline(
    url: str,
    options: TraceStoreOptions | None = None,
    clock: Callable[[], float] = time.time,
) -> Pipeline:
    processor = embedded_trace_processor(
        url, options or TraceStoreOptions(retention_days=None), clock=clock
    )
    telemetry = build_telemetry(
        {"OTEL_SERVICE_NAME": "traceacs-test"}, prometheus=False, span_processors=[processor]
    )
    return Pipeline(telemetry, processor)


@pytest.fixture
def pipeline(store_url: str) -> Iterator[Pipeline]:  # noqa: F811
    made = make_pipeline(store_url)
    yield made
    made.telemetry.shutdown()


async def test_failed_trace_is_stored_with_its_summary(
    pipeline: Pipeline,
    store_url: str,  # noqa: F811
) -> None:
    trace = failed_verify_trace()
    pipeline.export(trace)
    store = await open_trace_store(store_url)
    try:
        stored = await store.latest(SERIAL)
    finally:
        await store.close()
    assert stored is not None
    summary = stored.summary
    assert summary.trace_id == trace.trace_id
    assert (summary.serial_number, summary.oui) == (SERIAL, "00259E")
    assert summary.result == "verification_failed"
    assert summary.failing_step == "verify"
    assert summary.status == "error"
    assert summary.reason.startswith(VERIFY_ERROR)
    assert summary.started_at == pytest.approx(T0 / 1e9)
    assert summary.duration_ms == pytest.approx(110.0)
    assert summary.span_count == len(trace.spans) == 7
    by_name = {s.name: s for s in stored.spans}
    assert set(by_name) == {s.name for s in trace.spans}
    verify = by_name["cpe.provision.verify"]
    assert verify.status == "error"
    assert verify.attributes["cpe.verify.mismatches"] == 2
    assert verify.parent_span_id == trace.root.span_id
    push = by_name["cpe.provision.push_config"]
    assert push.attributes["cpe.config.wifi_bands"] == ["2.4GHz", "5GHz"]
    assert push.attributes["cpe.config.has_voip"] is True
    assert by_name["cwmp.rpc SetParameterValues"].parent_span_id == push.span_id
    assert by_name["cpe.provision.authenticate"].duration_ms == pytest.approx(10.0)
    # Redacted before the store saw it: neither the attribute nor the message leaks.
    assert SECRET not in repr(stored)
    assert "KeyPassphrase=[REDACTED]" in verify.status_message
    rpc_names = by_name["cwmp.rpc SetParameterValues"].attributes["cwmp.parameter_names"]
    assert rpc_names == ["Device.WiFi.SSID.1.SSID"]


async def test_latest_all_and_by_id(pipeline: Pipeline, store_url: str) -> None:  # noqa: F811
    old = failed_verify_trace(n=1, start_ns=T0)
    new = failed_verify_trace(n=2, start_ns=T0 + 60_000 * MS, fail=False)
    other = failed_verify_trace("SN-OTHER", n=3, start_ns=T0 + 120_000 * MS)
    pipeline.export(old, new, other)
    store = await open_trace_store(store_url)
    try:
        latest = await store.latest(SERIAL)
        assert latest is not None
        assert latest.summary.trace_id == new.trace_id
        assert latest.summary.result == "success"
        assert latest.summary.failing_step is None
        everything = await store.all_traces(SERIAL)
        assert [t.summary.trace_id for t in everything] == [new.trace_id, old.trace_id]
        assert await store.latest(SERIAL, oui="00259e") is not None
        assert await store.latest(SERIAL, oui="AAAAAA") is None
        assert await store.latest("SN-NOBODY") is None
        by_id = await store.get(old.trace_id.upper())
        assert by_id is not None
        assert by_id.summary.failing_step == "verify"
        assert await store.ouis_of(SERIAL) == ["00259E"]
    finally:
        await store.close()


@pytest.mark.parametrize("tracer_name", ["elsewhere", METER_NAME])
async def test_spans_stored_under_direct_tracer_use_are_redacted_too(
    pipeline: Pipeline,
    store_url: str,  # noqa: F811
    tracer_name: str,
) -> None:
    """Defence in depth: a span that did not come through the adapter is scrubbed, even
    from a tracer of the adapter's own name (only the adapter's spans skip it)."""
    from opentelemetry.trace import Status, StatusCode

    tracer = pipeline.telemetry.tracer_provider.get_tracer(tracer_name)
    span = tracer.start_span(
        "cpe.inform",
        attributes={
            "cpe.serial_number": "SN-DIRECT",
            "custom.password": SECRET,
            "cwmp.parameter_names": [f"X.Password={SECRET}", "X.Name"],
        },
    )
    span.set_status(Status(StatusCode.ERROR, f"X.Password={SECRET} refused"))
    span.end()
    assert pipeline.processor.force_flush(20_000)
    store = await open_trace_store(store_url)
    try:
        stored = await store.latest("SN-DIRECT")
    finally:
        await store.close()
    assert stored is not None
    assert SECRET not in repr(stored)
    assert stored.spans[0].attributes["cwmp.parameter_names"] == ["X.Name"]
    assert "custom.password" not in stored.spans[0].attributes


async def test_summary_does_not_depend_on_arrival_order(store_url: str) -> None:  # noqa: F811
    """Children first (live spans) or root first (replay): same summary in the end."""
    attributes = {"cpe.serial_number": "SN-ORDER", "cpe.oui": "00AA11"}
    root = StoredSpan("t" * 32, "r" * 16, None, "cpe.inform", T0, T0 + 50 * MS, "error", "boom",
                      attributes)  # fmt: skip
    fault = "SetParameterValues fault: 9007"
    failed = StoredSpan("t" * 32, "c" * 16, "r" * 16, "cpe.provision.push_config",
                        T0 + MS, T0 + 9 * MS, "error", fault)  # fmt: skip
    store = await open_trace_store(store_url)
    try:
        await store.write_spans([failed])
        partial = await store.get("t" * 32)
        assert partial is not None
        assert partial.summary.serial_number == ""
        await store.write_spans([root, failed])  # re-delivery is harmless
        stored = await store.latest("SN-ORDER")
    finally:
        await store.close()
    assert stored is not None
    assert stored.summary == summarize("t" * 32, [root, failed])
    assert stored.summary.failing_step == "push_config"
    assert stored.summary.reason == fault
    assert stored.summary.result == "failed"  # no cpe.provision.result on the root
    assert len(stored.spans) == 2


async def test_retention_deletes_old_traces_in_batches(store_url: str) -> None:  # noqa: F811
    store = await open_trace_store(store_url)
    traces = [failed_verify_trace(n=i, start_ns=T0 - age * DAY_NS) for i, age in
              enumerate((40, 30, 20, 5, 0), start=1)]  # fmt: skip
    try:
        for trace in traces:
            await store.write_spans([_plain(trace.trace_id, s) for s in trace.spans])
        cutoff = (T0 - 15 * DAY_NS) / 1e9
        assert await store.delete_older_than(cutoff, batch_size=2) == 3
        kept = await store.all_traces(SERIAL)
        assert [t.summary.trace_id for t in kept] == [traces[4].trace_id, traces[3].trace_id]
        for gone in traces[:3]:
            assert await store.get(gone.trace_id) is None
            rows = await store.db.fetch(
                "SELECT span_id FROM trace_spans WHERE trace_id = $1", gone.trace_id
            )
            assert rows == []
        assert await store.delete_older_than(cutoff) == 0
    finally:
        await store.close()


async def test_processor_prunes_expired_traces_when_it_starts(
    store_url: str,  # noqa: F811
) -> None:
    store = await open_trace_store(store_url)
    ancient = failed_verify_trace(n=1, start_ns=T0 - 30 * DAY_NS)
    try:
        await store.write_spans([_plain(ancient.trace_id, s) for s in ancient.spans])
    finally:
        await store.close()
    fresh = failed_verify_trace(n=2, start_ns=T0)
    made = make_pipeline(store_url, TraceStoreOptions(retention_days=7), clock=lambda: T0 / 1e9)
    try:
        made.export(fresh)
    finally:
        made.telemetry.shutdown()
    store = await open_trace_store(store_url)
    try:
        assert await store.get(ancient.trace_id) is None
        assert await store.get(fresh.trace_id) is not None
    finally:
        await store.close()


def test_summarize_without_root_or_result() -> None:
    child = StoredSpan("a" * 32, "b" * 16, "f" * 16, "cpe.provision.verify", T0, T0 + MS, "ok")
    summary = summarize("a" * 32, [child])
    assert summary == TraceSummary(
        trace_id="a" * 32,
        serial_number="",
        oui="",
        started_at=T0 / 1e9,
        duration_ms=1.0,
        result="success",
        failing_step=None,
        status="ok",
        reason="",
        span_count=1,
    )
    with pytest.raises(ValueError, match="at least one span"):
        summarize("a" * 32, [])


def _plain(trace_id: str, record: SpanRecord) -> StoredSpan:
    """A `SpanRecord` stored as is (retention tests do not need the OTel path)."""
    return StoredSpan(
        trace_id=trace_id,
        span_id=record.span_id,
        parent_span_id=record.parent_span_id,
        name=record.name,
        start_ns=record.start_ns,
        end_ns=record.end_ns or record.start_ns,
        status=record.status,
        status_message=record.status_message,
        attributes={
            k: list(v) if isinstance(v, tuple) else v
            for k, v in record.attributes.items()
            if k.startswith("cpe.serial") or k == "cpe.oui"
        },
    )
