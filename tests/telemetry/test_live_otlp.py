"""The running ACS sends the seed's traces and metrics to an OTLP receiver over HTTP.

Real pieces only: `open_acs` + `serve` configured by ``OTEL_*`` variables, simulated
CPEs speaking CWMP over HTTP (one per result class), an OTLP/HTTP receiver built on
opentelemetry-proto on 127.0.0.1, the SQLite store, the embedded trace store and
``/metrics``. What arrives is compared with what the store recorded.
"""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from tests.telemetry.live_acs import live_acs, samples
from tests.telemetry.otlp_spans import ReceivedSpan, by_trace, metric_points, received_spans
from tests.telemetry.test_otlp_export import Received
from tests.telemetry.threaded_receiver import otlp_receiver  # noqa: F401 (fixture)
from traceacs.provisioning.repository import AttemptFilter
from traceacs.simulator.faults import NO_FAULTS, Failure, FaultPlan
from traceacs.simulator.fleet import Fleet, build_fleet
from traceacs.storage.traces import open_trace_store

ERROR = Status.STATUS_CODE_ERROR
STEPS = ("authenticate", "fetch_profile", "push_config", "verify")
EXPECTED = {  # fault plan -> (result, failing step, seed's status message prefix)
    None: ("success", None, None),
    Failure.SPV_FAULT: ("config_push_failed", "push_config", "SetParameterValues fault: "),
    Failure.MISMATCH: ("verification_failed", "verify", "Config verification failed"),
    Failure.NO_PROFILE: ("no_profile", "fetch_profile", "No service profile found"),
    Failure.UNKNOWN: ("unknown_device", "authenticate", "Device not in inventory"),
}
ROOT_ATTRIBUTES = {  # the seed's device attributes on cpe.inform
    "cpe.serial_number",
    "cpe.oui",
    "cpe.manufacturer",
    "cpe.model",
    "cpe.firmware_version",
    "cpe.event_codes",
}
STEP_ATTRIBUTES = {  # the seed's attributes each step span must carry when it ran
    "authenticate": {"cpe.customer_id", "cpe.service_plan", "cpe.location_id"},
    "fetch_profile": {"cpe.profile.parameter_count"},
    "push_config": {
        "cpe.config.param_count",
        "cpe.config.has_voip",
        "cpe.config.has_iptv",
        "cpe.config.wifi_bands",
    },
    "verify": {"cpe.verify.mismatches"},
}


def one_of_each() -> Fleet:
    plans = [NO_FAULTS, *(FaultPlan(failure=f) for f in EXPECTED if f is not None)]
    return build_fleet(len(plans), data_model="tr181", plans=plans, seed=5)


def otlp_env(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "TRACEACS_QUIET_PERIODIC_RATIO": "1",
        **extra,
    }


def step_of(spans: list[ReceivedSpan], step: str) -> ReceivedSpan | None:
    found = [s for s in spans if s.name == f"cpe.provision.{step}"]
    assert len(found) <= 1
    return found[0] if found else None


async def test_live_acs_exports_one_trace_per_session_with_the_seeds_spans(
    tmp_path: Path,
    otlp_receiver: tuple[str, Received],  # noqa: F811
) -> None:
    endpoint, received = otlp_receiver
    fleet = one_of_each()
    env = otlp_env(endpoint, TRACEACS_TRACE_STORE="on")
    async with live_acs(tmp_path, fleet, env) as live:
        stats = await live.run_fleet()
        await live.flush()
        scraped = await live.scrape()
        repo = live.acs.repository
        attempts = {a.serial_number: a for a in await repo.list_attempts(AttemptFilter())}
    assert stats.sessions == len(fleet.cpes)

    traces = by_trace(received_spans(received))
    assert len(traces) == len(fleet.cpes)  # one trace per CWMP session, no strays
    inventory = {r.serial_number: r for r in fleet.inventory}
    store = await open_trace_store(f"sqlite:///{tmp_path / 'acs.db'}")
    try:
        for trace_id, spans in traces.items():
            ids = {s.span_id for s in spans}
            roots = [s for s in spans if s.parent_span_id is None]
            assert [r.name for r in roots] == ["cpe.inform"]
            root = roots[0]
            assert all(s.parent_span_id in ids for s in spans if s is not root)
            serial = root.attributes["cpe.serial_number"]
            cpe = next(c for c in fleet.cpes if c.identity.serial_number == serial)
            result, failing, message = EXPECTED[cpe.faults.failure]
            assert root.attributes["cpe.provision.result"] == result
            assert root.attributes.keys() >= ROOT_ATTRIBUTES
            assert root.attributes["cpe.oui"] == cpe.identity.oui
            assert root.attributes["cpe.model"] == cpe.identity.product_class
            assert root.attributes["cpe.firmware_version"] == cpe.identity.software_version
            assert "0 BOOTSTRAP" in str(root.attributes["cpe.event_codes"])

            ran = STEPS[: STEPS.index(failing) + 1] if failing else STEPS
            assert [s.name for s in spans if s.parent_span_id == root.span_id] == [
                f"cpe.provision.{step}" for step in ran
            ]
            for step in ran:
                span = step_of(spans, step)
                assert span is not None
                wanted = set(STEP_ATTRIBUTES[step])
                if step == "authenticate" and result == "unknown_device":
                    wanted = set()  # nothing known about a device not in the inventory
                if step == "fetch_profile" and result == "no_profile":
                    wanted = set()  # there is no profile to count parameters of
                if step == "push_config" and result == "config_push_failed":
                    wanted.add("cpe.fault_code")
                missing = wanted - span.attributes.keys()
                assert not missing, f"{step} of {result} lacks {missing}"
                if step == failing:
                    assert span.status_code == ERROR
                    assert message is not None
                    assert span.status_message.startswith(message)
                else:
                    assert span.status_code != ERROR
            if result != "unknown_device":
                auth = step_of(spans, "authenticate")
                assert auth is not None
                record = inventory[str(serial)]
                assert auth.attributes["cpe.customer_id"] == record.customer_id
                assert auth.attributes["cpe.service_plan"] == record.service_plan
                assert auth.attributes["cpe.location_id"] == record.location_id
            verify = step_of(spans, "verify")
            if verify is not None:
                mismatches = verify.attributes["cpe.verify.mismatches"]
                assert (mismatches == 0) == (result == "success")
            rpcs = [s for s in spans if s.name.startswith("cwmp.rpc ")]
            for rpc in rpcs:  # each RPC round trip hangs under its step
                assert next(s for s in spans if s.span_id == rpc.parent_span_id).name.startswith(
                    "cpe.provision."
                )
            # the same trace id in the attempt row and in the embedded store
            if result != "unknown_device":
                assert attempts[str(serial)].trace_id == trace_id
            stored = await store.get(trace_id)
            assert stored is not None
            assert {s.span_id for s in stored.spans} == ids
    finally:
        await store.close()

    counts = metric_points(received, "cpe.provision.count")
    assert counts == {(("result", r),): 1.0 for r, _, _ in EXPECTED.values()}
    durations = metric_points(received, "cpe.provision.duration")
    assert sum(durations.values()) == len(fleet.cpes)
    steps = metric_points(received, "cpe.provision.step_duration")
    assert {dict(k)["step"] for k in steps} == set(STEPS)
    # the same instruments are on /metrics for Prometheus
    scrape = samples(scraped)
    by_result = {labels["result"]: v for labels, v in scrape["cpe_provision_count_total"]}
    assert by_result == {r: 1.0 for r, _, _ in EXPECTED.values()}
    store_spans = {labels["outcome"]: v for labels, v in scrape["traceacs_trace_store_spans_total"]}
    received_count = sum(len(spans) for spans in traces.values())
    assert store_spans == {"written": received_count, "dropped": 0, "failed": 0}
    for name in (
        "cpe_provision_duration_milliseconds_count",
        "cpe_provision_step_duration_milliseconds_bucket",
        "cpe_provision_active_sessions",
        "cpe_provision_capacity",
        "cpe_provision_verify_mismatches_total",
    ):
        assert name in scrape, name


async def test_without_trace_store_setting_an_otlp_endpoint_turns_the_store_off(
    tmp_path: Path,
    otlp_receiver: tuple[str, Received],  # noqa: F811
) -> None:
    """``TRACEACS_TRACE_STORE=auto`` (default): the Collector replaces the store."""
    endpoint, received = otlp_receiver
    fleet = build_fleet(1, plans=[FaultPlan(failure=Failure.MISMATCH)], seed=5)
    async with live_acs(tmp_path, fleet, otlp_env(endpoint)) as live:
        await live.run_fleet()
        await live.flush()
    [trace_id] = by_trace(received_spans(received))
    store = await open_trace_store(f"sqlite:///{tmp_path / 'acs.db'}")
    try:
        assert await store.get(trace_id) is None
    finally:
        await store.close()


SESSIONS_PER_CPE = 4


class StuckCollector:
    """An OTLP/HTTP endpoint that takes requests and answers none until released.

    A Collector that hangs is worse than one that is down (a refused connection fails
    at once): an exporter that waited for it on the session path would stop every
    session. ``holding`` is set once a request is held; ``release`` answers them all.
    """

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.released = threading.Event()
        stuck = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stuck.holding.set()
                stuck.released.wait()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StuckCollector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


async def test_a_hanging_collector_never_holds_up_provisioning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions run to the end while the exporter waits on a Collector that never answers;
    spans beyond the bounded queue are dropped and counted, memory stays bounded."""
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "64")  # fill it quickly
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "600")  # the exporter keeps waiting
    fleet = build_fleet(20, data_model="tr181", seed=9)
    with StuckCollector() as collector:
        env = otlp_env(collector.url, TRACEACS_TRACE_STORE="off", OTEL_METRIC_EXPORT_INTERVAL="200")
        async with live_acs(tmp_path, fleet, env) as live:
            options = {"periodic_interval": 0.001, "jitter": 0.0}
            await live.run_fleet(sessions_per_cpe=SESSIONS_PER_CPE, **options)
            # From here on the exporter is stuck in a request the Collector never answers.
            assert await asyncio.to_thread(collector.holding.wait, 60)
            stats = await live.run_fleet(sessions_per_cpe=SESSIONS_PER_CPE, **options)
            assert not collector.released.is_set()
            assert stats.results["completed"] == len(fleet.cpes) * SESSIONS_PER_CPE
            scraped = await live.scrape()
            collector.released.set()  # let the exporter finish before the ACS stops
    dropped = [
        value
        for labels, value in samples(scraped).get("otel_sdk_processor_span_processed_total", [])
        if labels.get("error_type") == "queue_full"
    ]
    assert dropped, sorted(samples(scraped))
    assert dropped[0] > 0
    # Memory stays bounded: the export queue never holds more than its capacity.
    by_name = samples(scraped)
    sizes = [v for name, s in by_name.items() if "span_queue_size" in name for _, v in s]
    capacity = [v for name, s in by_name.items() if "span_queue_capacity" in name for _, v in s]
    assert capacity == [64], sorted(by_name)
    assert sizes, sorted(by_name)
    assert max(sizes) <= 64
