"""``/api/devices/{serial}/trace`` and ``/api/traces/{id}``: the waterfall's data.

Traces are written to the embedded store exactly as the telemetry writer does
(`SqlTraceStore.write_spans`), then read through the API; every response is checked
against the OpenAPI document by the `Api` harness.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.api.conftest import OUI, Api, start_api
from traceacs.storage import SqlDeviceRepository
from traceacs.storage.fleet_history import SqlFleetHistory
from traceacs.storage.trace_records import StoredSpan
from traceacs.storage.traces import SqlTraceStore

T0 = 1_700_000_000 * 10**9
MS = 1_000_000
MISMATCHED = ["Device.WiFi.SSID.1.SSID", "Device.Ethernet.VLANTermination.2.VLANID"]


def failed_verify_trace(
    trace_id: str, serial: str, *, oui: str = OUI, start: int = T0
) -> list[StoredSpan]:
    """inform -> authenticate, fetch_profile, push_config(+SPV), verify(+GPV) failing."""

    def span(
        span_id: str, name: str, parent: str | None, begin_ms: float, end_ms: float, **kw: object
    ) -> StoredSpan:
        return StoredSpan(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent,
            name=name,
            start_ns=start + int(begin_ms * MS),
            end_ns=start + int(end_ms * MS),
            **kw,  # type: ignore[arg-type]
        )

    return [
        span(
            "a" * 16,
            "cpe.inform",
            None,
            0,
            40,
            status="error",
            status_message="Config verification failed",
            attributes={
                "cpe.serial_number": serial,
                "cpe.oui": oui,
                "cpe.model": "RG-4000",
                "cpe.provision.result": "verification_failed",
            },
        ),
        span("b" * 16, "cpe.provision.authenticate", "a" * 16, 1, 2),
        span("c" * 16, "cpe.provision.fetch_profile", "a" * 16, 2, 3),
        span("d" * 16, "cpe.provision.push_config", "a" * 16, 3, 15, status="ok"),
        span("e" * 16, "cwmp.rpc SetParameterValues", "d" * 16, 4, 14),
        span(
            "f" * 16,
            "cpe.provision.verify",
            "a" * 16,
            15,
            39,
            status="error",
            status_message="Config verification failed",
            attributes={
                "cpe.verify.mismatches": 2,
                "cpe.verify.mismatched_parameters": MISMATCHED,
            },
        ),
        span(
            "1" * 16,
            "cwmp.rpc GetParameterValues",
            "f" * 16,
            16,
            38,
        ),
    ]


@pytest.fixture
async def traced(repo: SqlDeviceRepository) -> AsyncIterator[Api]:
    store = SqlTraceStore(repo.db)
    await store.write_spans(failed_verify_trace("1" * 32, "SER-1", start=T0))
    # a newer, successful trace of the same device: "latest" must pick it
    newer = [
        StoredSpan(
            "2" * 32,
            "9" * 16,
            None,
            "cpe.inform",
            T0 + 60 * 10**9,
            T0 + 61 * 10**9,
            "ok",
            "",
            {"cpe.serial_number": "SER-2", "cpe.oui": OUI, "cpe.provision.result": "success"},
        )
    ]
    await store.write_spans(newer)
    await store.write_spans(failed_verify_trace("ab" * 16, "SER-2", start=T0))
    async with start_api(repo, traces=store, history=SqlFleetHistory(repo.db)) as api:
        yield api


async def test_latest_trace_of_a_device_has_the_waterfall_and_failure(traced: Api) -> None:
    body = await traced.get("/api/devices/SER-1/trace", token="read")
    assert body["trace_id"] == "1" * 32
    assert body["result"] == "verification_failed"
    assert body["failing_step"] == "verify"
    assert body["failure"] == {
        "step": "verify",
        "span_id": "f" * 16,
        "reason": "Config verification failed",
        "fault_code": None,
        "fault_string": None,
        "mismatched_parameters": MISMATCHED,
    }
    spans = {s["name"]: s for s in body["spans"]}
    assert [s["name"] for s in body["spans"]][:3] == [
        "cpe.inform",
        "cpe.provision.authenticate",
        "cpe.provision.fetch_profile",
    ]
    verify = spans["cpe.provision.verify"]
    assert verify["failing"] is True
    assert (verify["offset_ms"], verify["duration_ms"], verify["depth"]) == (15.0, 24.0, 1)
    assert spans["cwmp.rpc GetParameterValues"]["depth"] == 2
    assert [s["name"] for s in body["spans"] if s["failing"]] == ["cpe.provision.verify"]
    assert body["total_ms"] == 40.0


async def test_latest_picks_the_newest_trace(traced: Api) -> None:
    body = await traced.get("/api/devices/SER-2/trace", token="read")
    assert body["trace_id"] == "2" * 32
    assert body["failure"] is None
    assert body["result"] == "success"


async def test_trace_by_id_and_case(traced: Api) -> None:
    body = await traced.get("/api/traces/" + "AB" * 16)  # ids are case-insensitive
    assert body["serial_number"] == "SER-2"
    assert body["trace_id"] == "ab" * 16
    assert body["failure"]["mismatched_parameters"] == MISMATCHED


async def test_push_fault_is_pulled_from_the_rpc_child(repo: SqlDeviceRepository) -> None:
    store = SqlTraceStore(repo.db)
    trace_id = "4" * 32
    root = StoredSpan(
        trace_id,
        "a" * 16,
        None,
        "cpe.inform",
        T0,
        T0 + 10 * MS,
        "error",
        "x",
        {"cpe.serial_number": "SER-F", "cpe.oui": OUI},
    )
    step = StoredSpan(
        trace_id,
        "b" * 16,
        "a" * 16,
        "cpe.provision.push_config",
        T0 + MS,
        T0 + 9 * MS,
        "error",
        "SetParameterValues fault: Invalid parameter value",
        {"cpe.fault_code": 9007},
    )
    rpc = StoredSpan(
        trace_id,
        "c" * 16,
        "b" * 16,
        "cwmp.rpc SetParameterValues",
        T0 + 2 * MS,
        T0 + 8 * MS,
        "error",
        "SetParameterValues fault 9007",
        {"cwmp.fault_code": 9007, "cwmp.fault_string": "Invalid parameter value"},
    )
    await store.write_spans([rpc, step, root])
    async with start_api(repo, traces=store) as api:
        body = await api.get("/api/devices/SER-F/trace", token="read")
    assert body["failure"]["step"] == "push_config"
    assert body["failure"]["fault_code"] == 9007
    assert body["failure"]["fault_string"] == "Invalid parameter value"
    assert body["failure"]["mismatched_parameters"] == []


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/devices/NOPE/trace", 404),
        ("/api/traces/" + "5" * 32, 404),
        ("/api/traces/not-a-trace-id", 400),
        ("/api/traces/" + "g" * 32, 400),
    ],
)
async def test_unknown_and_bad_ids(traced: Api, path: str, status: int) -> None:
    response, body = await traced.call("GET", path, token="read")
    assert response.status == status
    assert body["error"]["status"] == status


async def test_serial_shared_by_two_ouis_needs_oui(repo: SqlDeviceRepository) -> None:
    store = SqlTraceStore(repo.db)
    await store.write_spans(failed_verify_trace("6" * 32, "TWIN", oui="AAAAAA"))
    await store.write_spans(failed_verify_trace("7" * 32, "TWIN", oui="BBBBBB", start=T0 + 5))
    async with start_api(repo, traces=store) as api:
        response, body = await api.call("GET", "/api/devices/TWIN/trace", token="read")
        assert response.status == 409
        assert "oui" in body["error"]["message"]
        chosen = await api.get("/api/devices/TWIN/trace?oui=aaaaaa", token="read")
    assert chosen["trace_id"] == "6" * 32


@pytest.mark.parametrize("path", ["/api/devices/SER-1/trace", "/api/traces/" + "1" * 32])
async def test_tokens_are_required(traced: Api, path: str) -> None:
    response, _ = await traced.call("GET", path, token=None)
    assert response.status == 401
    response, _ = await traced.call("GET", path, token="tacs_not-a-real-token")
    assert response.status == 401


async def test_without_a_trace_store_the_api_says_so(api: Api) -> None:
    response, body = await api.call("GET", "/api/devices/SER-1/trace", token="read")
    assert response.status == 503
    assert "trace store" in body["error"]["message"]
