"""Message -> SOAP envelope bytes, with string templates (the ACS's hot path).

Building strings is several times faster than building an lxml tree and lets the
output stay exactly as conservative as real CPEs need (QUIRKS.md):
- ``soap-env``, ``soap-enc``, ``xsd``, ``xsi`` and ``cwmp`` all declared on the Envelope;
- the RPC element prefixed ``cwmp:``, its children unqualified (``FaultCode`` too);
- ``soap-enc:arrayType`` with the real item count, ``xsi:type`` on every ``Value``;
- booleans as ``1``/``0``, dateTime in whole seconds with ``Z``;
- empty elements written as ``<X></X>``, never self-closed (``<ParameterPath/>`` broke
  a gSOAP agent);
- the envelope written in the cwmp namespace the `Envelope` carries.

Arrays (the ~30 parameters of a SetParameterValues, the names of a GetParameterValues)
are written with one escape test over all their texts at once: almost no value needs
escaping, and then every item is a plain template fill; otherwise each text is escaped
(and refused) one by one, as everywhere else.

`serialize_envelope_reference` writes the same bytes without any of these shortcuts
(every item through the per-item writer, nothing cached): the oracle the shortcuts are
tested against (`tests/cwmp/test_reference.py`), and the writer as it was before them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, cast

from traceacs.cwmp.errors import CwmpSerializeError
from traceacs.cwmp.messages import CwmpFault, Envelope, Message, ParameterValueStruct
from traceacs.cwmp.namespaces import CWMP_NAMESPACES, SOAP_ENC, SOAP_ENV, XSD, XSI
from traceacs.cwmp.rpc_schema import RPC_SPECS, Field, Kind, StructSpec
from traceacs.cwmp.values import (
    format_bool,
    format_datetime,
    format_value,
    format_value_reference,
)

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NEEDS_ESCAPE = re.compile('[&<>\r"\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}" xmlns:soap-enc="{SOAP_ENC}"'
    f' xmlns:xsd="{XSD}" xmlns:xsi="{XSI}" xmlns:cwmp="'
)
_ENVELOPE_CLOSE = "</soap-env:Body></soap-env:Envelope>"


def escape(text: str) -> str:
    """Escape text for element content and double-quoted attributes.

    ``\\r`` is written as a character reference, or the parser would normalise it
    away; characters XML 1.0 cannot carry at all raise `CwmpSerializeError`.
    """
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    if _INVALID_XML.search(text) is not None:
        raise CwmpSerializeError("text contains a character XML 1.0 cannot carry")
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
    )


_OPENINGS = {ns: f'{_ENVELOPE_OPEN}{ns}"><soap-env:Header>' for ns in CWMP_NAMESPACES}
"""The Envelope start tag up to the headers, per cwmp namespace (their URIs need no
escaping)."""


def serialize_envelope(envelope: Envelope) -> bytes:
    """The UTF-8 SOAP envelope for ``envelope`` (headers + one body message)."""
    return _serialize(envelope, True)


def serialize_envelope_reference(envelope: Envelope) -> bytes:
    """`serialize_envelope` without its shortcuts: no cached opening or body, every
    array item escaped and formatted on its own (`values.format_value_reference`).

    Internal: the oracle `tests/cwmp/test_reference.py` holds `serialize_envelope`
    byte-equal to, and the "previous codec" timed by `bench.codec`.
    """
    return _serialize(envelope, False)


def _serialize(envelope: Envelope, fast: bool) -> bytes:
    opening = _OPENINGS.get(envelope.namespace) if fast else None
    if opening is None:
        opening = f'{_ENVELOPE_OPEN}{escape(envelope.namespace)}"><soap-env:Header>'
    out: list[str] = [opening]
    _write_headers(envelope, out)
    out.append("</soap-env:Header><soap-env:Body>")
    body = envelope.body
    if fast and body.__class__ in _SMALL_BODIES:
        out.append(_small_body(body))
    elif isinstance(body, CwmpFault):
        _write_fault(body, out)
    else:
        _write_rpc(body, out, fast)
    out.append(_ENVELOPE_CLOSE)
    return "".join(out).encode("utf-8")


_SMALL_BODIES = frozenset(
    cls
    for cls, spec in RPC_SPECS.items()
    if all(field.kind in (Kind.INT, Kind.BOOL) for field in spec.fields)
)
"""Messages of a few integers at most (InformResponse, the empty responses, Reboot's
answer...): few distinct values, so their text is kept once written."""


@lru_cache(maxsize=64)
def _small_body(body: Message) -> str:
    out: list[str] = []
    _write_rpc(body, out, True)
    return "".join(out)


def _header(out: list[str], tag: str, value: str, must_understand: str) -> None:
    out.append(f'<cwmp:{tag} soap-env:mustUnderstand="{must_understand}">{value}</cwmp:{tag}>')


def _write_headers(env: Envelope, out: list[str]) -> None:
    if env.cwmp_id is not None:
        _header(out, "ID", escape(env.cwmp_id), "1")
    if env.hold_requests is not None:
        _header(out, "HoldRequests", format_bool(env.hold_requests), "1")
    if env.no_more_requests is not None:
        _header(out, "NoMoreRequests", format_bool(env.no_more_requests), "0")
    if env.session_timeout is not None:
        _header(out, "SessionTimeout", str(env.session_timeout), "0")
    if env.supported_cwmp_versions is not None:
        _header(out, "SupportedCWMPVersions", escape(env.supported_cwmp_versions), "0")
    if env.use_cwmp_version is not None:
        _header(out, "UseCWMPVersion", escape(env.use_cwmp_version), "1")


def _write_rpc(body: Message, out: list[str], fast: bool) -> None:
    """``fast``: arrays through the batched writers (False: item by item)."""
    spec = RPC_SPECS.get(type(body))
    if spec is None:
        raise CwmpSerializeError(f"no wire format for {type(body).__name__}")
    method = body.method
    out.append(f"<cwmp:{method}>")
    _write_fields(spec, body, out, fast)
    out.append(f"</cwmp:{method}>")


def _write_fields(spec: StructSpec, obj: Any, out: list[str], fast: bool) -> None:
    for field in spec.fields:
        _write_field(field, getattr(obj, field.attr), out, fast)


def _scalar(kind: Kind, value: Any) -> str:
    if kind is Kind.STRING:
        return escape(value)
    if kind is Kind.BOOL:
        return format_bool(value)
    if kind is Kind.DATETIME:
        return format_datetime(value)
    return str(int(value))


def _write_field(field: Field, value: Any, out: list[str], fast: bool) -> None:
    tag = field.tag
    kind = field.kind
    if kind is Kind.STRUCT:
        assert field.struct is not None
        out.append(f"<{tag}>")
        _write_fields(field.struct, value, out, fast)
        out.append(f"</{tag}>")
    elif kind is Kind.ARRAY:
        _write_array(field, value, out, fast)
    else:
        out.append(f"<{tag}>{_scalar(kind, value)}</{tag}>")


def _write_array(field: Field, items: tuple[Any, ...], out: list[str], fast: bool) -> None:
    tag, item_tag, item = field.tag, field.item_tag, field.item
    out.append(f'<{tag} soap-enc:arrayType="{field.array_type}[{len(items)}]">')
    if item is Kind.PARAM_VALUE:
        if fast:
            _write_param_values(items, out)
        else:
            for pv in items:
                _write_param_value(pv, out, format_value_reference)
    elif item is Kind.STRING and fast:
        _write_strings(item_tag, items, out)
    elif isinstance(item, StructSpec):
        for obj in items:
            out.append(f"<{item_tag}>")
            _write_fields(item, obj, out, fast)
            out.append(f"</{item_tag}>")
    else:
        assert item is not None
        for value in items:
            out.append(f"<{item_tag}>{_scalar(item, value)}</{item_tag}>")
    out.append(f"</{tag}>")


def _plain(text: str) -> bool:
    """True if ``text`` certainly needs no escaping: printable ASCII without ``&<>"``.

    Four substring scans and two C-level class checks: several times cheaper than the
    escape regex over a few kB (the regex decides whatever this does not clear).
    """
    return (
        text.isascii()
        and text.isprintable()
        and "&" not in text
        and "<" not in text
        and ">" not in text
        and '"' not in text
    )


def _write_strings(item_tag: str, items: tuple[str, ...], out: list[str]) -> None:
    """``<string>a</string><string>b</string>...``: one escape test for all items."""
    if not items:
        return
    joined = "".join(items)
    if not _plain(joined) and _NEEDS_ESCAPE.search(joined) is not None:
        items = tuple(escape(item) for item in items)
    out.append(f"<{item_tag}>{f'</{item_tag}><{item_tag}>'.join(items)}</{item_tag}>")


def _write_param_values(items: tuple[ParameterValueStruct, ...], out: list[str]) -> None:
    """The items of a ParameterValueStruct array, escaped one by one only where the
    texts of all of them together hold something to escape."""
    rows: list[str] = []
    texts: list[str] = []
    for pv in items:
        name, value, xsd_type = pv.name, pv.value, pv.xsd_type
        cls = value.__class__
        if cls is str and xsd_type == "string":
            text = cast(str, value)
        elif cls is bool:
            text = "1" if value else "0"
        elif cls is int:
            text = str(value)
        else:
            text = format_value(value, xsd_type)  # and a str typed boolean -> 1/0
        texts += (name, xsd_type, text)
        rows.append(
            f"<ParameterValueStruct><Name>{name}</Name>"
            f'<Value xsi:type="xsd:{xsd_type}">{text}</Value></ParameterValueStruct>'
        )
    joined = "".join(texts)
    if _plain(joined) or _NEEDS_ESCAPE.search(joined) is None:
        out += rows
    else:
        for pv in items:
            _write_param_value(pv, out, format_value)


def _write_param_value(
    pv: ParameterValueStruct, out: list[str], format_: Callable[[Any, str], str]
) -> None:
    xsd_type = pv.xsd_type
    out.append(
        f"<ParameterValueStruct><Name>{escape(pv.name)}</Name>"
        f'<Value xsi:type="xsd:{escape(xsd_type)}">{escape(format_(pv.value, xsd_type))}'
        "</Value></ParameterValueStruct>"
    )


def _write_fault(fault: CwmpFault, out: list[str]) -> None:
    out.append(
        f"<soap-env:Fault><faultcode>{escape(fault.soap_fault_code)}</faultcode>"
        "<faultstring>CWMP fault</faultstring><detail><cwmp:Fault>"
        f"<FaultCode>{int(fault.fault_code)}</FaultCode>"
        f"<FaultString>{escape(fault.fault_string)}</FaultString>"
    )
    for spvf in fault.set_parameter_values_faults:
        out.append(
            f"<SetParameterValuesFault><ParameterName>{escape(spvf.parameter_name)}"
            f"</ParameterName><FaultCode>{int(spvf.fault_code)}</FaultCode>"
            f"<FaultString>{escape(spvf.fault_string)}</FaultString></SetParameterValuesFault>"
        )
    out.append("</cwmp:Fault></detail></soap-env:Fault>")
