"""Compares what SetParameterValues pushed with what GetParameterValues reads back.

CPEs report values in their own spelling ("1" for true, "007" for 7, an int typed as
xsd:string...), so both sides are normalised through the desired parameter's xsd type
before comparing. Only names are returned: values may be secrets.
"""

from __future__ import annotations

from collections.abc import Iterable

from traceacs.cwmp.errors import CwmpError
from traceacs.cwmp.messages import ParameterValueStruct, ParamValue
from traceacs.cwmp.values import format_value, parse_value


def canonical(value: ParamValue, xsd_type: str) -> str:
    """The value as the xsd type's canonical text, whatever spelling it came in."""
    typed = value
    if isinstance(value, str) and xsd_type != "string":
        try:
            typed = parse_value(value.strip(), xsd_type)
        except (CwmpError, ValueError):
            return value.strip()
    try:
        return format_value(typed, xsd_type)
    except (CwmpError, ValueError, TypeError):
        return str(typed)


def find_mismatches(
    desired: Iterable[ParameterValueStruct], reported: Iterable[ParameterValueStruct]
) -> tuple[str, ...]:
    """Names of desired parameters the device reports differently, or not at all."""
    actual = {p.name: p.value for p in reported}
    mismatched: list[str] = []
    for want in desired:
        if want.name not in actual or canonical(want.value, want.xsd_type) != canonical(
            actual[want.name], want.xsd_type
        ):
            mismatched.append(want.name)
    return tuple(mismatched)
