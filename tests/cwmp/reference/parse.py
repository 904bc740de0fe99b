"""SOAP envelope bytes -> `Envelope`, hardened against hostile input, tolerant of CPEs.

Hardening: the size is capped before parsing; any DOCTYPE is refused (no entity can be
declared, so no billion laughs and no XXE); lxml runs with entity resolution, DTD
loading and network access off and its default depth and text-size limits on.
Everything that goes wrong surfaces as `CwmpParseError` with a fault code to answer
with and a message that names the element at fault but never quotes its content.

Tolerance (QUIRKS.md): elements are matched by namespace URI and local name, never by
prefix; RPC children may be unqualified or qualified; Header may be empty or absent;
``cwmp:ID`` may be missing, empty or any string; arrayType counts are ignored (the
items are counted); array items are taken whatever their element name; a parameter
``Value`` that does not parse as its declared xsi:type is kept as the raw ``str``
(CPEs send ``<Value xsi:type="xsd:unsignedInt"></Value>`` for unset values) rather
than failing the whole Inform; a missing optional element takes the field's default.
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

from tests.cwmp.reference.values import parse_bool, parse_datetime, parse_int, parse_value
from traceacs.cwmp.errors import (
    FAULT_METHOD_NOT_SUPPORTED,
    FAULT_RESOURCES_EXCEEDED,
    CwmpParseError,
)
from traceacs.cwmp.messages import (
    MESSAGES_BY_METHOD,
    CwmpFault,
    Envelope,
    Message,
    ParameterValueStruct,
    SetParameterValuesFault,
)
from traceacs.cwmp.namespaces import CWMP_1_0, CWMP_NAMESPACES, SOAP_ENV, XSI
from traceacs.cwmp.rpc_schema import RPC_SPECS, Field, Kind, StructSpec

DEFAULT_MAX_ENVELOPE_BYTES = 4 * 1024 * 1024
"""4 MiB: a full-tree GetParameterValuesResponse of a big TR-181 device fits easily."""

_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_HEADER = f"{{{SOAP_ENV}}}Header"
_BODY = f"{{{SOAP_ENV}}}Body"
_FAULT = f"{{{SOAP_ENV}}}Fault"
_XSI_TYPE = f"{{{XSI}}}type"
_ERROR_NAMES: dict[int, str] = {
    value: name
    for name, value in vars(etree.ErrorTypes).items()
    if name.isupper() and isinstance(value, int)
}
_MAX_NAME = 64


def _make_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        recover=False,
    )


class _Parsers(threading.local):
    """One parser per thread: lxml parser objects must not be used concurrently."""

    def __init__(self) -> None:
        self.parser = _make_parser()


_PARSERS = _Parsers()


def parse_envelope(data: bytes, *, max_size: int = DEFAULT_MAX_ENVELOPE_BYTES) -> Envelope:
    """Parse one SOAP envelope sent by a CPE (or, in the simulator, by the ACS).

    The charset comes from the XML declaration (UTF-8 without one). Raises
    `CwmpParseError`, and nothing else, for any input that is not a CWMP envelope.
    """
    if len(data) > max_size:
        raise CwmpParseError(
            f"envelope of {len(data)} bytes exceeds the {max_size}-byte limit",
            fault_code=FAULT_RESOURCES_EXCEEDED,
        )
    data = bytes(data).lstrip(b" \t\r\n")
    if not data:
        raise CwmpParseError("empty envelope")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise CwmpParseError("DOCTYPE and entity declarations are not allowed")
    root = _parse_xml(data)
    if getattr(root.getroottree().docinfo, "doctype", ""):  # not in lxml-stubs
        raise CwmpParseError("DOCTYPE and entity declarations are not allowed")
    if root.tag != _ENVELOPE:
        raise CwmpParseError(
            f"root element is {_describe(root)}, expected a SOAP 1.1 Envelope ({SOAP_ENV})"
        )
    header = body = None
    for child in _elements(root):
        if child.tag == _HEADER and header is None:
            header = child
        elif child.tag == _BODY and body is None:
            body = child
    headers: dict[str, Any] = {}
    header_ns: str | None = None
    if header is not None:
        header_ns = _parse_headers(header, headers)
    cwmp_id = headers.get("cwmp_id")
    if body is None:
        raise CwmpParseError("envelope has no SOAP Body", cwmp_id=cwmp_id, namespace=header_ns)
    try:
        message, namespace = _parse_body(body)
    except CwmpParseError as exc:
        exc.cwmp_id = cwmp_id
        exc.namespace = exc.namespace or header_ns
        raise
    return Envelope(body=message, namespace=namespace or header_ns or CWMP_1_0, **headers)


def _parse_xml(data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, _PARSERS.parser)
    except etree.XMLSyntaxError as exc:
        # libxml2's own text may quote bytes of the input: report only where and what.
        kind = _ERROR_NAMES.get(getattr(exc, "code", -1), "syntax error")
        line, column = exc.position
        raise CwmpParseError(f"malformed XML ({kind}) at line {line}, column {column}") from None
    except (etree.LxmlError, ValueError) as exc:
        raise CwmpParseError(f"unreadable XML ({type(exc).__name__})") from None


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str)]


def _split(el: etree._Element) -> tuple[str | None, str]:
    """(namespace URI or None, local name); string slicing, cheaper than etree.QName."""
    tag = el.tag
    assert isinstance(tag, str)
    if tag[:1] == "{":
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


def _local(el: etree._Element) -> str:
    return _split(el)[1]


def _describe(el: etree._Element) -> str:
    ns, local = _split(el)
    return f"{local[:_MAX_NAME]!r} in namespace {ns!r}" if ns else f"{local[:_MAX_NAME]!r}"


def _text(el: etree._Element) -> str:
    return el.text or ""


# ----------------------------------------------------------------------------- headers


def _parse_headers(header: etree._Element, out: dict[str, Any]) -> str | None:
    """Fill ``out`` with Envelope keyword arguments; return the cwmp namespace seen."""
    namespace = None
    for el in _elements(header):
        ns, local = _split(el)
        if ns not in CWMP_NAMESPACES:
            continue
        namespace = namespace or ns
        where = f"Header/{local}"
        if local == "ID":
            out["cwmp_id"] = _text(el)
        elif local == "HoldRequests":
            out["hold_requests"] = _scalar(Kind.BOOL, el, where)
        elif local == "NoMoreRequests":
            out["no_more_requests"] = _scalar(Kind.BOOL, el, where)
        elif local == "SessionTimeout":
            out["session_timeout"] = _scalar(Kind.INT, el, where)
        elif local == "SupportedCWMPVersions":
            out["supported_cwmp_versions"] = _text(el).strip()
        elif local == "UseCWMPVersion":
            out["use_cwmp_version"] = _text(el).strip()
    return namespace


# -------------------------------------------------------------------------------- body


def _parse_body(body: etree._Element) -> tuple[Message, str | None]:
    children = _elements(body)
    if not children:
        raise CwmpParseError("SOAP Body is empty, expected one RPC element")
    if len(children) > 1:
        raise CwmpParseError(f"SOAP Body holds {len(children)} elements, expected one")
    rpc = children[0]
    if rpc.tag == _FAULT:
        return _parse_fault(rpc)
    ns, local = _split(rpc)
    if ns not in CWMP_NAMESPACES:
        raise CwmpParseError(f"Body element {_describe(rpc)} is not in a CWMP namespace")
    cls = MESSAGES_BY_METHOD.get(local)
    if cls is None or cls is CwmpFault:
        raise CwmpParseError(
            f"method not supported: {local[:_MAX_NAME]!r}",
            fault_code=FAULT_METHOD_NOT_SUPPORTED,
            namespace=ns,
        )
    try:
        message = _parse_struct(RPC_SPECS[cls], rpc, local)
    except CwmpParseError as exc:
        exc.namespace = ns
        raise
    return message, ns


def _by_local_name(el: etree._Element) -> dict[str, etree._Element]:
    found: dict[str, etree._Element] = {}
    for child in _elements(el):
        found.setdefault(_local(child), child)
    return found


def _parse_struct(spec: StructSpec, el: etree._Element, where: str) -> Any:
    children = _by_local_name(el)
    kwargs: dict[str, Any] = {}
    for field in spec.fields:
        child = children.get(field.tag)
        if child is None:
            if field.attr in spec.defaults:
                continue
            raise CwmpParseError(f"{where}: missing element {field.tag}")
        kwargs[field.attr] = _parse_field(field, child, f"{where}/{field.tag}")
    return spec.cls(**kwargs)


def _parse_field(field: Field, el: etree._Element, where: str) -> Any:
    if field.kind is Kind.STRUCT:
        assert field.struct is not None
        return _parse_struct(field.struct, el, where)
    if field.kind is Kind.ARRAY:
        item = field.item
        items = _elements(el)  # whatever arrayType says, and whatever the items are named
        if item is Kind.PARAM_VALUE:
            return tuple(_parse_param_value(i, where, n) for n, i in enumerate(items))
        if isinstance(item, StructSpec):
            return tuple(_parse_struct(item, i, f"{where}[{n}]") for n, i in enumerate(items))
        assert item is not None
        return tuple(_scalar(item, i, f"{where}[{n}]") for n, i in enumerate(items))
    return _scalar(field.kind, el, where)


def _scalar(kind: Kind, el: etree._Element, where: str) -> Any:
    text = _text(el)
    try:
        if kind is Kind.STRING:
            return text
        if kind is Kind.INT:
            return parse_int(text, "long")
        if kind is Kind.BOOL:
            return parse_bool(text)
        return parse_datetime(text)
    except CwmpParseError as exc:
        raise CwmpParseError(f"{where}: {exc.message}") from None


def _parse_param_value(el: etree._Element, array: str, index: int) -> ParameterValueStruct:
    """One ``ParameterValueStruct``: the hot loop of every Inform and GPV response.

    Written out rather than through `_by_local_name` (a dict and a list per item), and
    the item's place (``array[index]``) is only formatted for an error message.
    """
    name_el = value_el = None
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        local = tag.rpartition("}")[2] if tag[:1] == "{" else tag
        if local == "Name":
            if name_el is None:
                name_el = child
        elif local == "Value" and value_el is None:
            value_el = child
    if name_el is None:
        raise CwmpParseError(f"{array}[{index}]: missing element Name")
    if value_el is None:
        text, xsd_type = "", "string"
    else:
        text = value_el.text or ""
        declared = value_el.get(_XSI_TYPE)
        xsd_type = declared.rpartition(":")[2].strip() if declared else "string"
    if xsd_type == "string":
        value: Any = text
    else:
        try:
            value = parse_value(text, xsd_type)
        except CwmpParseError:
            value = text  # keep what the CPE said; see the module docstring
    return ParameterValueStruct(name=name_el.text or "", value=value, xsd_type=xsd_type)


# ------------------------------------------------------------------------------- fault


def _parse_fault(el: etree._Element) -> tuple[CwmpFault, str | None]:
    children = _by_local_name(el)
    code_el = children.get("faultcode")
    # Strip after dropping the prefix: "SOAP-ENV: Client" is "Client", and the value
    # must read back the same once written (found by bench/fuzz/fuzz_codec.py).
    soap_code = _text(code_el).rpartition(":")[2].strip() if code_el is not None else "Server"
    detail = children.get("detail")
    cwmp_fault = None if detail is None else _by_local_name(detail).get("Fault")
    if cwmp_fault is None:
        raise CwmpParseError("SOAP Fault without detail/cwmp:Fault")
    ns = _split(cwmp_fault)[0]
    parts = _by_local_name(cwmp_fault)
    code = parts.get("FaultCode")
    if code is None:
        raise CwmpParseError("Fault: missing element FaultCode")
    string = parts.get("FaultString")
    spv_faults = tuple(
        _parse_spv_fault(child, f"Fault/SetParameterValuesFault[{n}]")
        for n, child in enumerate(
            c for c in _elements(cwmp_fault) if _local(c) == "SetParameterValuesFault"
        )
    )
    fault = CwmpFault(
        fault_code=_scalar(Kind.INT, code, "Fault/FaultCode"),
        fault_string="" if string is None else _text(string),
        soap_fault_code=soap_code,
        set_parameter_values_faults=spv_faults,
    )
    return fault, ns if ns in CWMP_NAMESPACES else None


def _parse_spv_fault(el: etree._Element, where: str) -> SetParameterValuesFault:
    parts = _by_local_name(el)
    name, code, string = (
        parts.get("ParameterName"),
        parts.get("FaultCode"),
        parts.get("FaultString"),
    )
    if name is None or code is None:
        raise CwmpParseError(f"{where}: missing element ParameterName or FaultCode")
    return SetParameterValuesFault(
        parameter_name=_text(name),
        fault_code=_scalar(Kind.INT, code, f"{where}/FaultCode"),
        fault_string="" if string is None else _text(string),
    )
