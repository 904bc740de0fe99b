"""Which XML element carries which dataclass field, for every CWMP message.

One table drives both the parser and the serializer, so the two directions cannot
drift apart. Element names and order follow the cwmp-1-2 schema; every struct and
array child is unqualified on the wire.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any

from traceacs.cwmp import messages as m


class Kind(Enum):
    STRING = "string"
    INT = "int"
    BOOL = "boolean"
    DATETIME = "dateTime"
    STRUCT = "struct"
    ARRAY = "array"
    PARAM_VALUE = "param_value"
    """A ParameterValueStruct: Name plus a Value whose xsi:type travels with it."""


@dataclass(frozen=True, slots=True)
class Field:
    """One child element. ``item`` is the element type of an ARRAY (a Kind or a struct)."""

    tag: str
    attr: str
    kind: Kind
    struct: StructSpec | None = None
    item: Kind | StructSpec | None = None
    item_tag: str = ""
    array_type: str = ""
    """The soap-enc:arrayType item type written on output, e.g. ``cwmp:EventStruct``."""


@dataclass(frozen=True, slots=True)
class StructSpec:
    cls: type[Any]
    fields: tuple[Field, ...]
    defaults: frozenset[str]
    """Attributes with a default: the element may be missing on input."""


def _spec(cls: type[Any], *fields: Field) -> StructSpec:
    defaults = frozenset(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    )
    return StructSpec(cls, fields, defaults)


def _s(tag: str, attr: str) -> Field:
    return Field(tag, attr, Kind.STRING)


def _i(tag: str, attr: str) -> Field:
    return Field(tag, attr, Kind.INT)


def _b(tag: str, attr: str) -> Field:
    return Field(tag, attr, Kind.BOOL)


def _t(tag: str, attr: str) -> Field:
    return Field(tag, attr, Kind.DATETIME)


def _strings(tag: str, attr: str) -> Field:
    return Field(
        tag, attr, Kind.ARRAY, item=Kind.STRING, item_tag="string", array_type="xsd:string"
    )


def _structs(tag: str, attr: str, item: StructSpec, item_tag: str) -> Field:
    return Field(tag, attr, Kind.ARRAY, item=item, item_tag=item_tag, array_type=f"cwmp:{item_tag}")


def _struct(tag: str, attr: str, spec: StructSpec) -> Field:
    return Field(tag, attr, Kind.STRUCT, struct=spec)


DEVICE_ID = _spec(
    m.DeviceId,
    _s("Manufacturer", "manufacturer"),
    _s("OUI", "oui"),
    _s("ProductClass", "product_class"),
    _s("SerialNumber", "serial_number"),
)
EVENT = _spec(m.EventStruct, _s("EventCode", "event_code"), _s("CommandKey", "command_key"))
FAULT_STRUCT = _spec(
    m.FaultStruct, _i("FaultCode", "fault_code"), _s("FaultString", "fault_string")
)
ARG = _spec(m.ArgStruct, _s("Name", "name"), _s("Value", "value"))
PARAMETER_INFO = _spec(m.ParameterInfoStruct, _s("Name", "name"), _b("Writable", "writable"))
SET_ATTRIBUTES = _spec(
    m.SetParameterAttributesStruct,
    _s("Name", "name"),
    _b("NotificationChange", "notification_change"),
    _i("Notification", "notification"),
    _b("AccessListChange", "access_list_change"),
    _strings("AccessList", "access_list"),
)
ATTRIBUTE = _spec(
    m.ParameterAttributeStruct,
    _s("Name", "name"),
    _i("Notification", "notification"),
    _strings("AccessList", "access_list"),
)
_PARAMETER_LIST = Field(
    "ParameterList",
    "parameters",
    Kind.ARRAY,
    item=Kind.PARAM_VALUE,
    item_tag="ParameterValueStruct",
    array_type="cwmp:ParameterValueStruct",
)

RPC_SPECS: dict[type[m.Message], StructSpec] = {
    spec.cls: spec
    for spec in (
        _spec(
            m.Inform,
            _struct("DeviceId", "device_id", DEVICE_ID),
            _structs("Event", "events", EVENT, "EventStruct"),
            _i("MaxEnvelopes", "max_envelopes"),
            _t("CurrentTime", "current_time"),
            _i("RetryCount", "retry_count"),
            _PARAMETER_LIST,
        ),
        _spec(m.InformResponse, _i("MaxEnvelopes", "max_envelopes")),
        _spec(m.GetRPCMethods),
        _spec(m.GetRPCMethodsResponse, _strings("MethodList", "method_list")),
        _spec(
            m.TransferComplete,
            _s("CommandKey", "command_key"),
            _struct("FaultStruct", "fault", FAULT_STRUCT),
            _t("StartTime", "start_time"),
            _t("CompleteTime", "complete_time"),
        ),
        _spec(m.TransferCompleteResponse),
        _spec(
            m.AutonomousTransferComplete,
            _s("AnnounceURL", "announce_url"),
            _s("TransferURL", "transfer_url"),
            _b("IsDownload", "is_download"),
            _s("FileType", "file_type"),
            _i("FileSize", "file_size"),
            _s("TargetFileName", "target_file_name"),
            _struct("FaultStruct", "fault", FAULT_STRUCT),
            _t("StartTime", "start_time"),
            _t("CompleteTime", "complete_time"),
        ),
        _spec(m.AutonomousTransferCompleteResponse),
        _spec(
            m.RequestDownload,
            _s("FileType", "file_type"),
            _structs("FileTypeArg", "file_type_args", ARG, "ArgStruct"),
        ),
        _spec(m.RequestDownloadResponse),
        _spec(
            m.Kicked,
            _s("Command", "command"),
            _s("Referer", "referer"),
            _s("Arg", "arg"),
            _s("Next", "next_url"),
        ),
        _spec(m.KickedResponse, _s("NextURL", "next_url")),
        _spec(m.SetParameterValues, _PARAMETER_LIST, _s("ParameterKey", "parameter_key")),
        _spec(m.SetParameterValuesResponse, _i("Status", "status")),
        _spec(m.GetParameterValues, _strings("ParameterNames", "parameter_names")),
        _spec(m.GetParameterValuesResponse, _PARAMETER_LIST),
        _spec(
            m.GetParameterNames,
            _s("ParameterPath", "parameter_path"),
            _b("NextLevel", "next_level"),
        ),
        _spec(
            m.GetParameterNamesResponse,
            _structs("ParameterList", "parameters", PARAMETER_INFO, "ParameterInfoStruct"),
        ),
        _spec(
            m.SetParameterAttributes,
            _structs("ParameterList", "parameters", SET_ATTRIBUTES, "SetParameterAttributesStruct"),
        ),
        _spec(m.SetParameterAttributesResponse),
        _spec(m.GetParameterAttributes, _strings("ParameterNames", "parameter_names")),
        _spec(
            m.GetParameterAttributesResponse,
            _structs("ParameterList", "parameters", ATTRIBUTE, "ParameterAttributeStruct"),
        ),
        _spec(m.AddObject, _s("ObjectName", "object_name"), _s("ParameterKey", "parameter_key")),
        _spec(
            m.AddObjectResponse,
            _i("InstanceNumber", "instance_number"),
            _i("Status", "status"),
        ),
        _spec(m.DeleteObject, _s("ObjectName", "object_name"), _s("ParameterKey", "parameter_key")),
        _spec(m.DeleteObjectResponse, _i("Status", "status")),
        _spec(m.Reboot, _s("CommandKey", "command_key")),
        _spec(m.RebootResponse),
        _spec(m.FactoryReset),
        _spec(m.FactoryResetResponse),
        _spec(
            m.Download,
            _s("CommandKey", "command_key"),
            _s("FileType", "file_type"),
            _s("URL", "url"),
            _s("Username", "username"),
            _s("Password", "password"),
            _i("FileSize", "file_size"),
            _s("TargetFileName", "target_file_name"),
            _i("DelaySeconds", "delay_seconds"),
            _s("SuccessURL", "success_url"),
            _s("FailureURL", "failure_url"),
        ),
        _spec(
            m.DownloadResponse,
            _i("Status", "status"),
            _t("StartTime", "start_time"),
            _t("CompleteTime", "complete_time"),
        ),
        _spec(
            m.Upload,
            _s("CommandKey", "command_key"),
            _s("FileType", "file_type"),
            _s("URL", "url"),
            _s("Username", "username"),
            _s("Password", "password"),
            _i("DelaySeconds", "delay_seconds"),
        ),
        _spec(
            m.UploadResponse,
            _i("Status", "status"),
            _t("StartTime", "start_time"),
            _t("CompleteTime", "complete_time"),
        ),
        _spec(
            m.ScheduleInform,
            _i("DelaySeconds", "delay_seconds"),
            _s("CommandKey", "command_key"),
        ),
        _spec(m.ScheduleInformResponse),
    )
}
"""Every message of `messages.ALL_MESSAGES` except CwmpFault, which is a SOAP Fault."""
