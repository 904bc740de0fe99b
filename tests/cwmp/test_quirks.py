"""One test per line of ../shared/cwmp/QUIRKS.md that concerns messages.

The fixtures under ``fixtures/`` are hand-written in the styles real agents use
(TR-098 ``InternetGatewayDevice.`` and TR-181 ``Device.`` CPEs, several SOAP stacks).
HTTP-level quirks (204, cookies, chunking, Expect, gzip) belong to the endpoint tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import parse_envelope, serialize_envelope
from traceacs.cwmp.errors import CwmpParseError
from traceacs.cwmp.namespaces import SOAP_ENC, SOAP_ENV, XSD, XSI
from traceacs.cwmp.values import UNKNOWN_TIME

FIXTURES = Path(__file__).parent / "fixtures"
ALL_FIXTURES = sorted(FIXTURES.glob("*.xml"))


def load(name: str) -> m.Envelope:
    return parse_envelope((FIXTURES / name).read_bytes())


def values(message: m.Message) -> dict[str, m.ParamValue]:
    assert isinstance(message, m.Inform | m.GetParameterValuesResponse)
    return {p.name: p.value for p in message.parameters}


def acs_reply(received: m.Envelope, body: m.Message) -> m.Envelope:
    """What the endpoint does: echo the ID, answer in the CPE's namespace."""
    return m.Envelope(body=body, cwmp_id=received.cwmp_id, namespace=received.namespace)


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_every_fixture_is_relayed_without_drift(path: Path) -> None:
    """Re-serialized, a CPE message parses back the same (up to dropped sub-seconds)."""
    envelope = parse_envelope(path.read_bytes())
    wire = serialize_envelope(envelope)
    assert serialize_envelope(parse_envelope(wire)) == wire
    assert parse_envelope(wire).cwmp_id == envelope.cwmp_id
    assert type(parse_envelope(wire).body) is type(envelope.body)


# ------------------------------------------------------------ versions and namespaces


@pytest.mark.parametrize(
    ("fixture", "namespace"),
    [
        ("tr098_igd_bootstrap_SOAP-ENV.xml", "urn:dslforum-org:cwmp-1-0"),
        ("tr181_periodic_soap_env_noheader_1-1.xml", "urn:dslforum-org:cwmp-1-1"),
        ("tr181_device_boot_soapenv_1-4.xml", "urn:dslforum-org:cwmp-1-2"),
        ("tr181_boot_namespace_cwmp-1-3.xml", "urn:dslforum-org:cwmp-1-3"),
        ("tr181_boot_namespace_cwmp-1-4.xml", "urn:dslforum-org:cwmp-1-4"),
    ],
)
def test_accept_cwmp_1_0_to_1_4_and_answer_in_the_cpes_namespace(
    fixture: str, namespace: str
) -> None:
    received = load(fixture)
    assert received.namespace == namespace
    assert isinstance(received.body, m.Inform)
    reply = etree.fromstring(serialize_envelope(acs_reply(received, m.InformResponse())))
    assert reply.nsmap["cwmp"] == namespace
    assert reply.find(f"{{{SOAP_ENV}}}Body/{{{namespace}}}InformResponse") is not None


def test_cwmp_1_3_session_timeout_and_1_4_supported_versions_headers() -> None:
    received = load("tr181_device_boot_soapenv_1-4.xml")
    assert received.session_timeout == 60
    assert received.supported_cwmp_versions == "1.0,1.1,1.2,1.3,1.4"
    reply = m.Envelope(
        m.InformResponse(), cwmp_id="inform", namespace=received.namespace, use_cwmp_version="1.4"
    )
    wire = serialize_envelope(reply)
    assert b'<cwmp:UseCWMPVersion soap-env:mustUnderstand="1">1.4</cwmp:UseCWMPVersion>' in wire


def test_only_the_rpc_element_is_qualified_children_are_not() -> None:
    wire = serialize_envelope(m.Envelope(m.GetParameterValues(("Device.DeviceInfo.",))))
    rpc = etree.fromstring(wire).find(f"{{{SOAP_ENV}}}Body")[0]  # type: ignore[index]
    assert etree.QName(rpc).namespace == "urn:dslforum-org:cwmp-1-0"
    assert all(etree.QName(el).namespace is None for el in rpc.iterdescendants())


def test_qualified_children_are_accepted_too() -> None:
    received = load("igd_1-0_nomorerequests_qualified-children.xml")
    assert received.body == m.TransferComplete(
        command_key="fw-2024-03",
        fault=m.FaultStruct(0, ""),
        start_time=UNKNOWN_TIME,
        complete_time=datetime(2024, 3, 9, 17, 50, 11, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "fixture",
    [
        "tr098_igd_bootstrap_SOAP-ENV.xml",
        "tr181_device_boot_soapenv_1-4.xml",
        "tr181_periodic_soap_env_noheader_1-1.xml",
        "igd_gpv_response_soap-env_empty-id.xml",
        "igd_gsoap_soap-encoding-prefix_single-quotes.xml",
    ],
)
def test_prefixes_seen_in_the_wild(fixture: str) -> None:
    """SOAP-ENV, soapenv, soap_env, soap-env, and soap: bound to the encoding URI."""
    assert isinstance(load(fixture).body, m.Inform | m.GetParameterValuesResponse)


def test_soap_prefix_bound_to_the_encoding_uri_with_single_quotes() -> None:
    received = load("igd_gsoap_soap-encoding-prefix_single-quotes.xml")
    assert isinstance(received.body, m.Inform)
    assert received.body.device_id.serial_number == "LK17191DP123456"
    assert (
        values(received.body)["InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID"]
        == "Livebox-Fête"
    )


def test_a_prefix_is_never_trusted_only_the_namespace() -> None:
    """``cwmp:`` bound to a foreign URI is not CWMP, whatever the prefix says."""
    data = (
        (FIXTURES / "tr098_igd_bootstrap_SOAP-ENV.xml")
        .read_bytes()
        .replace(b'xmlns:cwmp="urn:dslforum-org:cwmp-1-0"', b'xmlns:cwmp="urn:example:not-cwmp"')
    )
    with pytest.raises(CwmpParseError, match="not in a CWMP namespace"):
        parse_envelope(data)


# -------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("fixture", "cwmp_id"),
    [
        ("tr098_igd_bootstrap_SOAP-ENV.xml", "1"),
        ("tr181_device_boot_soapenv_1-4.xml", "inform"),
        ("tr181_spv_fault_1-2.xml", "SAGEM_ID_7591"),
        ("igd_gpv_response_soap-env_empty-id.xml", ""),
        ("tr181_periodic_soap_env_noheader_1-1.xml", None),
        ("igd_gsoap_soap-encoding-prefix_single-quotes.xml", None),
    ],
)
def test_cwmp_id_missing_empty_or_any_string_is_echoed(fixture: str, cwmp_id: str | None) -> None:
    received = load(fixture)
    assert received.cwmp_id == cwmp_id
    reply = parse_envelope(serialize_envelope(acs_reply(received, m.InformResponse())))
    assert reply.cwmp_id == cwmp_id


def test_empty_header_and_no_header_do_not_crash() -> None:
    assert load("igd_gsoap_soap-encoding-prefix_single-quotes.xml").hold_requests is None
    assert load("tr181_periodic_soap_env_noheader_1-1.xml").hold_requests is None


def test_hold_requests_and_no_more_requests_are_sent_as_1_and_0() -> None:
    wire = serialize_envelope(
        m.Envelope(m.InformResponse(), hold_requests=True, no_more_requests=False)
    ).decode()
    assert '<cwmp:HoldRequests soap-env:mustUnderstand="1">1</cwmp:HoldRequests>' in wire
    assert ">0</cwmp:NoMoreRequests>" in wire
    assert "true" not in wire
    assert "false" not in wire


def test_no_more_requests_from_an_old_cpe() -> None:
    assert load("igd_1-0_nomorerequests_qualified-children.xml").no_more_requests is True


# ------------------------------------------------------- output the ACS keeps conservative


def test_all_five_namespaces_are_declared_on_the_envelope() -> None:
    root = etree.fromstring(serialize_envelope(m.Envelope(m.Reboot("k"))))
    assert root.nsmap == {
        "soap-env": SOAP_ENV,
        "soap-enc": SOAP_ENC,
        "xsd": XSD,
        "xsi": XSI,
        "cwmp": "urn:dslforum-org:cwmp-1-0",
    }
    assert b"<cwmp:Reboot>" in serialize_envelope(m.Envelope(m.Reboot("k")))


def test_fault_code_is_unprefixed() -> None:
    wire = serialize_envelope(m.Envelope(m.CwmpFault(8005, "Retry request", "Server")))
    assert b"<FaultCode>8005</FaultCode>" in wire
    assert b"<faultcode>Server</faultcode>" in wire


def test_booleans_are_sent_as_1_and_0_and_read_from_1_or_true() -> None:
    spv = m.SetParameterValues(
        (m.ParameterValueStruct("Device.WiFi.Radio.1.Enable", True, "boolean"),), "key"
    )
    wire = serialize_envelope(m.Envelope(spv))
    assert b'<Value xsi:type="xsd:boolean">1</Value>' in wire
    gnames = serialize_envelope(m.Envelope(m.GetParameterNames("Device.", next_level=False)))
    assert b"<NextLevel>0</NextLevel>" in gnames
    received = values(load("igd_gpv_response_soap-env_empty-id.xml").body)
    assert received["InternetGatewayDevice.ManagementServer.PeriodicInformEnable"] is True
    assert received["InternetGatewayDevice.ManagementServer.UpgradesManaged"] is False
    inform = values(load("tr181_device_boot_soapenv_1-4.xml").body)
    assert inform["Device.ManagementServer.PeriodicInformEnable"] is True
    igd = values(load("igd_gsoap_soap-encoding-prefix_single-quotes.xml").body)
    assert igd["InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.Enable"] is True


def test_max_envelopes_in_inform_response_is_1() -> None:
    assert b"<MaxEnvelopes>1</MaxEnvelopes>" in serialize_envelope(m.Envelope(m.InformResponse()))


def test_parameter_path_is_only_empty_when_the_whole_tree_is_asked_for() -> None:
    subtree = serialize_envelope(m.Envelope(m.GetParameterNames("Device.WiFi.", True)))
    assert b"<ParameterPath>Device.WiFi.</ParameterPath>" in subtree
    whole = serialize_envelope(m.Envelope(m.GetParameterNames("", False)))
    assert b"<ParameterPath></ParameterPath>" in whole
    for wire in (subtree, whole):
        assert b"<ParameterPath/>" not in wire
    assert parse_envelope(whole).body == m.GetParameterNames("", False)


# --------------------------------------------------------------------------- values


def test_datetime_without_a_time_zone_is_utc() -> None:
    inform = load("tr181_periodic_soap_env_noheader_1-1.xml").body
    assert isinstance(inform, m.Inform)
    assert inform.current_time == datetime(2024, 3, 9, 16, 45, 2, 734000, tzinfo=UTC)
    assert values(inform)["Device.Time.CurrentLocalTime"] == datetime(
        2024, 3, 9, 17, 45, 2, tzinfo=UTC
    )


def test_the_unknown_time() -> None:
    inform = load("tr181_periodic_soap_env_noheader_1-1.xml").body
    assert values(inform)["Device.DeviceInfo.FirstUseDate"] == UNKNOWN_TIME


def test_the_acs_never_sends_fractional_seconds() -> None:
    when = datetime(2024, 3, 9, 16, 45, 2, 734000, tzinfo=UTC)
    spv = m.SetParameterValues((m.ParameterValueStruct("Device.X_Time", when, "dateTime"),))
    wire = serialize_envelope(m.Envelope(spv))
    assert b">2024-03-09T16:45:02Z</Value>" in wire


def test_array_type_counts_zero_padded_or_wrong_are_never_trusted() -> None:
    padded = load("tr181_periodic_soap_env_noheader_1-1.xml").body  # says [0009], holds 3
    assert isinstance(padded, m.Inform)
    assert len(padded.parameters) == 3
    assert padded.event_codes == ("2 PERIODIC",)
    wrong = load("igd_gsoap_soap-encoding-prefix_single-quotes.xml").body  # says [5] and [1]
    assert isinstance(wrong, m.Inform)
    assert wrong.event_codes == ("6 CONNECTION REQUEST",)
    assert len(wrong.parameters) == 2


def test_array_type_written_with_the_real_count() -> None:
    wire = serialize_envelope(m.Envelope(m.GetParameterValues(("A.", "B.", "C."))))
    assert b'<ParameterNames soap-enc:arrayType="xsd:string[3]">' in wire


def test_non_ascii_ssids_round_trip_as_utf8() -> None:
    received = load("tr181_device_boot_soapenv_1-4.xml")
    ssids = values(received.body)
    assert ssids["Device.WiFi.SSID.1.SSID"] == "Café Müller ☕ 5G"
    assert ssids["Device.WiFi.SSID.2.SSID"] == "Гостевая сеть"
    wire = serialize_envelope(received)
    assert "Café Müller ☕ 5G".encode() in wire
    assert len(wire) > len(wire.decode())  # Content-Length must count these bytes


def test_charset_comes_from_the_xml_declaration() -> None:
    received = load("igd_latin1_declaration.xml")
    assert values(received.body) == {
        "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID": "Café Straße"
    }


def test_an_unparseable_typed_value_is_kept_as_text_not_a_failed_inform() -> None:
    received = values(load("igd_gpv_response_soap-env_empty-id.xml").body)
    assert received["InternetGatewayDevice.ManagementServer.PeriodicInformInterval"] == ""
    assert received["InternetGatewayDevice.DeviceInfo.VendorConfigFile.1.Name"] == "startup.cfg"


# --------------------------------------------------------------------------- faults


def test_set_parameter_values_fault_carries_one_entry_per_bad_parameter() -> None:
    received = load("tr181_spv_fault_1-2.xml")
    assert received.body == m.CwmpFault(
        fault_code=9003,
        fault_string="Invalid arguments",
        soap_fault_code="Client",
        set_parameter_values_faults=(
            m.SetParameterValuesFault(
                "Device.WiFi.AccessPoint.1.Security.KeyPassphrase", 9007, "Invalid parameter value"
            ),
            m.SetParameterValuesFault(
                "Device.WiFi.Radio.1.Channel", 9007, "Invalid parameter value"
            ),
            m.SetParameterValuesFault(
                "Device.DeviceInfo.Manufacturer", 9008, "Attempt to set a non-writable parameter"
            ),
        ),
    )


@pytest.mark.parametrize(
    "method", ["GetQueuedTransfers", "X_ACME_Diagnose", "DUStateChangeComplete"]
)
def test_a_cpe_request_the_acs_does_not_implement_gets_8000(method: str) -> None:
    data = (FIXTURES / "tr098_igd_bootstrap_SOAP-ENV.xml").read_bytes()
    start, end = (
        data.index(b"<cwmp:Inform>"),
        data.index(b"</cwmp:Inform>") + len(b"</cwmp:Inform>"),
    )
    data = data[:start] + f"<cwmp:{method}></cwmp:{method}>".encode() + data[end:]
    with pytest.raises(CwmpParseError) as info:
        parse_envelope(data)
    assert info.value.fault_code == 8000
    assert info.value.cwmp_id == "1"
    fault = m.Envelope(
        m.CwmpFault(8000, "Method not supported", "Server"),
        cwmp_id=info.value.cwmp_id,
        namespace=info.value.namespace or "",
    )
    assert parse_envelope(serialize_envelope(fault)) == fault
