"""Sans-IO semantics of the simulated CPE: every ACS RPC, events, reboots, persistence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

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
    GetParameterAttributesResponse,
    GetParameterNames,
    GetParameterNamesResponse,
    GetParameterValues,
    GetParameterValuesResponse,
    GetRPCMethods,
    GetRPCMethodsResponse,
    Inform,
    Message,
    ParameterValueStruct,
    Reboot,
    ScheduleInform,
    SetParameterAttributes,
    SetParameterAttributesStruct,
    SetParameterValues,
    SetParameterValuesResponse,
    TransferComplete,
    TransferCompleteResponse,
    Upload,
    UploadResponse,
)
from traceacs.simulator.cpe import SUPPORTED_RPC_METHODS, CpeIdentity, SimulatedCpe
from traceacs.simulator.faults import Failure, FaultPlan, Quirk
from traceacs.simulator.param_tree import DataModel

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SSID = {
    "tr181": "Device.WiFi.SSID.1.SSID",
    "tr098": "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID",
}


def make_cpe(
    model: DataModel = "tr181", faults: FaultPlan | None = None, version: str = "1.0"
) -> SimulatedCpe:
    ident = CpeIdentity(serial_number="SIM0000001", data_model=model, cwmp_version=version)
    return SimulatedCpe(ident, faults=faults) if faults else SimulatedCpe(ident)


def inform_of(cpe: SimulatedCpe) -> Inform:
    body = cpe.build_inform(NOW).body
    assert isinstance(body, Inform)
    return body


def deliver(cpe: SimulatedCpe) -> Inform:
    """One clean session that only informs."""
    inform = inform_of(cpe)
    cpe.inform_accepted(inform.events)
    cpe.end_session()
    return inform


def spv(*params: tuple[str, object, str], key: str = "") -> SetParameterValues:
    return SetParameterValues(
        tuple(ParameterValueStruct(n, v, t) for n, v, t in params),  # type: ignore[arg-type]
        parameter_key=key,
    )


def gpv(cpe: SimulatedCpe, *names: str) -> dict[str, object]:
    resp = cpe.handle(GetParameterValues(names), NOW)
    assert isinstance(resp, GetParameterValuesResponse)
    return {p.name: p.value for p in resp.parameters}


@pytest.mark.parametrize("model", ["tr181", "tr098"])
def test_first_inform_is_bootstrap_with_model_parameters(model: DataModel) -> None:
    cpe = make_cpe(model)
    inform = inform_of(cpe)
    assert inform.event_codes == ("0 BOOTSTRAP", "1 BOOT")
    names = {p.name: p.value for p in inform.parameters}
    root = cpe.root
    assert names[root + "ManagementServer.ConnectionRequestURL"] == cpe.connection_request_url
    assert names[root + "DeviceInfo.SoftwareVersion"] == "1.0.0"
    assert root + "ManagementServer.ParameterKey" in names
    assert len(inform.parameters) == 7
    assert inform.device_id.serial_number == "SIM0000001"


def test_cwmp_14_announces_supported_versions_and_12_namespace() -> None:
    env = make_cpe(version="1.4").build_inform(NOW)
    assert env.supported_cwmp_versions == "1.0,1.1,1.2,1.3,1.4"
    assert env.namespace == "urn:dslforum-org:cwmp-1-2"
    assert make_cpe(version="1.0").build_inform(NOW).supported_cwmp_versions is None


def test_delivered_events_are_dropped_undelivered_are_retried() -> None:
    cpe = make_cpe()
    inform_of(cpe)
    cpe.session_failed()
    again = inform_of(cpe)
    assert again.event_codes == ("0 BOOTSTRAP", "1 BOOT")
    assert again.retry_count == 1
    cpe.inform_accepted(again.events)
    assert cpe.pending_events == again.events  # kept until the session ends cleanly
    cpe.queue_event("6 CONNECTION REQUEST")  # arrives during the session
    cpe.end_session()
    assert [e.event_code for e in cpe.pending_events] == ["6 CONNECTION REQUEST"]
    assert cpe.retry_count == 0


def test_get_rpc_methods_lists_every_rpc() -> None:
    resp = make_cpe().handle(GetRPCMethods(), NOW)
    assert isinstance(resp, GetRPCMethodsResponse)
    assert set(resp.method_list) == set(SUPPORTED_RPC_METHODS)


def test_gpv_partial_path_and_unknown_name() -> None:
    cpe = make_cpe()
    values = gpv(cpe, "Device.WiFi.SSID.2.")
    assert "Device.WiFi.SSID.2.SSID" in values
    assert all(n.startswith("Device.WiFi.SSID.2.") for n in values)
    fault = cpe.handle(GetParameterValues(("Device.Nope",)), NOW)
    assert isinstance(fault, CwmpFault)
    assert fault.fault_code == 9005
    assert len(gpv(cpe, "Device.")) > 300


def test_gpv_hides_secrets() -> None:
    cpe = make_cpe()
    key = "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"
    assert isinstance(
        cpe.handle(spv((key, "correct horse battery", "string")), NOW), SetParameterValuesResponse
    )
    assert gpv(cpe, key)[key] == ""
    assert cpe.value(key) == "correct horse battery"


def test_gpn_next_level() -> None:
    cpe = make_cpe()
    resp = cpe.handle(GetParameterNames("Device.WiFi.", True), NOW)
    assert isinstance(resp, GetParameterNamesResponse)
    names = {p.name: p.writable for p in resp.parameters}
    assert "Device.WiFi.SSID." in names
    assert names["Device.WiFi.SSID."] is True  # AddObject possible
    assert "Device.WiFi.SSID.1." not in names
    full = cpe.handle(GetParameterNames("Device.WiFi.", False), NOW)
    assert isinstance(full, GetParameterNamesResponse)
    assert any(p.name == "Device.WiFi.SSID.1.SSID" and p.writable for p in full.parameters)
    root = cpe.handle(GetParameterNames("", True), NOW)
    assert isinstance(root, GetParameterNamesResponse)
    assert [p.name for p in root.parameters] == ["Device."]
    bad = cpe.handle(GetParameterNames("Device.Nope.", True), NOW)
    assert isinstance(bad, CwmpFault)
    assert bad.fault_code == 9005


@pytest.mark.parametrize("model", ["tr181", "tr098"])
def test_spv_success_sets_values_and_parameter_key(model: DataModel) -> None:
    cpe = make_cpe(model)
    resp = cpe.handle(spv((SSID[model], "Home", "string"), key="k-42"), NOW)
    assert resp == SetParameterValuesResponse(status=0)
    assert gpv(cpe, SSID[model])[SSID[model]] == "Home"
    assert cpe.parameter_key == "k-42"
    informed = {p.name: p.value for p in inform_of(cpe).parameters}
    assert informed[cpe.root + "ManagementServer.ParameterKey"] == "k-42"


def test_spv_is_atomic_with_one_fault_per_bad_parameter() -> None:
    cpe = make_cpe()
    resp = cpe.handle(
        spv(
            ("Device.WiFi.SSID.1.SSID", "Changed", "string"),
            ("Device.Nope", "x", "string"),
            ("Device.DeviceInfo.SerialNumber", "x", "string"),
            ("Device.Ethernet.VLANTermination.1.VLANID", "ten", "string"),
            ("Device.Ethernet.VLANTermination.2.VLANID", 5000, "unsignedInt"),
            key="never",
        ),
        NOW,
    )
    assert isinstance(resp, CwmpFault)
    assert resp.fault_code == 9003
    codes = {f.parameter_name: f.fault_code for f in resp.set_parameter_values_faults}
    assert codes == {
        "Device.Nope": 9005,
        "Device.DeviceInfo.SerialNumber": 9008,
        "Device.Ethernet.VLANTermination.1.VLANID": 9006,
        "Device.Ethernet.VLANTermination.2.VLANID": 9007,
    }
    assert gpv(cpe, "Device.WiFi.SSID.1.SSID")["Device.WiFi.SSID.1.SSID"] != "Changed"
    assert cpe.parameter_key == ""


def test_injected_spv_faults() -> None:
    params = spv(("Device.WiFi.SSID.1.SSID", "A", "string"))
    per_param = make_cpe(faults=FaultPlan(Failure.SPV_FAULT, spv_fault_code=9008)).handle(
        params, NOW
    )
    assert isinstance(per_param, CwmpFault)
    assert per_param.fault_code == 9003
    assert [f.fault_code for f in per_param.set_parameter_values_faults] == [9008]
    internal = make_cpe(faults=FaultPlan(Failure.SPV_INTERNAL)).handle(params, NOW)
    assert isinstance(internal, CwmpFault)
    assert internal.fault_code == 9002


def test_mismatch_silently_skips_some_values() -> None:
    cpe = make_cpe(faults=FaultPlan(Failure.MISMATCH))
    names = [f"Device.WiFi.SSID.{i}.SSID" for i in (1, 2, 3)]
    resp = cpe.handle(spv(*((n, f"v{i}", "string") for i, n in enumerate(names))), NOW)
    assert resp == SetParameterValuesResponse(status=0)
    got = gpv(cpe, *names)
    assert [got[n] == f"v{i}" for i, n in enumerate(names)] == [False, True, True]


def test_add_and_delete_object_numbering() -> None:
    cpe = make_cpe()
    first = cpe.handle(AddObject("Device.WiFi.SSID.", "a1"), NOW)
    assert first == AddObjectResponse(instance_number=4, status=0)
    assert cpe.parameter_key == "a1"
    assert gpv(cpe, "Device.WiFi.SSID.4.SSID") == {"Device.WiFi.SSID.4.SSID": ""}
    assert cpe.handle(DeleteObject("Device.WiFi.SSID.4.", "d1"), NOW) == DeleteObjectResponse(0)
    second = cpe.handle(AddObject("Device.WiFi.SSID.", ""), NOW)
    assert isinstance(second, AddObjectResponse)
    assert second.instance_number == 5  # numbers are never reused
    assert cpe.handle(DeleteObject("Device.WiFi.SSID.1.", ""), NOW) == DeleteObjectResponse(0)
    gone = cpe.handle(GetParameterValues(("Device.WiFi.SSID.1.SSID",)), NOW)
    assert isinstance(gone, CwmpFault)
    assert gone.fault_code == 9005
    for bad in (
        AddObject("Device.DeviceInfo."),
        AddObject("Device.Nope."),
        DeleteObject("Device.WiFi.SSID.9."),
    ):
        resp = cpe.handle(bad, NOW)
        assert isinstance(resp, CwmpFault)
        assert resp.fault_code == 9005


def test_parameter_attributes_round_trip() -> None:
    cpe = make_cpe()
    name = "Device.WiFi.SSID.1.SSID"
    struct = SetParameterAttributesStruct(name, True, 2, False)
    assert not isinstance(cpe.handle(SetParameterAttributes((struct,)), NOW), CwmpFault)
    resp = cpe.handle(GetParameterAttributes((name,)), NOW)
    assert isinstance(resp, GetParameterAttributesResponse)
    assert resp.parameters[0].notification == 2
    bad = cpe.handle(GetParameterAttributes(("Device.Nope",)), NOW)
    assert isinstance(bad, CwmpFault)


def test_reboot_gives_m_reboot_and_boot_next_session_and_keeps_config() -> None:
    cpe = make_cpe()
    deliver(cpe)
    cpe.handle(spv(("Device.WiFi.SSID.1.SSID", "Kept", "string")), NOW)
    cpe.handle(Reboot("rb-1"), NOW)
    assert cpe.end_session() is True
    inform = inform_of(cpe)
    assert set(inform.events) == {
        inform.events[0].__class__("M Reboot", "rb-1"),
        inform.events[0].__class__("1 BOOT", ""),
    }
    assert cpe.value("Device.WiFi.SSID.1.SSID") == "Kept"


def test_factory_reset_bootstraps_and_wipes_overlay() -> None:
    cpe = make_cpe()
    deliver(cpe)
    cpe.handle(spv(("Device.WiFi.SSID.1.SSID", "Gone", "string"), key="x"), NOW)
    cpe.handle(AddObject("Device.WiFi.SSID."), NOW)
    cpe.handle(FactoryReset(), NOW)
    assert cpe.end_session() is True
    assert inform_of(cpe).event_codes == ("0 BOOTSTRAP", "1 BOOT")
    assert cpe.value("Device.WiFi.SSID.1.SSID") != "Gone"
    assert cpe.parameter_key == ""
    assert cpe.tree.lookup("Device.WiFi.SSID.4.SSID") is None


def test_download_cycle_transfer_complete_until_acknowledged() -> None:
    cpe = make_cpe()
    deliver(cpe)
    resp = cpe.handle(
        Download("dl-7", "1 Firmware Upgrade Image", "http://127.0.0.1/fw-2.0.bin"), NOW
    )
    assert isinstance(resp, DownloadResponse)
    assert resp.status == 1
    cpe.end_session()
    (transfer,) = cpe.take_transfers()
    cpe.transfer_done(transfer, 0, NOW, NOW + timedelta(seconds=3))
    inform = deliver(cpe)
    assert {(e.event_code, e.command_key) for e in inform.events} >= {
        ("7 TRANSFER COMPLETE", ""),
        ("M Download", "dl-7"),
        ("1 BOOT", ""),
    }
    request = cpe.next_cpe_request()
    assert isinstance(request, TransferComplete)
    assert request.command_key == "dl-7"
    assert request.fault.fault_code == 0
    # not acknowledged yet: a new session carries the transfer events again
    assert "7 TRANSFER COMPLETE" in inform_of(cpe).event_codes
    cpe.handle_acs_response(TransferCompleteResponse())
    assert cpe.next_cpe_request() is None
    assert cpe.pending_events == ()
    assert cpe.value("Device.DeviceInfo.SoftwareVersion") == "fw-2.0.bin"


def test_upload_and_bad_transfer_protocol() -> None:
    cpe = make_cpe()
    resp = cpe.handle(Upload("up", "2 Vendor Log File", "http://127.0.0.1/up"), NOW)
    assert isinstance(resp, UploadResponse)
    bad = cpe.handle(Download("k", "3 Vendor Configuration File", "ftp://x/y"), NOW)
    assert isinstance(bad, CwmpFault)
    assert bad.fault_code == 9013


def test_schedule_inform_fires_after_delay() -> None:
    cpe = make_cpe()
    deliver(cpe)
    cpe.handle(ScheduleInform(60, "si"), NOW)
    assert not cpe.has_work(NOW + timedelta(seconds=59))
    assert cpe.next_wakeup() == NOW + timedelta(seconds=60)
    assert cpe.has_work(NOW + timedelta(seconds=60))
    codes = {(e.event_code, e.command_key) for e in cpe.pending_events}
    assert codes == {("3 SCHEDULED", ""), ("M ScheduleInform", "si")}
    bad = cpe.handle(ScheduleInform(0), NOW)
    assert isinstance(bad, CwmpFault)


def test_state_survives_power_cycle_through_snapshot() -> None:
    cpe = make_cpe()
    deliver(cpe)
    cpe.handle(spv(("Device.WiFi.SSID.1.SSID", "Persisted", "string"), key="pk"), NOW)
    cpe.handle(AddObject("Device.Ethernet.VLANTermination.", "pk"), NOW)
    cpe.queue_event("6 CONNECTION REQUEST")
    snap = json.loads(json.dumps(cpe.snapshot()))
    reborn = make_cpe()
    reborn.restore(snap)
    assert reborn.value("Device.WiFi.SSID.1.SSID") == "Persisted"
    assert reborn.parameter_key == "pk"
    assert reborn.tree.lookup("Device.Ethernet.VLANTermination.4.VLANID") is not None
    assert inform_of(reborn).event_codes == ("6 CONNECTION REQUEST", "1 BOOT")


def test_crash_mid_session_loses_pending_reboot_keeps_events() -> None:
    cpe = make_cpe()
    cpe.handle(Reboot("lost"), NOW)
    cpe.crash()
    assert cpe.end_session() is False
    assert inform_of(cpe).event_codes == ("0 BOOTSTRAP", "1 BOOT")


def test_no_cwmp_id_quirk() -> None:
    assert (
        make_cpe(faults=FaultPlan(quirks=frozenset({Quirk.NO_CWMP_ID}))).build_inform(NOW).cwmp_id
        is None
    )
    assert make_cpe().build_inform(NOW).cwmp_id is not None


def test_unknown_request_is_method_not_supported() -> None:
    resp = make_cpe().handle(Message(), NOW)
    assert isinstance(resp, CwmpFault)
    assert resp.fault_code == 9000
