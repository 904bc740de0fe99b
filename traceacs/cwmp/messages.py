"""One frozen dataclass per CWMP message, in both directions.

These are plain values: no XML, no I/O. `traceacs.cwmp.codec` turns them into SOAP
envelopes and back; everything above the codec (session, workflow, simulator) speaks
only in these types. Field names follow the TR-069 schema in snake_case, and every
list is a tuple so that messages are hashable and compare by value.

Parameter values carry their xsd type (``xsd_type``, without the ``xsd:`` prefix) and a
Python value converted by `traceacs.cwmp.values`: ``str`` for string and unknown types,
``int`` for int/unsignedInt/long/unsignedLong, ``bool`` for boolean, an aware
``datetime`` for dateTime and ``bytes`` for base64.
"""

from __future__ import annotations

from dataclasses import dataclass, field, is_dataclass
from datetime import datetime
from typing import ClassVar

from traceacs.cwmp import slot_init

ParamValue = str | int | bool | datetime | bytes


# --------------------------------------------------------------------------- structs


@dataclass(frozen=True, slots=True)
class DeviceId:
    """The identity a CPE announces in its Inform (OUI + serial number is the key)."""

    manufacturer: str
    oui: str
    product_class: str
    serial_number: str


@dataclass(frozen=True, slots=True)
class EventStruct:
    """One Inform event, e.g. ``EventStruct("0 BOOTSTRAP")`` or ``("M Reboot", "key")``."""

    event_code: str
    command_key: str = ""


@dataclass(frozen=True, slots=True)
class ParameterValueStruct:
    """A named, typed value: what SetParameterValues sends and GPV/Inform report."""

    name: str
    value: ParamValue
    xsd_type: str = "string"


@dataclass(frozen=True, slots=True)
class ParameterInfoStruct:
    """One row of a GetParameterNamesResponse."""

    name: str
    writable: bool


@dataclass(frozen=True, slots=True)
class SetParameterAttributesStruct:
    name: str
    notification_change: bool
    notification: int
    access_list_change: bool
    access_list: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParameterAttributeStruct:
    name: str
    notification: int
    access_list: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FaultStruct:
    """The fault inside TransferComplete / AutonomousTransferComplete (0 = success)."""

    fault_code: int = 0
    fault_string: str = ""


@dataclass(frozen=True, slots=True)
class ArgStruct:
    """A RequestDownload file-type argument."""

    name: str
    value: str


# --------------------------------------------------------------------------- base


@dataclass(frozen=True, slots=True)
class Message:
    """Base of every RPC body. ``method`` is the element's local name on the wire."""

    method: ClassVar[str] = ""


# ------------------------------------------------- CPE -> ACS requests, ACS responses


@dataclass(frozen=True, slots=True)
class Inform(Message):
    method: ClassVar[str] = "Inform"
    device_id: DeviceId
    events: tuple[EventStruct, ...]
    max_envelopes: int
    current_time: datetime
    retry_count: int
    parameters: tuple[ParameterValueStruct, ...] = ()

    @property
    def event_codes(self) -> tuple[str, ...]:
        # A list display, not a generator: read a few times per session, 0.23 -> 0.16 µs
        return tuple([e.event_code for e in self.events])


@dataclass(frozen=True, slots=True)
class InformResponse(Message):
    method: ClassVar[str] = "InformResponse"
    max_envelopes: int = 1


@dataclass(frozen=True, slots=True)
class GetRPCMethods(Message):
    """Sent by either side: the CPE may ask the ACS, the ACS may ask the CPE."""

    method: ClassVar[str] = "GetRPCMethods"


@dataclass(frozen=True, slots=True)
class GetRPCMethodsResponse(Message):
    method: ClassVar[str] = "GetRPCMethodsResponse"
    method_list: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TransferComplete(Message):
    method: ClassVar[str] = "TransferComplete"
    command_key: str
    fault: FaultStruct
    start_time: datetime
    complete_time: datetime


@dataclass(frozen=True, slots=True)
class TransferCompleteResponse(Message):
    method: ClassVar[str] = "TransferCompleteResponse"


@dataclass(frozen=True, slots=True)
class AutonomousTransferComplete(Message):
    method: ClassVar[str] = "AutonomousTransferComplete"
    announce_url: str
    transfer_url: str
    is_download: bool
    file_type: str
    file_size: int
    target_file_name: str
    fault: FaultStruct
    start_time: datetime
    complete_time: datetime


@dataclass(frozen=True, slots=True)
class AutonomousTransferCompleteResponse(Message):
    method: ClassVar[str] = "AutonomousTransferCompleteResponse"


@dataclass(frozen=True, slots=True)
class RequestDownload(Message):
    method: ClassVar[str] = "RequestDownload"
    file_type: str
    file_type_args: tuple[ArgStruct, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestDownloadResponse(Message):
    method: ClassVar[str] = "RequestDownloadResponse"


@dataclass(frozen=True, slots=True)
class Kicked(Message):
    method: ClassVar[str] = "Kicked"
    command: str
    referer: str
    arg: str
    next_url: str


@dataclass(frozen=True, slots=True)
class KickedResponse(Message):
    method: ClassVar[str] = "KickedResponse"
    next_url: str


# ------------------------------------------------- ACS -> CPE requests, CPE responses


@dataclass(frozen=True, slots=True)
class SetParameterValues(Message):
    method: ClassVar[str] = "SetParameterValues"
    parameters: tuple[ParameterValueStruct, ...]
    parameter_key: str = ""


@dataclass(frozen=True, slots=True)
class SetParameterValuesResponse(Message):
    """Status 0: applied; 1: applied and committed only after a reboot."""

    method: ClassVar[str] = "SetParameterValuesResponse"
    status: int = 0


@dataclass(frozen=True, slots=True)
class GetParameterValues(Message):
    method: ClassVar[str] = "GetParameterValues"
    parameter_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetParameterValuesResponse(Message):
    method: ClassVar[str] = "GetParameterValuesResponse"
    parameters: tuple[ParameterValueStruct, ...] = ()


@dataclass(frozen=True, slots=True)
class GetParameterNames(Message):
    method: ClassVar[str] = "GetParameterNames"
    parameter_path: str
    next_level: bool


@dataclass(frozen=True, slots=True)
class GetParameterNamesResponse(Message):
    method: ClassVar[str] = "GetParameterNamesResponse"
    parameters: tuple[ParameterInfoStruct, ...] = ()


@dataclass(frozen=True, slots=True)
class SetParameterAttributes(Message):
    method: ClassVar[str] = "SetParameterAttributes"
    parameters: tuple[SetParameterAttributesStruct, ...]


@dataclass(frozen=True, slots=True)
class SetParameterAttributesResponse(Message):
    method: ClassVar[str] = "SetParameterAttributesResponse"


@dataclass(frozen=True, slots=True)
class GetParameterAttributes(Message):
    method: ClassVar[str] = "GetParameterAttributes"
    parameter_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetParameterAttributesResponse(Message):
    method: ClassVar[str] = "GetParameterAttributesResponse"
    parameters: tuple[ParameterAttributeStruct, ...] = ()


@dataclass(frozen=True, slots=True)
class AddObject(Message):
    method: ClassVar[str] = "AddObject"
    object_name: str
    parameter_key: str = ""


@dataclass(frozen=True, slots=True)
class AddObjectResponse(Message):
    method: ClassVar[str] = "AddObjectResponse"
    instance_number: int
    status: int = 0


@dataclass(frozen=True, slots=True)
class DeleteObject(Message):
    method: ClassVar[str] = "DeleteObject"
    object_name: str
    parameter_key: str = ""


@dataclass(frozen=True, slots=True)
class DeleteObjectResponse(Message):
    method: ClassVar[str] = "DeleteObjectResponse"
    status: int = 0


@dataclass(frozen=True, slots=True)
class Reboot(Message):
    method: ClassVar[str] = "Reboot"
    command_key: str = ""


@dataclass(frozen=True, slots=True)
class RebootResponse(Message):
    method: ClassVar[str] = "RebootResponse"


@dataclass(frozen=True, slots=True)
class FactoryReset(Message):
    method: ClassVar[str] = "FactoryReset"


@dataclass(frozen=True, slots=True)
class FactoryResetResponse(Message):
    method: ClassVar[str] = "FactoryResetResponse"


@dataclass(frozen=True, slots=True)
class Download(Message):
    """File types: "1 Firmware Upgrade Image", "2 Web Content", "3 Vendor Configuration File"."""

    method: ClassVar[str] = "Download"
    command_key: str
    file_type: str
    url: str
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    file_size: int = 0
    target_file_name: str = ""
    delay_seconds: int = 0
    success_url: str = ""
    failure_url: str = ""


@dataclass(frozen=True, slots=True)
class DownloadResponse(Message):
    """Status 0: done (times valid); 1: not finished yet, a TransferComplete follows."""

    method: ClassVar[str] = "DownloadResponse"
    status: int
    start_time: datetime
    complete_time: datetime


@dataclass(frozen=True, slots=True)
class Upload(Message):
    """File types: "1 Vendor Configuration File", "2 Vendor Log File"."""

    method: ClassVar[str] = "Upload"
    command_key: str
    file_type: str
    url: str
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    delay_seconds: int = 0


@dataclass(frozen=True, slots=True)
class UploadResponse(Message):
    method: ClassVar[str] = "UploadResponse"
    status: int
    start_time: datetime
    complete_time: datetime


@dataclass(frozen=True, slots=True)
class ScheduleInform(Message):
    method: ClassVar[str] = "ScheduleInform"
    delay_seconds: int
    command_key: str = ""


@dataclass(frozen=True, slots=True)
class ScheduleInformResponse(Message):
    method: ClassVar[str] = "ScheduleInformResponse"


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True, slots=True)
class SetParameterValuesFault:
    """One rejected parameter inside a CWMP fault answering SetParameterValues."""

    parameter_name: str
    fault_code: int
    fault_string: str = ""


@dataclass(frozen=True, slots=True)
class CwmpFault(Message):
    """A SOAP Fault carrying a CWMP fault (``detail/cwmp:Fault``).

    ``soap_fault_code`` is "Client" for 8001-8006/9001-9032-style request errors and
    "Server" for internal errors, as TR-069 Table 'Fault codes' prescribes.
    """

    method: ClassVar[str] = "Fault"
    fault_code: int
    fault_string: str
    soap_fault_code: str = "Client"
    set_parameter_values_faults: tuple[SetParameterValuesFault, ...] = ()


# --------------------------------------------------------------------------- envelope


@dataclass(frozen=True, slots=True)
class Envelope:
    """One SOAP envelope: the CWMP headers plus exactly one body message.

    ``namespace`` is the cwmp namespace URI the peer used (answer in the same one).
    ``hold_requests`` is sent by the ACS only; ``no_more_requests`` is the CWMP 1.0
    header some old CPEs still send; ``session_timeout`` (1.3+) is sent by a CPE;
    ``supported_cwmp_versions`` (1.4, CPE, Inform) and ``use_cwmp_version`` (1.4, ACS,
    InformResponse) negotiate the version.
    """

    body: Message
    cwmp_id: str | None = None
    namespace: str = "urn:dslforum-org:cwmp-1-0"
    hold_requests: bool | None = None
    no_more_requests: bool | None = None
    session_timeout: int | None = None
    supported_cwmp_versions: str | None = None
    use_cwmp_version: str | None = None


CPE_REQUESTS: tuple[type[Message], ...] = (
    Inform,
    GetRPCMethods,
    TransferComplete,
    AutonomousTransferComplete,
    RequestDownload,
    Kicked,
)
"""Requests a CPE may send to the ACS (GetRPCMethods goes both ways)."""

ACS_REQUESTS: tuple[type[Message], ...] = (
    GetRPCMethods,
    SetParameterValues,
    GetParameterValues,
    GetParameterNames,
    SetParameterAttributes,
    GetParameterAttributes,
    AddObject,
    DeleteObject,
    Reboot,
    FactoryReset,
    Download,
    Upload,
    ScheduleInform,
)
"""Requests the ACS may send to a CPE."""

ALL_MESSAGES: tuple[type[Message], ...] = (
    Inform,
    InformResponse,
    GetRPCMethods,
    GetRPCMethodsResponse,
    TransferComplete,
    TransferCompleteResponse,
    AutonomousTransferComplete,
    AutonomousTransferCompleteResponse,
    RequestDownload,
    RequestDownloadResponse,
    Kicked,
    KickedResponse,
    SetParameterValues,
    SetParameterValuesResponse,
    GetParameterValues,
    GetParameterValuesResponse,
    GetParameterNames,
    GetParameterNamesResponse,
    SetParameterAttributes,
    SetParameterAttributesResponse,
    GetParameterAttributes,
    GetParameterAttributesResponse,
    AddObject,
    AddObjectResponse,
    DeleteObject,
    DeleteObjectResponse,
    Reboot,
    RebootResponse,
    FactoryReset,
    FactoryResetResponse,
    Download,
    DownloadResponse,
    Upload,
    UploadResponse,
    ScheduleInform,
    ScheduleInformResponse,
    CwmpFault,
)

MESSAGES_BY_METHOD: dict[str, type[Message]] = {m.method: m for m in ALL_MESSAGES}

for _cls in [v for v in globals().values() if isinstance(v, type) and is_dataclass(v)]:
    if _cls.__module__ == __name__:
        slot_init.install(_cls)  # each field set through its slot: `slot_init`
