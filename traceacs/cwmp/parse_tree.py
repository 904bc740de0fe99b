"""The reference walk of a parsed SOAP Body: exact, and exact about what is wrong.

Driven by the element table (`rpc_schema.RPC_SPECS`) one field at a time, it names the
element at fault in every error (``GetParameterValuesResponse/ParameterList[1]: missing
element Name``) and never quotes content. `traceacs.cwmp.parse_fast` does the same
job in one pass for well-formed messages and hands anything irregular (a missing
element, a value that does not parse, a SOAP Fault) to this walk, so the errors and
every tolerance of QUIRKS.md are defined here, once.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from traceacs.cwmp.errors import FAULT_METHOD_NOT_SUPPORTED, CwmpParseError
from traceacs.cwmp.messages import (
    MESSAGES_BY_METHOD,
    CwmpFault,
    Message,
    ParameterValueStruct,
    SetParameterValuesFault,
)
from traceacs.cwmp.namespaces import CWMP_NAMESPACES, SOAP_ENV, XSI
from traceacs.cwmp.rpc_schema import RPC_SPECS, Field, Kind, StructSpec
from traceacs.cwmp.values import parse_bool, parse_datetime, parse_int, parse_value

_FAULT = f"{{{SOAP_ENV}}}Fault"
_XSI_TYPE = f"{{{XSI}}}type"
MAX_NAME = 64
"""Longest prefix of an element name quoted in an error message."""


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str)]


def split(el: etree._Element) -> tuple[str | None, str]:
    """(namespace URI or None, local name); string slicing, cheaper than etree.QName."""
    tag = el.tag
    assert isinstance(tag, str)
    if tag[:1] == "{":
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


def _local(el: etree._Element) -> str:
    return split(el)[1]


def describe(el: etree._Element) -> str:
    ns, local = split(el)
    return f"{local[:MAX_NAME]!r} in namespace {ns!r}" if ns else f"{local[:MAX_NAME]!r}"


def _text(el: etree._Element) -> str:
    return el.text or ""


# -------------------------------------------------------------------------------- body


def parse_body(body: etree._Element) -> tuple[Message, str | None]:
    """The one RPC element of a SOAP Body -> (message, its cwmp namespace or None)."""
    children = _elements(body)
    if not children:
        raise CwmpParseError("SOAP Body is empty, expected one RPC element")
    if len(children) > 1:
        raise CwmpParseError(f"SOAP Body holds {len(children)} elements, expected one")
    rpc = children[0]
    if rpc.tag == _FAULT:
        return _parse_fault(rpc)
    ns, local = split(rpc)
    if ns not in CWMP_NAMESPACES:
        raise CwmpParseError(f"Body element {describe(rpc)} is not in a CWMP namespace")
    cls = MESSAGES_BY_METHOD.get(local)
    if cls is None or cls is CwmpFault:
        raise CwmpParseError(
            f"method not supported: {local[:MAX_NAME]!r}",
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
        return tuple(scalar(item, i, f"{where}[{n}]") for n, i in enumerate(items))
    return scalar(field.kind, el, where)


def scalar(kind: Kind, el: etree._Element, where: str) -> Any:
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


def name_and_value(
    item: etree._Element,
) -> tuple[etree._Element | None, etree._Element | None]:
    """The first ``Name`` and the first ``Value`` child of a ParameterValueStruct, by
    local name (unqualified or in any namespace), None for either one missing.

    Shared with `parse_fast`, which takes it for every item that is not exactly
    ``<Name/><Value/>``: the two walks cannot disagree on which element counts.
    """
    name_el = value_el = None
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        local = tag.rpartition("}")[2] if tag[:1] == "{" else tag
        if local == "Name":
            if name_el is None:
                name_el = child
        elif local == "Value" and value_el is None:
            value_el = child
    return name_el, value_el


def _parse_param_value(el: etree._Element, array: str, index: int) -> ParameterValueStruct:
    """One ``ParameterValueStruct``: the hot loop of every Inform and GPV response.

    Read with `name_and_value` rather than `_by_local_name` (a dict and a list per
    item), and the item's place (``array[index]``) is only formatted for an error
    message.
    """
    name_el, value_el = name_and_value(el)
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
    ns = split(cwmp_fault)[0]
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
        fault_code=scalar(Kind.INT, code, "Fault/FaultCode"),
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
        fault_code=scalar(Kind.INT, code, f"{where}/FaultCode"),
        fault_string="" if string is None else _text(string),
    )
