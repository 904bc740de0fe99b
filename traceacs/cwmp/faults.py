"""CWMP fault codes: their standard strings, their SOAP class, and builders.

TR-069 splits faults in two families: 8xxx are raised by the ACS (answering a CPE
request), 9xxx by the CPE (answering an ACS request). Within each, the SOAP
``faultcode`` is "Server" for errors of the responder itself (method not supported,
internal error, resources exceeded, retry) and "Client" for errors in the request.
"""

from __future__ import annotations

from traceacs.cwmp.messages import CwmpFault, SetParameterValuesFault

ACS_FAULTS: dict[int, str] = {
    8000: "Method not supported",
    8001: "Request denied (no reason specified)",
    8002: "Internal error",
    8003: "Invalid arguments",
    8004: "Resources exceeded",
    8005: "Retry request",
    8006: "ACS version incompatible with CPE",
}

CPE_FAULTS: dict[int, str] = {
    9000: "Method not supported",
    9001: "Request denied (no reason specified)",
    9002: "Internal error",
    9003: "Invalid arguments",
    9004: "Resources exceeded",
    9005: "Invalid parameter name",
    9006: "Invalid parameter type",
    9007: "Invalid parameter value",
    9008: "Attempt to set a non-writable parameter",
    9009: "Notification request rejected",
    9010: "File transfer failure",
    9011: "Upload failure",
    9012: "File transfer server authentication failure",
    9013: "Unsupported protocol for file transfer",
    9014: "File transfer failure: unable to join multicast group",
    9015: "File transfer failure: unable to contact file server",
    9016: "File transfer failure: unable to access file",
    9017: "File transfer failure: unable to complete download",
    9018: "File transfer failure: file corrupted",
    9019: "File transfer failure: file authentication failure",
    9020: "File transfer failure: unable to complete download within specified time windows",
    9021: "Cancelation of file transfer not permitted in current transfer state",
    9022: "Invalid UUID Format",
    9023: "Unknown Execution Environment",
    9024: "Disabled Execution Environment",
    9025: "Deployment Unit to Execution Environment Mismatch",
    9026: "Duplicate Deployment Unit",
    9027: "System Resources Exceeded",
    9028: "Unknown Deployment Unit",
    9029: "Invalid Deployment Unit State",
    9030: "Invalid Deployment Unit Update - Downgrade not permitted",
    9031: "Invalid Deployment Unit Update - Version not specified",
    9032: "Invalid Deployment Unit Update - Version already exists",
}

FAULT_STRINGS: dict[int, str] = {**ACS_FAULTS, **CPE_FAULTS}

ACS_VENDOR_RANGE = range(8800, 8900)
CPE_VENDOR_RANGE = range(9800, 9900)

_CLIENT_FAULTS = frozenset(
    {8003, 9003, 9005, 9006, 9007, 9008, 9021, 9022, 9023, 9024, 9025, 9026, 9028, 9029}
    | {9030, 9031, 9032}
)
"""Faults TR-069 classes as "Client": the request was wrong. All others are "Server"."""

METHOD_NOT_SUPPORTED = 8000
REQUEST_DENIED = 8001
INTERNAL_ERROR = 8002
INVALID_ARGUMENTS = 8003
RESOURCES_EXCEEDED = 8004
RETRY_REQUEST = 8005
ACS_VERSION_INCOMPATIBLE = 8006


def is_acs_fault(code: int) -> bool:
    return 8000 <= code <= 8999


def is_cpe_fault(code: int) -> bool:
    return 9000 <= code <= 9999


def is_vendor_fault(code: int) -> bool:
    return code in ACS_VENDOR_RANGE or code in CPE_VENDOR_RANGE


def soap_fault_code(code: int) -> str:
    """ "Server" or "Client", the SOAP ``faultcode`` TR-069 prescribes for ``code``.

    Vendor and unknown codes are classed as "Server": nothing is known about them, and
    "Server" does not blame the peer's request.
    """
    return "Client" if code in _CLIENT_FAULTS else "Server"


def fault_string(code: int) -> str:
    """The standard text for ``code``; "Vendor fault" / "Fault <code>" otherwise."""
    if code in FAULT_STRINGS:
        return FAULT_STRINGS[code]
    if is_vendor_fault(code):
        return "Vendor fault"
    return f"Fault {code}"


def make_fault(
    code: int,
    fault_string_: str | None = None,
    set_parameter_values_faults: tuple[SetParameterValuesFault, ...] = (),
) -> CwmpFault:
    """A `CwmpFault` with the standard string and SOAP class unless told otherwise."""
    return CwmpFault(
        fault_code=code,
        fault_string=fault_string(code) if fault_string_ is None else fault_string_,
        soap_fault_code=soap_fault_code(code),
        set_parameter_values_faults=set_parameter_values_faults,
    )


def set_parameter_values_fault(
    parameter_name: str, code: int, fault_string_: str | None = None
) -> SetParameterValuesFault:
    """One per-parameter entry of a 9003 fault answering SetParameterValues."""
    return SetParameterValuesFault(
        parameter_name=parameter_name,
        fault_code=code,
        fault_string=fault_string(code) if fault_string_ is None else fault_string_,
    )
