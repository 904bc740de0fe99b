"""No input makes the codec work disproportionately: bounds relative to a normal Inform.

Wall-clock thresholds break on a loaded machine, so every bound is a ratio against
parsing a real CPE's Inform in the same test (best of several runs each):
- attacks of a fixed size (entity bombs, DOCTYPEs, XXE in UTF-16, deep nesting) parse
  or are refused within 200x a normal Inform;
- inputs that grow up to the 4 MiB cap (wide trees, many attributes or namespace
  declarations, long names, entity and character references) cost at most 10x a
  normal Inform *per byte*, and doubling them at most triples the time (linear, no
  quadratic blow-up), so the size cap bounds the time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability import test_hostile_input as hostile
from traceacs.cwmp.codec import DEFAULT_MAX_ENVELOPE_BYTES, parse_envelope
from traceacs.cwmp.errors import CwmpParseError

NORMAL_INFORM = (
    Path(__file__).parent.parent / "cwmp" / "fixtures" / "tr181_device_boot_soapenv_1-4.xml"
).read_bytes()
FIXED_SIZE_RATIO = 200
PER_BYTE_RATIO = 10
DOUBLING_RATIO = 3.5  # linear parsing doubles (2x); quadratic would quadruple (4x)


def parse_time(data: bytes, runs: int = 5) -> float:
    """Best-of-``runs`` seconds to parse or refuse ``data`` (only CwmpParseError)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        with contextlib.suppress(CwmpParseError):
            parse_envelope(data)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.fixture(scope="module")
def normal_time() -> float:
    return parse_time(NORMAL_INFORM, runs=50)


def _utf16(document: bytes) -> bytes:
    text = document.decode().replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>'
    )
    return text.encode("utf-16")


FIXED_SIZE: dict[str, Callable[[], bytes]] = {
    "billion_laughs": hostile.billion_laughs,
    "billion_laughs_utf16": lambda: _utf16(hostile.billion_laughs()),
    "quadratic_blowup": hostile.quadratic_blowup,
    "quadratic_blowup_utf16": lambda: _utf16(hostile.quadratic_blowup()),
    "deep_nesting_100k": hostile.deep_nesting,
    "doctype": hostile.with_doctype,
    "huge_integer": hostile.huge_integer,
    "invalid_utf8": hostile.invalid_utf8,
    "binary_garbage": hostile.binary_garbage,
}


@pytest.mark.parametrize("attack", sorted(FIXED_SIZE))
def test_fixed_size_attacks_cost_at_most_200_informs(attack: str, normal_time: float) -> None:
    data = FIXED_SIZE[attack]()
    ratio = parse_time(data) / normal_time
    assert ratio <= FIXED_SIZE_RATIO, f"{attack}: {ratio:.0f}x a normal Inform"


def _in_manufacturer(
    filler: Callable[[int], str], *, attribute: bool = False
) -> Callable[[int], bytes]:
    """An Inform whose Manufacturer carries ``filler(n)`` as text or as attributes."""
    inform = hostile._inform().decode()

    def build(n: int) -> bytes:
        if attribute:
            return inform.replace("<Manufacturer>", f"<Manufacturer {filler(n)}>", 1).encode()
        return inform.replace("<Manufacturer>Acme", f"<Manufacturer>{filler(n)}", 1).encode()

    return build


GROWING: dict[str, tuple[Callable[[int], bytes], int]] = {
    # name: (builder of an input with n repetitions, n that reaches ~3-4 MB)
    "wide_tree": (
        lambda n: (
            hostile._inform()
            .decode()
            .replace(
                "<ParameterList",
                "<Junk>" + "<ParameterValueStruct><Name>a</Name><Value>b</Value>"
                "</ParameterValueStruct>" * n + "</Junk><ParameterList",
                1,
            )
            .encode()
        ),
        48_000,
    ),
    "entity_references": (_in_manufacturer(lambda n: "&amp;" * n), 700_000),
    "character_references": (_in_manufacturer(lambda n: "&#x41;" * n), 600_000),
    "cdata_sections": (_in_manufacturer(lambda n: "<![CDATA[a]]>" * n), 300_000),
    "comments": (_in_manufacturer(lambda n: "<!--a-->" * n), 450_000),
    "attributes": (
        _in_manufacturer(lambda n: " ".join(f'a{i}="1"' for i in range(n)), attribute=True),
        200_000,
    ),
    "namespace_declarations": (
        _in_manufacturer(
            lambda n: " ".join(f'xmlns:n{i}="urn:x:{i}"' for i in range(n)), attribute=True
        ),
        140_000,
    ),
    "long_element_name": (_in_manufacturer(lambda n: "<" + "M" * n + "/>"), 3_000_000),
}


@pytest.mark.parametrize("shape", sorted(GROWING))
def test_inputs_up_to_the_cap_cost_linear_time(shape: str, normal_time: float) -> None:
    build, n = GROWING[shape]
    half, full = build(n // 2), build(n)
    assert len(full) <= DEFAULT_MAX_ENVELOPE_BYTES  # what the endpoint lets through
    assert len(full) > DEFAULT_MAX_ENVELOPE_BYTES // 2
    # Interleaved best-of rounds, so a burst of load on this shared machine hits both.
    t_half, t_full = float("inf"), float("inf")
    for _ in range(5):
        t_half = min(t_half, parse_time(half, runs=1))
        t_full = min(t_full, parse_time(full, runs=1))
    per_byte = (t_full / len(full)) / (normal_time / len(NORMAL_INFORM))
    assert per_byte <= PER_BYTE_RATIO, f"{shape}: {per_byte:.1f}x an Inform's cost per byte"
    assert t_full / t_half <= DOUBLING_RATIO, f"{shape}: doubling cost {t_full / t_half:.1f}x"


def test_over_the_cap_is_refused_before_parsing(normal_time: float) -> None:
    data = b"<" + b"a" * DEFAULT_MAX_ENVELOPE_BYTES
    with pytest.raises(CwmpParseError) as refused:
        parse_envelope(data)
    assert refused.value.fault_code == 8004
    assert parse_time(data) / normal_time <= FIXED_SIZE_RATIO
