"""xsd value types on the wire <-> Python values, both ways.

Tolerant in, conservative out (TR-069 quirks):
- booleans are read from true/false/1/0 in any case, and always written as ``1``/``0``
  (several C agents compare against "1" or call ``atoi()``);
- dateTime without a time zone is read as UTC; fractional seconds are accepted and
  dropped on output (some CPEs cannot parse them); the "unknown" time
  ``0001-01-01T00:00:00Z`` is an ordinary value (`UNKNOWN_TIME`);
- unknown xsd types (hexBinary, vendor types) stay ``str``.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta, timezone

from traceacs.cwmp.errors import CwmpParseError, CwmpSerializeError
from traceacs.cwmp.messages import ParamValue

UNKNOWN_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""TR-069's "unknown time": what a CPE reports before it has synchronised its clock."""

_INT_RANGES: dict[str, tuple[int, int]] = {
    "int": (-(2**31), 2**31 - 1),
    "unsignedint": (0, 2**32 - 1),
    "long": (-(2**63), 2**63 - 1),
    "unsignedlong": (0, 2**64 - 1),
}
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
_UTC_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", re.ASCII).fullmatch
"""Whole seconds in UTC with a ``Z``: the one shape `datetime.fromisoformat` reads as the
general reading does (it accepts many others: week dates, a space for the ``T``...)."""
_from_iso = datetime.fromisoformat
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_MAX_INT_DIGITS = 20
"""2**64 has 20 digits: longer numbers are out of every range (and Python refuses to
convert strings over 4300 digits with a ValueError, which must not escape the codec)."""
_WHITESPACE = re.compile(r"\s+")


def _bad(xsd_type: str) -> CwmpParseError:
    # Never quote the text: it may be a secret (a Wi-Fi key typed as the wrong type).
    return CwmpParseError(f"value is not a valid xsd:{xsd_type}")


def parse_int(text: str, xsd_type: str = "int") -> int:
    text = text.strip()
    if not _INTEGER.fullmatch(text) or len(text.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
        raise _bad(xsd_type)
    value = int(text)
    low, high = _INT_RANGES.get(xsd_type.lower(), (-(2**63), 2**64 - 1))
    if not low <= value <= high:
        raise _bad(xsd_type)
    return value


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _bad("boolean")


def parse_datetime(text: str) -> datetime:
    """An aware datetime in UTC; no zone means UTC, fractions beyond µs are cut.

    What CPEs send (``2024-05-01T10:00:00Z``, what `format_datetime` writes too) is
    read by the C ``fromisoformat`` once its exact shape is confirmed; any other text,
    and that shape holding an impossible date, takes the general reading below.
    """
    if _UTC_SECONDS(text) is not None:
        try:
            return _from_iso(text)
        except ValueError:
            pass  # e.g. month 13: the general reading raises the codec's error
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        raise _bad("dateTime")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if fraction is None and zone in (None, "Z", "z"):  # what CPEs send: no arithmetic
        try:
            return datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second), 0, UTC
            )
        except ValueError:
            raise _bad("dateTime") from None
    return _datetime(match)


def parse_datetime_reference(text: str) -> datetime:
    """`parse_datetime` without its shortcut for whole seconds in UTC: every text
    through the general reading. Internal: the oracle the shortcut is tested against
    (`tests/cwmp/test_reference.py`)."""
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        raise _bad("dateTime")
    return _datetime(match)


def _datetime(match: re.Match[str]) -> datetime:
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = UTC
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if offset >= timedelta(hours=24):
            raise _bad("dateTime")
        tz = timezone(sign * offset)
    try:
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _bad("dateTime") from None


def parse_base64(text: str) -> bytes:
    try:
        return base64.b64decode(_WHITESPACE.sub("", text), validate=True)
    except (binascii.Error, ValueError):
        raise _bad("base64") from None


def parse_value(text: str, xsd_type: str) -> ParamValue:
    """Convert wire text to the Python value for ``xsd_type`` (no ``xsd:`` prefix).

    Raises `CwmpParseError` (fault 8003) when the text is not a valid value of a known
    type; unknown types are returned unchanged as ``str``.
    """
    kind = xsd_type.lower()
    if kind == "string":
        return text
    if kind in _INT_RANGES:
        return parse_int(text, xsd_type)
    if kind == "boolean":
        return parse_bool(text)
    if kind == "datetime":
        return parse_datetime(text)
    if kind in ("base64", "base64binary"):
        return parse_base64(text)
    return text


def format_bool(value: bool) -> str:
    return "1" if value else "0"


def format_datetime(value: datetime) -> str:
    """UTC, whole seconds, ``Z``; a naive datetime is taken to be UTC already."""
    if value.tzinfo is not None and value.utcoffset():
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise CwmpSerializeError("dateTime is outside the years 1-9999 in UTC") from None
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
    )


def format_value(value: ParamValue, xsd_type: str = "string") -> str:
    """Wire text for ``value``. Booleans become 1/0, datetimes whole-second UTC.

    The Python type decides the format; a ``str`` given for a boolean ("true") is
    normalised to 1/0 as well, any other ``str`` is sent as is.
    """
    cls = value.__class__  # the usual cases first, by exact class
    if cls is str and xsd_type == "string":
        return value  # type: ignore[return-value]  # narrowed by the class test
    if cls is bool:
        return "1" if value else "0"
    if cls is int:
        return str(value)
    return format_value_reference(value, xsd_type)


def format_value_reference(value: ParamValue, xsd_type: str = "string") -> str:
    """`format_value` without its exact-class shortcuts: every value by ``isinstance``.

    Internal: what `format_value` does with whatever its shortcuts do not take, and the
    oracle they are tested against (`tests/cwmp/test_reference.py`); the reference
    serializer (`serialize.serialize_envelope_reference`) formats with it.
    """
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if xsd_type.lower() == "boolean":
        word = value.strip().lower()
        if word in _TRUE:
            return "1"
        if word in _FALSE:
            return "0"
    return value
