"""One pass over a well-formed RPC element: the parser's hot path.

`parse_tree` walks the element table field by field and keeps the path of every
element for its error messages; that bookkeeping was most of the CPU of an Inform
(about 6x lxml's own parse). Here each `StructSpec` is compiled once into a `Plan`, a
dict from child tag to (attribute, operation), and each struct is read in one loop over
its children with no path strings, no intermediate lists and no per-child tag split
when the tag is unqualified (the common case; a qualified child is looked up by its
local name, as the reference walk does).

The result is by construction the reference walk's: same first-occurrence rule, same
conversions, same tolerance of unknown children. Whatever this pass does not take as
it is — a missing element, a value that does not convert, a parameter without a Name —
makes it decline (`parse_rpc` returns None) and `parse_tree` parses the element again
to produce the exact error, so errors cost a second walk and nothing else changes.
`tests/cwmp/test_parse_fast.py` holds the two walks equal.

A struct whose children are exactly its fields' elements, unqualified, in schema order
(what the ACS and CPEs write) is read positionally: one slice, a tag comparison per
child, the class called with positional arguments; any other struct takes the
by-tag loop. Small integers and the standard events without CommandKey come from
fixed tables instead of being converted and built.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lxml import etree

from traceacs.cwmp.errors import CwmpParseError
from traceacs.cwmp.events import STANDARD_EVENT_CODES
from traceacs.cwmp.messages import EventStruct, Message, ParameterValueStruct
from traceacs.cwmp.namespaces import CWMP_NAMESPACES, XSI
from traceacs.cwmp.parse_tree import name_and_value
from traceacs.cwmp.rpc_schema import RPC_SPECS, Kind, StructSpec
from traceacs.cwmp.values import parse_bool, parse_datetime, parse_int, parse_value

_XSI_TYPE_KEY = f"{{{XSI}}}type".encode()
"""As bytes: lxml reads a bytes key without encoding it first."""

# Operations of a plan entry.
_STRING = 0
_INT = 1
_BOOL = 2
_DATETIME = 3
_STRUCT = 4
_PARAMS = 5
_STRUCTS = 6
_SCALARS = 7
_SCALAR_OPS = {Kind.STRING: _STRING, Kind.INT: _INT, Kind.BOOL: _BOOL, Kind.DATETIME: _DATETIME}


class _Decline(Exception):
    """This pass does not take the element as it is: the reference walk decides."""


def _xsd_type(declared: str | None) -> str:
    """The reference walk's reading of an ``xsi:type`` attribute."""
    return declared.rpartition(":")[2].strip() if declared else "string"


_XSD_TYPES: dict[str | None, str] = {
    t: _xsd_type(t)
    for t in (
        None,
        "",
        "xsd:string",
        "xsd:unsignedInt",
        "xsd:int",
        "xsd:boolean",
        "xsd:dateTime",
        "xsd:long",
        "xsd:unsignedLong",
        "xsd:base64",
        "xsd:hexBinary",
    )
}
"""The xsi:type values CPEs send, read once (fixed: the input must not grow a cache)."""


def _event(event_code: str, command_key: str = "") -> EventStruct:
    """`EventStruct`, shared for a standard code without CommandKey (what a periodic
    Inform carries): the values are frozen, so one instance serves every Inform."""
    if not command_key:
        shared = _STANDARD_EVENTS.get(event_code)
        if shared is not None:
            return shared
    return EventStruct(event_code, command_key)


_STANDARD_EVENTS = {code: EventStruct(code) for code in STANDARD_EVENT_CODES}
_FACTORIES: dict[type[Any], Any] = {EventStruct: _event}
"""Built by a function rather than by the class itself."""


class Plan:
    """A `StructSpec` compiled for one-pass reading."""

    __slots__ = ("cls", "ops", "order", "required", "size")

    def __init__(self, spec: StructSpec) -> None:
        self.cls = _FACTORIES.get(spec.cls, spec.cls)
        self.ops: dict[str, tuple[str, int, Any]] = {}
        for field in spec.fields:
            if field.kind is Kind.STRUCT:
                assert field.struct is not None
                entry: tuple[str, int, Any] = (field.attr, _STRUCT, Plan(field.struct))
            elif field.kind is Kind.ARRAY:
                item = field.item
                if item is Kind.PARAM_VALUE:
                    entry = (field.attr, _PARAMS, None)
                elif isinstance(item, StructSpec):
                    entry = (field.attr, _STRUCTS, Plan(item))
                else:
                    assert item is not None
                    entry = (field.attr, _SCALARS, _SCALAR_OPS[item])
            else:
                entry = (field.attr, _SCALAR_OPS[field.kind], None)
            # A tag taken twice would be read once here: the second field then looks
            # missing, and the reference walk decides.
            self.ops.setdefault(field.tag, entry)
        self.size = len(spec.fields)
        self.required = frozenset(f.attr for f in spec.fields) - spec.defaults
        # Where the wire order is the order of the class's fields and no tag is taken
        # twice (every struct of the table): the children read in order, positionally.
        self.order: tuple[tuple[str, int, Any], ...] | None = None
        attrs = [f.attr for f in spec.fields]
        if attrs == [f.name for f in dataclasses.fields(spec.cls)] and len(self.ops) == len(attrs):
            self.order = tuple((f.tag, *self.ops[f.tag][1:]) for f in spec.fields)


RPC_PLANS: dict[str, tuple[Plan, str]] = {}
"""``{namespace}Method`` (Clark notation, as lxml names elements) -> (plan, namespace),
for every RPC of the element table in every cwmp namespace the parser accepts."""

for _cls, _spec in RPC_SPECS.items():
    _plan = Plan(_spec)
    for _ns in CWMP_NAMESPACES:
        RPC_PLANS[f"{{{_ns}}}{_cls.method}"] = (_plan, _ns)


def parse_rpc(plan: Plan, el: etree._Element) -> Message | None:
    """The message ``el`` carries, or None where the reference walk must decide."""
    try:
        message: Message = _struct(plan, el)
    except (_Decline, CwmpParseError):
        return None
    return message


def _int(text: str | None) -> int:
    # Up to 9 ASCII digits is in the range of every integer type: skip the regex.
    if text is not None and len(text) < 10 and text.isdigit() and text.isascii():
        return int(text)
    return parse_int(text or "", "long")


_SMALL_INTS: dict[str | None, int] = {str(i): i for i in range(256)}
"""The integers of a quiet Inform (MaxEnvelopes 1, RetryCount 0) and of status fields,
in their one canonical spelling: a look-up instead of `_int`'s call and tests (fixed:
the input must not grow it)."""


def _scalar(op: int, text: str | None) -> Any:
    if op == _STRING:
        return text or ""
    if op == _INT:
        return _int(text)
    if op == _BOOL:
        return parse_bool(text or "")
    return parse_datetime(text or "")


def _struct(plan: Plan, el: etree._Element) -> Any:
    order = plan.order
    if order is not None:
        # The usual struct: its fields' elements exactly, unqualified, in schema order.
        children = el[:]  # type: ignore[index]  # one C call; lxml-stubs lack slices
        if len(children) == len(order):
            args: list[Any] = []
            for child, (tag, op, arg) in zip(children, order, strict=True):
                if child.tag != tag:
                    break
                if op == _STRING:
                    args.append(child.text or "")
                elif op == _INT:
                    text = child.text
                    number = _SMALL_INTS.get(text)
                    args.append(_int(text) if number is None else number)
                else:
                    args.append(_value(op, arg, child))
            else:
                return plan.cls(*args)
    ops = plan.ops
    values: dict[str, Any] = {}
    for child in el:
        tag = child.tag
        entry = ops.get(tag)
        if entry is None:
            if not isinstance(tag, str) or tag[:1] != "{":
                continue
            entry = ops.get(tag.partition("}")[2])
            if entry is None:
                continue
        attr, op, arg = entry
        if attr in values:
            continue  # the first element of a name wins
        values[attr] = child.text or "" if op == _STRING else _value(op, arg, child)
    if len(values) != plan.size and not plan.required <= values.keys():
        raise _Decline
    return plan.cls(**values)


def _value(op: int, arg: Any, child: etree._Element) -> Any:
    """The field ``child`` carries, by its plan entry's operation and argument."""
    if op == _STRING:
        return child.text or ""
    if op == _PARAMS:
        return _params(child)
    if op == _STRUCT:
        return _struct(arg, child)
    if op == _STRUCTS:
        return tuple([_struct(arg, i) for i in child if isinstance(i.tag, str)])
    if op == _SCALARS:
        return tuple([_scalar(arg, i.text) for i in child if isinstance(i.tag, str)])
    return _scalar(op, child.text)


def _params(el: etree._Element) -> tuple[ParameterValueStruct, ...]:
    """A ParameterValueStruct array: items whatever their element name, Name and Value
    unqualified or in any namespace, the first of each winning, no Value meaning an
    empty string, a value that does not convert kept as the CPE's text.

    The common item is exactly ``<Name/><Value/>``, unqualified: its two children are
    taken by index (cheaper in lxml than iterating), two tag comparisons confirm it;
    anything else takes the general loop. A child that is not an element has no
    children and so no Name: the reference walk decides.
    """
    out: list[ParameterValueStruct] = []
    append = out.append
    value_el: etree._Element | None
    for item in el[:]:  # type: ignore[index]  # one C call for all items; lxml-stubs lack slices
        if len(item) == 2:
            name_el = item[0]
            value_el = item[1]
            if name_el.tag != "Name" or value_el.tag != "Value":
                name_el, value_el = _name_value(item)
        else:
            name_el, value_el = _name_value(item)
        if value_el is None:
            xsd_type = "string"
            value: Any = ""
        else:
            text = value_el.text or ""
            declared = value_el.get(_XSI_TYPE_KEY)
            xsd_type = _XSD_TYPES.get(declared) or _xsd_type(declared)
            if xsd_type == "string":
                value = text
            else:
                convert = _CONVERT.get(xsd_type)
                value = _convert(text, xsd_type) if convert is None else convert(text)
        pvs = _new(ParameterValueStruct)
        _set_name(pvs, name_el.text or "")
        _set_value(pvs, value)
        _set_type(pvs, xsd_type)
        append(pvs)
    return tuple(out)


# ParameterValueStruct is built as its generated __init__ would build it, slot by slot,
# minus the frozen-dataclass detour through object.__setattr__ (1.3 µs -> 0.4 µs, once
# per parameter). It has no __post_init__; tests/cwmp/test_parse_fast.py keeps it so.
_new = object.__new__
_slots = vars(ParameterValueStruct)
_set_name = _slots["name"].__set__
_set_value = _slots["value"].__set__
_set_type = _slots["xsd_type"].__set__


def _name_value(item: etree._Element) -> tuple[etree._Element, etree._Element | None]:
    """The first Name and the first Value child of ``item``, as the reference walk
    reads them (`parse_tree.name_and_value`); no Name: the reference walk decides."""
    name_el, value_el = name_and_value(item)
    if name_el is None:
        raise _Decline
    return name_el, value_el


def _convert(text: str, xsd_type: str) -> Any:
    """The value of a parameter: its xsd type's, or the text the CPE sent."""
    try:
        return parse_value(text, xsd_type)
    except CwmpParseError:
        return text


_BOOLEANS = {"1": True, "0": False, "true": True, "false": False}


def _boolean(text: str) -> Any:
    value = _BOOLEANS.get(text)
    return _convert(text, "boolean") if value is None else value


def _unsigned(text: str) -> Any:
    if len(text) < 10 and text.isdigit() and text.isascii():
        return int(text)
    return _convert(text, "unsignedInt")


def _signed(text: str) -> Any:
    if len(text) < 10 and text.isdigit() and text.isascii():
        return int(text)
    return _convert(text, "int")


_CONVERT: dict[str, Any] = {"boolean": _boolean, "unsignedInt": _unsigned, "int": _signed}
"""Shortcuts for the usual spellings of the usual types; the rest go to `parse_value`."""
