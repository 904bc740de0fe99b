"""Hypothesis strategies for every CWMP message, derived from the codec's element table.

Deriving them from `rpc_schema.RPC_SPECS` means a message added to the table is
round-trip tested without touching this file; `test_roundtrip` checks the table
covers `messages.ALL_MESSAGES`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from traceacs.cwmp import messages as m
from traceacs.cwmp.namespaces import CWMP_NAMESPACES
from traceacs.cwmp.rpc_schema import RPC_SPECS, Field, Kind, StructSpec
from traceacs.cwmp.values import UNKNOWN_TIME

xml_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, codec="utf-8", exclude_characters="\ufffe\uffff"),
        st.sampled_from("\t\n\r&<>\"'"),
    ),
    max_size=40,
)
"""Any text XML 1.0 can carry, with the characters that need escaping over-represented."""

datetimes = st.one_of(
    st.just(UNKNOWN_TIME),
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.just(UTC),
    ).map(lambda d: d.replace(microsecond=0)),
)
"""Whole seconds only: the codec never emits fractions (QUIRKS), so they cannot round-trip."""

wire_ints = st.integers(min_value=-(2**31), max_value=2**32 - 1)

typed_values: st.SearchStrategy[tuple[m.ParamValue, str]] = st.one_of(
    st.tuples(xml_text, st.just("string")),
    st.tuples(st.integers(-(2**31), 2**31 - 1), st.just("int")),
    st.tuples(st.integers(0, 2**32 - 1), st.just("unsignedInt")),
    st.tuples(st.integers(-(2**63), 2**63 - 1), st.just("long")),
    st.tuples(st.integers(0, 2**64 - 1), st.just("unsignedLong")),
    st.tuples(st.booleans(), st.just("boolean")),
    st.tuples(datetimes, st.just("dateTime")),
    st.tuples(st.binary(max_size=24), st.just("base64")),
    st.tuples(st.text("0123456789ABCDEF", max_size=16), st.just("hexBinary")),
)

parameter_value_structs = typed_values.flatmap(
    lambda tv: st.builds(
        m.ParameterValueStruct, name=xml_text, value=st.just(tv[0]), xsd_type=st.just(tv[1])
    )
)


def _scalar(kind: Kind) -> st.SearchStrategy[Any]:
    return {
        Kind.STRING: xml_text,
        Kind.INT: wire_ints,
        Kind.BOOL: st.booleans(),
        Kind.DATETIME: datetimes,
        Kind.PARAM_VALUE: parameter_value_structs,
    }[kind]


def _field(field: Field) -> st.SearchStrategy[Any]:
    if field.kind is Kind.STRUCT:
        assert field.struct is not None
        return for_spec(field.struct)
    if field.kind is Kind.ARRAY:
        item = field.item
        assert item is not None
        items = for_spec(item) if isinstance(item, StructSpec) else _scalar(item)
        return st.lists(items, max_size=4).map(tuple)
    return _scalar(field.kind)


def for_spec(spec: StructSpec) -> st.SearchStrategy[Any]:
    return st.builds(spec.cls, **{f.attr: _field(f) for f in spec.fields})


cwmp_faults = st.builds(
    m.CwmpFault,
    fault_code=st.integers(8000, 9899),
    fault_string=xml_text,
    soap_fault_code=st.sampled_from(["Client", "Server"]),
    set_parameter_values_faults=st.lists(
        st.builds(
            m.SetParameterValuesFault,
            parameter_name=xml_text,
            fault_code=st.integers(9000, 9899),
            fault_string=xml_text,
        ),
        max_size=3,
    ).map(tuple),
)


def message_of(cls: type[m.Message]) -> st.SearchStrategy[m.Message]:
    if cls is m.CwmpFault:
        return cwmp_faults
    return for_spec(RPC_SPECS[cls])


def envelopes(body: st.SearchStrategy[m.Message]) -> st.SearchStrategy[m.Envelope]:
    """Every header combination, in every namespace the parser accepts."""
    return st.builds(
        m.Envelope,
        body=body,
        cwmp_id=st.none() | xml_text,
        namespace=st.sampled_from(sorted(CWMP_NAMESPACES)),
        hold_requests=st.none() | st.booleans(),
        no_more_requests=st.none() | st.booleans(),
        session_timeout=st.none() | st.integers(0, 2**32 - 1),
        supported_cwmp_versions=st.none()
        | st.sampled_from(["1.0", "1.0,1.1,1.2", "1.0,1.1,1.2,1.3,1.4"]),
        use_cwmp_version=st.none() | st.sampled_from(["1.0", "1.2", "1.4"]),
    )
