"""The fleet runner over real HTTP against a scripted ACS on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.simulator.fake_acs import FakeAcs
from traceacs.cwmp.messages import (
    AddObject,
    AddObjectResponse,
    CwmpFault,
    DeleteObject,
    DeleteObjectResponse,
    Download,
    DownloadResponse,
    FactoryReset,
    GetParameterAttributes,
    GetParameterNames,
    GetParameterNamesResponse,
    GetParameterValues,
    GetParameterValuesResponse,
    GetRPCMethods,
    GetRPCMethodsResponse,
    Inform,
    ParameterValueStruct,
    Reboot,
    ScheduleInform,
    SetParameterAttributes,
    SetParameterAttributesStruct,
    SetParameterValues,
    SetParameterValuesResponse,
    TransferComplete,
    Upload,
)
from traceacs.simulator import digest
from traceacs.simulator.cpe import CpeIdentity, FleetContext, SimulatedCpe
from traceacs.simulator.faults import Failure, FaultPlan, Quirk
from traceacs.simulator.runner import COMPLETED, DROPPED, FleetRunner, RunnerConfig, faulted

SSID = "Device.WiFi.SSID.1.SSID"


@pytest.fixture
async def acs() -> AsyncIterator[FakeAcs]:
    server = FakeAcs()
    await server.start()
    yield server
    await server.stop()


def one_cpe(plan: FaultPlan | None = None, version: str = "1.0") -> SimulatedCpe:
    ident = CpeIdentity("SIMT0000001", data_model="tr181", cwmp_version=version)
    return SimulatedCpe(ident, faults=plan or FaultPlan(), context=FleetContext())


def config(acs: FakeAcs, **kw: object) -> RunnerConfig:
    base: dict[str, object] = {"acs_url": acs.url, "ramp_seconds": 0.0, "retry_scale": 0.001}
    base.update(kw)
    return RunnerConfig(**base)  # type: ignore[arg-type]


def spv(value: str = "FromACS") -> SetParameterValues:
    return SetParameterValues((ParameterValueStruct(SSID, value, "string"),), parameter_key="pk1")


def responses(acs: FakeAcs) -> list[object]:
    return [s.envelope.body for s in acs.seen if s.envelope is not None]


async def test_every_rpc_over_http(acs: FakeAcs) -> None:
    acs.script = [
        GetRPCMethods(),
        GetParameterNames("Device.WiFi.", True),
        spv(),
        GetParameterValues((SSID,)),
        SetParameterAttributes((SetParameterAttributesStruct(SSID, True, 1, False),)),
        GetParameterAttributes((SSID,)),
        AddObject("Device.WiFi.SSID.", "pk2"),
        DeleteObject("Device.WiFi.SSID.4.", "pk3"),
        ScheduleInform(1, "si"),
        Download("dl", "1 Firmware Upgrade Image", acs.base_url() + "/files/fw-9.bin"),
        Upload("up", "2 Vendor Log File", acs.base_url() + "/upload/log"),
        Reboot("rb"),
    ]
    cpe = one_cpe()
    stats = await FleetRunner([cpe], config(acs, sessions_per_cpe=1)).run()
    bodies = responses(acs)
    assert isinstance(bodies[0], Inform)
    assert isinstance(bodies[1], GetRPCMethodsResponse)
    assert isinstance(bodies[2], GetParameterNamesResponse)
    assert bodies[3] == SetParameterValuesResponse(0)
    gpv = bodies[4]
    assert isinstance(gpv, GetParameterValuesResponse)
    assert gpv.parameters[0].value == "FromACS"
    assert AddObjectResponse(4, 0) in bodies
    assert DeleteObjectResponse(0) in bodies
    assert any(isinstance(b, DownloadResponse) and b.status == 1 for b in bodies)
    # follow-up sessions: reboot, transfer complete (fetched and uploaded), schedule
    events = {(e.event_code, e.command_key) for i in acs.informs[1:] for e in i.events}
    assert {("M Reboot", "rb"), ("1 BOOT", ""), ("M Download", "dl")} <= events
    assert {("M Upload", "up"), ("7 TRANSFER COMPLETE", ""), ("M ScheduleInform", "si")} <= events
    completes = [b for b in bodies if isinstance(b, TransferComplete)]
    assert {c.command_key for c in completes} == {"dl", "up"}
    assert all(c.fault.fault_code == 0 for c in completes)
    assert acs.downloads == 1
    assert acs.uploads
    assert b"SIMT0000001" in acs.uploads[0]
    assert cpe.value("Device.DeviceInfo.SoftwareVersion") == "fw-9.bin"
    assert stats.results[COMPLETED] == stats.sessions >= 3


async def test_factory_reset_cycle(acs: FakeAcs) -> None:
    acs.script = [spv(), FactoryReset()]
    cpe = one_cpe()
    await FleetRunner([cpe], config(acs)).run()
    assert [i.event_codes for i in acs.informs] == [("0 BOOTSTRAP", "1 BOOT")] * 2
    assert cpe.value(SSID) != "FromACS"


async def test_failed_download_reports_fault(acs: FakeAcs) -> None:
    acs.script = [
        Download("bad", "3 Vendor Configuration File", acs.base_url() + "/files/missing.bin")
    ]
    await FleetRunner([one_cpe()], config(acs)).run()
    (complete,) = [b for b in responses(acs) if isinstance(b, TransferComplete)]
    assert complete.fault.fault_code == 9010


@pytest.mark.parametrize("quirk", list(Quirk))
async def test_every_quirk_completes_its_session(acs: FakeAcs, quirk: Quirk) -> None:
    acs.script = [spv(), GetParameterValues(("Device.WiFi.Radio.1.Enable",))]
    plan = FaultPlan(quirks=frozenset({quirk}), soap_prefix="soapenv")
    stats = await FleetRunner([one_cpe(plan)], config(acs)).run()
    assert stats.results == {COMPLETED: 1}
    seen = acs.seen
    posted = [s for s in seen if s.envelope is not None]
    if quirk is Quirk.SOAP_PREFIX:
        assert all(b"<soapenv:Envelope" in s.raw and b"soap-env" not in s.raw for s in posted)
    elif quirk is Quirk.BOOLEAN_AS_1:
        assert b'xsi:type="xsd:boolean">1<' in posted[-1].raw
    elif quirk is Quirk.NO_CWMP_ID:
        assert all(s.envelope.cwmp_id is None for s in posted if s.envelope is not None)
    elif quirk is Quirk.NO_COOKIES:
        assert all(s.cookie is None for s in seen)
    elif quirk is Quirk.NEW_CONNECTION:
        assert len({s.peer_port for s in seen}) == len(seen)
    elif quirk is Quirk.CHUNKED_EMPTY_POST:
        empty = [s for s in seen if s.envelope is None]
        assert empty
        assert all(s.chunked for s in empty)
    if quirk not in (Quirk.NO_COOKIES,):
        assert all(s.cookie for s in seen[1:])
    if quirk is not Quirk.NEW_CONNECTION:
        assert len({s.peer_port for s in seen}) == 1  # one keep-alive connection


@pytest.mark.parametrize(
    ("failure", "expected"),
    [(Failure.SPV_FAULT, faulted(9003)), (Failure.SPV_INTERNAL, faulted(9002))],
)
async def test_spv_failures(acs: FakeAcs, failure: Failure, expected: str) -> None:
    acs.script = [spv()]
    stats = await FleetRunner([one_cpe(FaultPlan(failure, spv_fault_code=9007))], config(acs)).run()
    assert stats.results == {expected: 1}
    fault = responses(acs)[-1]
    assert isinstance(fault, CwmpFault)
    if failure is Failure.SPV_FAULT:
        assert [f.fault_code for f in fault.set_parameter_values_faults] == [9007]


async def test_mismatch_fails_verification(acs: FakeAcs) -> None:
    acs.script = [spv("Wanted"), GetParameterValues((SSID,))]
    stats = await FleetRunner([one_cpe(FaultPlan(Failure.MISMATCH))], config(acs)).run()
    assert stats.results == {COMPLETED: 1}
    gpv = responses(acs)[-1]
    assert isinstance(gpv, GetParameterValuesResponse)
    assert gpv.parameters[0].value != "Wanted"


@pytest.mark.parametrize("failure", [Failure.DROP, Failure.CRASH])
async def test_drop_and_crash_mid_session_then_recover(acs: FakeAcs, failure: Failure) -> None:
    acs.script = [spv(), spv("Second")]
    cpe = one_cpe(FaultPlan(failure))
    stats = await FleetRunner([cpe], config(acs)).run()
    assert stats.results[DROPPED] == 1
    assert stats.results[COMPLETED] == 1
    retried = acs.informs[1]
    assert retried.retry_count == 1
    # the broken session's events are retried, not lost
    assert retried.event_codes == acs.informs[0].event_codes == ("0 BOOTSTRAP", "1 BOOT")
    if failure is Failure.CRASH:
        assert cpe.value(SSID) == "Second"  # first SPV never answered, second applied


async def test_slow_cpe_is_slow(acs: FakeAcs) -> None:
    plan = FaultPlan(Failure.SLOW, slow_seconds=0.05)
    stats = await FleetRunner([one_cpe(plan)], config(acs)).run()
    assert stats.results == {COMPLETED: 1}
    assert stats.latencies_ms[0] >= 100  # two POSTs, each delayed 50 ms


async def test_fault_8005_retries_inform(acs: FakeAcs) -> None:
    acs.inform_faults = 1
    stats = await FleetRunner([one_cpe()], config(acs)).run()
    assert stats.results == {faulted(8005): 1, COMPLETED: 1}
    assert [i.retry_count for i in acs.informs] == [0, 1]
    assert acs.informs[0].events == acs.informs[1].events


@pytest.mark.parametrize("scheme", ["basic", "digest"])
async def test_acs_authentication(acs: FakeAcs, scheme: str) -> None:
    acs.auth = scheme
    acs.script = [spv()]
    cfg = config(acs, cpe_username="cpe", cpe_password="cpe-secret")
    stats = await FleetRunner([one_cpe()], cfg).run()
    assert stats.results == {COMPLETED: 1}
    bad = config(acs, cpe_username="cpe", cpe_password="wrong", max_attempts=1)
    assert (await FleetRunner([one_cpe()], bad).run()).results == {"http_error(401)": 1}


async def test_cwmp_14_session(acs: FakeAcs) -> None:
    await FleetRunner([one_cpe(version="1.4")], config(acs)).run()
    first = acs.seen[0].envelope
    assert first is not None
    assert first.supported_cwmp_versions == "1.0,1.1,1.2,1.3,1.4"


async def test_connection_request_with_digest(acs: FakeAcs) -> None:
    cpe = one_cpe()
    runner = FleetRunner([cpe], config(acs, duration=30.0, sessions_per_cpe=None))
    task = asyncio.create_task(runner.run())
    await acs.wait_for_inform(lambda i: "1 BOOT" in i.event_codes)
    url = str(cpe.value("Device.ManagementServer.ConnectionRequestURL"))
    assert url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as first:
            assert first.status == 401
            challenge = first.headers["WWW-Authenticate"]
        path = url.split(":", 2)[2].partition("/")[2]
        wrong = digest.authorization(challenge, "GET", "/" + path, cpe.identity.serial_number, "x")
        async with http.get(url, headers={"Authorization": wrong}) as denied:
            assert denied.status == 401
            challenge = denied.headers["WWW-Authenticate"]
        good = digest.authorization(
            challenge, "GET", "/" + path, cpe.identity.serial_number, "sim-cr-secret"
        )
        async with http.get(url, headers={"Authorization": good}) as ok:
            assert ok.status == 200
    inform = await asyncio.wait_for(
        acs.wait_for_inform(lambda i: "6 CONNECTION REQUEST" in i.event_codes), 10
    )
    assert inform.device_id.serial_number == cpe.identity.serial_number
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runner.stats.connection_requests == 1


async def test_boot_storm_is_bounded(acs: FakeAcs) -> None:
    cpes = [
        SimulatedCpe(CpeIdentity(f"SIMB{i:07d}", index=i), context=FleetContext())
        for i in range(20)
    ]
    stats = await FleetRunner(cpes, config(acs, boot_storm=(20, 0.2))).run()
    assert stats.results == {COMPLETED: 20}
    assert len({i.device_id.serial_number for i in acs.informs}) == 20
    assert all(isinstance(i, Inform) for i in acs.informs)
