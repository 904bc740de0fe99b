"""What the codec writes is valid against the Broadband Forum CWMP schemas.

The schemas in ``../shared/cwmp/xsd/`` import the SOAP envelope and encoding schemas
from the web, which the tests cannot reach; `schemas/` holds minimal local stand-ins
and a resolver maps the URLs to them (and the 1.3/1.4 schemas' includes to the shared
files). Each header element and the body's RPC element (``detail/cwmp:Fault`` for a
fault) is validated on its own, in every namespace whose schema declares it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from traceacs.cwmp import messages as m
from traceacs.cwmp.codec import serialize_envelope
from traceacs.cwmp.faults import make_fault, set_parameter_values_fault
from traceacs.cwmp.namespaces import CWMP_1_0, CWMP_1_1, CWMP_1_2, SOAP_ENV
from traceacs.cwmp.values import UNKNOWN_TIME

SHARED_XSD = Path(__file__).resolve().parents[2].parent / "shared" / "cwmp" / "xsd"
LOCAL = Path(__file__).parent / "schemas"
pytestmark = pytest.mark.skipif(
    not SHARED_XSD.is_dir(), reason="../shared/cwmp/xsd (the CWMP schemas) is not present"
)

SCHEMA_FILE = {CWMP_1_0: "cwmp-1-0.xsd", CWMP_1_1: "cwmp-1-1.xsd", CWMP_1_2: "cwmp-1-4.xsd"}
"""cwmp-1-4.xsd includes 1-3 and 1-2: the whole cwmp-1-2 namespace plus 1.3/1.4 headers."""

_LOCATIONS = {
    "http://schemas.xmlsoap.org/soap/envelope/": LOCAL / "soap-envelope.xsd",
    "http://schemas.xmlsoap.org/soap/encoding/": LOCAL / "soap-encoding.xsd",
    "http://www.broadband-forum.org/cwmp/cwmp-1-2.xsd": SHARED_XSD / "cwmp-1-2.xsd",
    "http://www.broadband-forum.org/cwmp/cwmp-1-3.xsd": SHARED_XSD / "cwmp-1-3.xsd",
}


class _LocalSchemas(etree.Resolver):
    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:  # type: ignore[override]  # lxml-stubs lag
        path = _LOCATIONS.get(system_url)
        return None if path is None else self.resolve_filename(str(path), context)  # type: ignore[attr-defined]


@cache
def schema(namespace: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemas())
    return etree.XMLSchema(etree.parse(str(SHARED_XSD / SCHEMA_FILE[namespace]), parser))


@cache
def declared(namespace: str) -> frozenset[str]:
    """Global element names the schema for ``namespace`` declares."""
    files = {CWMP_1_0: ["cwmp-1-0.xsd"], CWMP_1_1: ["cwmp-1-1.xsd"]}.get(
        namespace, ["cwmp-1-2.xsd", "cwmp-1-3.xsd", "cwmp-1-4.xsd"]
    )
    xs = "{http://www.w3.org/2001/XMLSchema}element"
    return frozenset(
        el.get("name", "")
        for f in files
        for el in etree.parse(str(SHARED_XSD / f)).getroot()
        if el.tag == xs
    )


WHEN = datetime(2024, 3, 9, 16, 45, 2, tzinfo=UTC)
PVS = (
    m.ParameterValueStruct("Device.WiFi.SSID.1.SSID", "Café ☕ <&>"),
    m.ParameterValueStruct("Device.WiFi.Radio.1.Enable", True, "boolean"),
    m.ParameterValueStruct("Device.ManagementServer.PeriodicInformInterval", 300, "unsignedInt"),
    m.ParameterValueStruct("Device.X_ACME_Offset", -5, "int"),
    m.ParameterValueStruct("Device.Time.X_Next", WHEN, "dateTime"),
)

ACS_SENDS: tuple[m.Message, ...] = (
    m.InformResponse(),
    m.GetRPCMethods(),
    m.GetRPCMethodsResponse(("Inform", "GetRPCMethods", "TransferComplete")),
    m.TransferCompleteResponse(),
    m.AutonomousTransferCompleteResponse(),
    m.RequestDownloadResponse(),
    m.KickedResponse("https://portal.example.net/done"),
    m.SetParameterValues(PVS, "profile-7"),
    m.GetParameterValues(("Device.DeviceInfo.", "Device.WiFi.SSID.1.SSID")),
    m.GetParameterNames("Device.WiFi.", True),
    m.GetParameterNames("", False),
    m.SetParameterAttributes(
        (
            m.SetParameterAttributesStruct(
                "Device.WiFi.SSID.1.SSID", True, 2, False, ("Subscriber",)
            ),
        )
    ),
    m.GetParameterAttributes(("Device.WiFi.",)),
    m.AddObject("Device.WiFi.SSID.", "k1"),
    m.DeleteObject("Device.WiFi.SSID.3.", "k2"),
    m.Reboot("reboot-1"),
    m.FactoryReset(),
    m.Download(
        "fw-1", "1 Firmware Upgrade Image", "https://fw.example.net/a.bin", "u", "p", 1024, "a.bin"
    ),
    m.Upload("log-1", "2 Vendor Log File", "https://logs.example.net/up"),
    m.ScheduleInform(300, "later"),
    make_fault(8000),
    make_fault(8005),
    make_fault(8850, "Vendor: subscriber locked"),
)

CPE_SENDS: tuple[m.Message, ...] = (
    m.Inform(
        m.DeviceId("Acme", "00D09E", "Router", "SN0001"),
        (m.EventStruct("0 BOOTSTRAP"), m.EventStruct("M Reboot", "reboot-1")),
        1,
        WHEN,
        0,
        PVS,
    ),
    m.GetParameterValuesResponse(PVS),
    m.SetParameterValuesResponse(1),
    m.GetParameterNamesResponse((m.ParameterInfoStruct("Device.WiFi.SSID.1.SSID", True),)),
    m.GetParameterAttributesResponse((m.ParameterAttributeStruct("Device.WiFi.SSID.1.SSID", 2),)),
    m.AddObjectResponse(3),
    m.DeleteObjectResponse(),
    m.DownloadResponse(1, UNKNOWN_TIME, UNKNOWN_TIME),
    m.UploadResponse(0, WHEN, WHEN),
    m.TransferComplete("fw-1", m.FaultStruct(), WHEN, WHEN),
    m.RequestDownload("1 Firmware Upgrade Image", (m.ArgStruct("Version", "2.0"),)),
    make_fault(9003, set_parameter_values_faults=(set_parameter_values_fault("Device.X", 9007),)),
)


def rpc_element(wire: bytes) -> etree._Element:
    body = etree.fromstring(wire).find(f"{{{SOAP_ENV}}}Body")
    assert body is not None
    rpc = body[0]
    if rpc.tag == f"{{{SOAP_ENV}}}Fault":
        detail = rpc.find("detail")
        assert detail is not None
        return detail[0]
    return rpc


def assert_valid(el: etree._Element, namespace: str) -> None:
    xsd = schema(namespace)
    if not xsd.validate(el):
        pytest.fail(f"{etree.QName(el).localname}: {xsd.error_log}")


@pytest.mark.parametrize("namespace", list(SCHEMA_FILE))
@pytest.mark.parametrize("message", ACS_SENDS + CPE_SENDS, ids=lambda msg: type(msg).__name__)
def test_rpc_element_is_schema_valid(message: m.Message, namespace: str) -> None:
    element = rpc_element(serialize_envelope(m.Envelope(message, namespace=namespace)))
    if etree.QName(element).localname not in declared(namespace):
        pytest.skip(f"{etree.QName(element).localname} is not in the {namespace} schema")
    assert_valid(element, namespace)


@pytest.mark.parametrize("namespace", list(SCHEMA_FILE))
def test_header_elements_are_schema_valid(namespace: str) -> None:
    envelope = m.Envelope(
        m.InformResponse(),
        cwmp_id="SAGEM_ID_7591",
        namespace=namespace,
        hold_requests=False,
        session_timeout=30,
        supported_cwmp_versions="1.0,1.1,1.2,1.3,1.4",
        use_cwmp_version="1.4",
    )
    header = etree.fromstring(serialize_envelope(envelope)).find(f"{{{SOAP_ENV}}}Header")
    assert header is not None
    checked = 0
    for el in header:
        if etree.QName(el).localname in declared(namespace):
            assert_valid(el, namespace)
            checked += 1
    assert checked >= 2  # ID and HoldRequests exist in every version


def test_validation_catches_a_broken_message() -> None:
    """The check can fail: an InformResponse without MaxEnvelopes is refused."""
    wire = serialize_envelope(m.Envelope(m.InformResponse(), namespace=CWMP_1_2))
    element = rpc_element(wire)
    element.remove(element[0])
    assert not schema(CWMP_1_2).validate(element)
