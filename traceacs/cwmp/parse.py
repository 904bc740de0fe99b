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

Two walks read the Body (the tree is parsed once): `parse_fast`, one pass with
compiled plans, takes every well-formed message; whatever it declines goes to
`parse_tree`, the reference walk that defines the tolerances above and names the
element at fault in its errors.
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

from traceacs.cwmp.errors import FAULT_RESOURCES_EXCEEDED, CwmpParseError
from traceacs.cwmp.messages import Envelope, Message
from traceacs.cwmp.namespaces import CWMP_1_0, CWMP_NAMESPACES, SOAP_ENV
from traceacs.cwmp.parse_fast import RPC_PLANS, parse_rpc
from traceacs.cwmp.parse_tree import describe, parse_body, scalar
from traceacs.cwmp.rpc_schema import Kind

DEFAULT_MAX_ENVELOPE_BYTES = 4 * 1024 * 1024
"""4 MiB: a full-tree GetParameterValuesResponse of a big TR-181 device fits easily."""

_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_HEADER = f"{{{SOAP_ENV}}}Header"
_BODY = f"{{{SOAP_ENV}}}Body"
_ERROR_NAMES: dict[int, str] = {
    value: name
    for name, value in vars(etree.ErrorTypes).items()
    if name.isupper() and isinstance(value, int)
}
_HEADERS: dict[str, tuple[str, str]] = {
    f"{{{ns}}}{local}": (ns, local)
    for ns in CWMP_NAMESPACES
    for local in (
        "ID",
        "HoldRequests",
        "NoMoreRequests",
        "SessionTimeout",
        "SupportedCWMPVersions",
        "UseCWMPVersion",
    )
}
"""The headers the codec reads, by Clark name in every cwmp namespace: one dict look-up
per header element instead of a split and a namespace test."""


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
    return _parse_envelope(data, max_size, fast=True)


def parse_envelope_reference(
    data: bytes, *, max_size: int = DEFAULT_MAX_ENVELOPE_BYTES
) -> Envelope:
    """`parse_envelope` with the one-pass walk switched off: the same envelope and
    header checks, and only the reference walk (`parse_tree`) for the Body.

    Internal: the oracle that `tests/cwmp/test_reference.py` holds `parse_envelope`
    (fast walk, declining to the reference walk) equal to on every input, and the
    "previous codec" of `bench.codec` (the parser was this walk before `parse_fast`).
    """
    return _parse_envelope(data, max_size, fast=False)


def _parse_envelope(data: bytes, max_size: int, *, fast: bool) -> Envelope:
    if len(data) > max_size:
        raise CwmpParseError(
            f"envelope of {len(data)} bytes exceeds the {max_size}-byte limit",
            fault_code=FAULT_RESOURCES_EXCEEDED,
        )
    data = bytes(data).lstrip(b" \t\r\n")
    if not data:
        raise CwmpParseError("empty envelope")
    # No "!" at all is the common case, found by memchr: the two searches for the
    # declarations cost 5-30x more on a few kB, so they run only where one may be.
    if b"!" in data and (b"<!DOCTYPE" in data or b"<!ENTITY" in data):
        raise CwmpParseError("DOCTYPE and entity declarations are not allowed")
    root = _parse_xml(data)
    if getattr(root.getroottree().docinfo, "doctype", ""):  # not in lxml-stubs
        raise CwmpParseError("DOCTYPE and entity declarations are not allowed")
    if root.tag != _ENVELOPE:
        raise CwmpParseError(
            f"root element is {describe(root)}, expected a SOAP 1.1 Envelope ({SOAP_ENV})"
        )
    header = body = None
    for child in root:
        tag = child.tag
        if tag == _HEADER:
            if header is None:
                header = child
        elif tag == _BODY and body is None:
            body = child
    headers: dict[str, Any] = {}
    header_ns: str | None = None
    if header is not None:
        header_ns = _parse_headers(header, headers)
    cwmp_id = headers.get("cwmp_id")
    if body is None:
        raise CwmpParseError("envelope has no SOAP Body", cwmp_id=cwmp_id, namespace=header_ns)
    message, namespace = _parse_body(body) if fast else (None, None)
    if message is None:
        try:
            message, namespace = parse_body(body)
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


# ----------------------------------------------------------------------------- headers


def _parse_headers(header: etree._Element, out: dict[str, Any]) -> str | None:
    """Fill ``out`` with Envelope keyword arguments; return the cwmp namespace seen.

    Headers in a cwmp namespace that the codec does not read still reveal the namespace;
    of a header sent twice, the last one counts.
    """
    namespace = None
    for el in header:
        tag = el.tag
        entry = _HEADERS.get(tag)
        if entry is None:
            if isinstance(tag, str) and tag[:1] == "{" and namespace is None:
                ns = tag[1:].partition("}")[0]
                if ns in CWMP_NAMESPACES:
                    namespace = ns
            continue
        ns, local = entry
        if namespace is None:
            namespace = ns
        if local == "ID":
            out["cwmp_id"] = el.text or ""
        elif local == "HoldRequests":
            out["hold_requests"] = scalar(Kind.BOOL, el, "Header/HoldRequests")
        elif local == "NoMoreRequests":
            out["no_more_requests"] = scalar(Kind.BOOL, el, "Header/NoMoreRequests")
        elif local == "SessionTimeout":
            out["session_timeout"] = scalar(Kind.INT, el, "Header/SessionTimeout")
        elif local == "SupportedCWMPVersions":
            out["supported_cwmp_versions"] = (el.text or "").strip()
        else:
            out["use_cwmp_version"] = (el.text or "").strip()
    return namespace


# -------------------------------------------------------------------------------- body


def _parse_body(body: etree._Element) -> tuple[Message | None, str | None]:
    """The one-pass reading of the Body's RPC element; (None, None) where the reference
    walk must decide (no single RPC element, a SOAP Fault, an unknown method, any
    irregular content)."""
    rpc = None
    for child in body:
        if isinstance(child.tag, str):
            if rpc is not None:
                return None, None
            rpc = child
    if rpc is None:
        return None, None
    entry = RPC_PLANS.get(rpc.tag)
    if entry is None:
        return None, None
    plan, namespace = entry
    return parse_rpc(plan, rpc), namespace
