"""The per-session fast paths answer exactly as the straightforward code they replace.

Each test compares a fast path with its reference on inputs chosen to reach every
branch: the secret-name check without the regex, string attributes encoded from a
remembered header, record attributes encoded through the cache, Informs counted per
code at collection, the quiet-periodic check on the event codes' text.
"""

from __future__ import annotations

import random

import pytest
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from tests.telemetry.conftest import Harness
from tests.telemetry.traces import MS, T0, quiet_periodic_trace
from traceacs.provisioning.session_trace import AttributeValue
from traceacs.telemetry import exporter
from traceacs.telemetry.instruments import MAX_EVENT_CODES, OVERFLOW_EVENT_CODE
from traceacs.telemetry.otlp_encoding import (
    KIND_FIELDS,
    ascii_string_attribute_field,
    attribute_fields,
    encode_session_span,
    encode_span_fields,
    status_field,
    trace_id_fields,
)
from traceacs.telemetry.redaction import (
    SECRET_NAME_PATTERN,
    names_a_secret,
    redact_attributes,
)
from traceacs.telemetry.sampling import (
    PERIODIC_EVENT,
    QuietSessionSampler,
    event_codes_of,
    is_quiet_periodic,
)

SECRET = "hunter2-0f9e8d"
ALTERNATIVES = SECRET_NAME_PATTERN.pattern.split("|")


def _texts(count: int, seed: int) -> list[str]:
    """Random texts, half of them with a secret name in any case, some with the
    characters Unicode case folding matches to ASCII letters (``ſ`` ~ ``s``, the
    Kelvin sign ~ ``k``)."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=, ſ\u212aİı"
    texts = []
    for _ in range(count):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        if rng.random() < 0.5:
            name = "".join(c.upper() if rng.random() < 0.5 else c for c in rng.choice(ALTERNATIVES))
            if rng.random() < 0.2:
                name = name.replace("s", "ſ").replace("k", "\u212a")
            at = rng.randint(0, len(text))
            text = text[:at] + name + text[at:]
        texts.append(text)
    return texts


def test_secret_names_are_found_as_the_pattern_finds_them() -> None:
    texts = _texts(20_000, seed=5)
    texts += ["Device.WiFi.AccessPoint.1.Security.KeyPassphrase", "PreSharedKey", "WEPKey"]
    texts += ["X_PSK", "ſecret", "wep\u212aey", "Password", "pass word", ""]
    for text in texts:
        assert names_a_secret(text) is (SECRET_NAME_PATTERN.search(text) is not None), text


@pytest.mark.parametrize("key", ["cwmp.session.id", "cpe.serial_number", "k"])
def test_ascii_strings_encode_as_the_generic_encoder_writes_them(key: str) -> None:
    """Lengths across the one-to-two-byte varint boundaries of the text, the value
    and the key-value field."""
    for size in [*range(0, 140), 200, 16_380, 16_400]:
        text = ("0123456789abcdef" * (size // 16 + 1))[:size]
        assert ascii_string_attribute_field(key, text) == attribute_fields({key: text})
        assert ascii_string_attribute_field(key, text) == attribute_fields({key: text})


def _attribute_sets() -> list[dict[str, AttributeValue]]:
    return [
        {
            "cpe.serial_number": "SIM00080000003",
            "cwmp.session.id": "5903184676a3b067",
            "cpe.model": "TraceGW-181",
            "cpe.event_codes": "2 PERIODIC",
            "cpe.profile.parameter_count": 17,
            "cpe.config.has_voip": True,
            "cpe.config.param_count": 1,  # True == 1: a different encoding
            "cpe.firmware.transfer_seconds": 1.5,
        },
        {
            "cwmp.fault_string": f"Device.X.Password={SECRET}",  # a pair to mask
            "cpe.model": "Modèle-ü",  # not ASCII: the generic path
            "x.not.allowed": SECRET,  # dropped
            "cwmp.parameter_names": ("Device.WiFi.AccessPoint.1.Security.KeyPassphrase",),
            "cpe.verify.mismatched_parameters": f"Device.A.PreSharedKey={SECRET},Device.B=1",
            "cpe.config.has_voip": 1,
            "cpe.config.param_count": True,
            "cpe.config.wifi_bands": ("2.4GHz", "5GHz"),
        },
        {"cpe.customer_id": "", "cpe.location_id": "LOC" * 60, "cpe.task.attempt": -3},
    ]


def test_record_attributes_encode_as_redacted_then_encoded() -> None:
    """The cache and the ASCII path give what redacting then encoding gives, the
    second time (from the cache) as the first; nothing redaction drops or changes is
    remembered, nor any value of one device or session."""
    for _ in range(2):
        for attributes in _attribute_sets():
            expected = attribute_fields(redact_attributes(attributes))
            assert exporter._safe_attribute_fields(attributes) == expected
    remembered = repr(list(exporter._SAFE_FIELDS))
    assert SECRET not in remembered
    assert "x.not.allowed" not in remembered
    assert "SIM00080000003" not in remembered
    assert "5903184676a3b067" not in remembered
    assert "TraceGW-181" in remembered


def _reference_inform_counts(informs: list[tuple[str, ...]]) -> dict[str, int]:
    """Each code counted at once, as the counter did before (the first
    `MAX_EVENT_CODES` distinct codes get their own point, vendor codes collapse)."""
    counts: dict[str, int] = {}
    for codes in informs:
        for code in codes:
            key = "X" if code.startswith("X ") else code
            if key not in counts and len(counts) >= MAX_EVENT_CODES:
                key = OVERFLOW_EVENT_CODE
            counts[key] = counts.get(key, 0) + 1
    return counts


def _inform_points(harness: Harness) -> dict[str, int]:
    return {
        str((p.attributes or {})["cwmp.event_code"]): int(p.value)  # type: ignore[union-attr]
        for p in harness.points("cwmp.informs")
    }


def test_informs_counted_per_code_at_collection_as_if_counted_at_once(
    harness: Harness,
) -> None:
    """Hundreds of distinct tuples (past the bound, so counted per code before any
    collection too), codes in several tuples, vendor codes, collections in between:
    every collection reports what counting each code at once would have."""
    rng = random.Random(11)
    pool = [f"{n} MADE UP" for n in range(MAX_EVENT_CODES + 40)]
    pool += [PERIODIC_EVENT, "1 BOOT", "X 00259E Thing", "X 0A0B0C Other"]
    sent: list[tuple[str, ...]] = []
    for round_ in range(4):
        for _ in range(300):
            codes = tuple(rng.sample(pool, rng.randint(1, 3)))
            sent.append(codes)
            harness.port.inform_received(list(codes) if round_ == 1 else codes)
        assert _inform_points(harness) == _reference_inform_counts(sent)


@pytest.mark.parametrize(
    "codes",
    [
        "2 PERIODIC",
        "1 BOOT,2 PERIODIC",
        "1 BOOT, 2 PERIODIC ",
        "12 PERIODIC",
        "2 PERIODICALLY",
        "X 2 PERIODIC",
        "2 PERIODIC2,1 BOOT",
        "1 BOOT",
        "",
        ("2 PERIODIC",),
        ("1 BOOT", "2 PERIODIC"),
        (" 2 PERIODIC",),
        17,
    ],
)
def test_event_codes_text_is_matched_as_the_codes_are(codes: AttributeValue) -> None:
    trace = quiet_periodic_trace(3)
    trace.root.attributes["cpe.event_codes"] = codes
    assert is_quiet_periodic(trace) is (PERIODIC_EVENT in event_codes_of(trace))


def test_the_ratio_decides_first_with_the_same_outcome() -> None:
    """Within the ratio a session is kept whatever it did; outside, only if it is not
    quiet periodic: the rule is unchanged by checking the trace id first."""
    sampler = QuietSessionSampler(0.3)
    for n in range(400):
        trace = quiet_periodic_trace(n)
        trace.changed_something = n % 3 == 0
        in_ratio = int(trace.trace_id, 16) & ((1 << 64) - 1) < round(0.3 * (1 << 64))
        assert sampler.keep(trace) is (in_ratio or not is_quiet_periodic(trace))


@pytest.mark.parametrize("name", ["cpe.inform", "", "cwmp.rpc Ünïcode"])
@pytest.mark.parametrize("parent", [None, bytes.fromhex("00000000000000ab")])
def test_session_spans_encode_as_the_general_encoder_writes_them(
    name: str, parent: bytes | None
) -> None:
    trace_id, span_id = bytes(range(16)), bytes(range(8, 16))
    link = Link(SpanContext(0xAB, 0xCD, True, TraceFlags(1)), {"link.kind": "connection_request"})
    fields = attribute_fields({"cpe.model": "TraceGW-181", "cpe.profile.parameter_count": 7})
    status = status_field(Status(StatusCode.ERROR, "no response (timeout)"))
    for links in ((), (link,)):
        for start, end in ((1, 1), (T0, T0 + 5 * MS), ((1 << 64) - 2, (1 << 64) - 1)):
            kind = KIND_FIELDS[SpanKind.SERVER]
            assert encode_session_span(
                trace_id_fields(trace_id), span_id, parent, name, kind, start, end,
                fields, links, status,
            ) == encode_span_fields(
                trace_id, span_id, None, parent, False, name, kind, start, end,
                fields, 0, (), 0, links, 0, status,
            )  # fmt: skip


@pytest.mark.parametrize(("start", "end"), [(0, 0), (0, T0), (T0, 0)])
def test_session_spans_with_a_time_of_zero_leave_it_out_as_the_general_encoder_does(
    start: int, end: int
) -> None:
    trace_id, span_id = bytes(range(16)), bytes(range(8, 16))
    kind, status = KIND_FIELDS[SpanKind.INTERNAL], status_field(Status(StatusCode.OK))
    assert encode_session_span(
        trace_id_fields(trace_id), span_id, None, "cpe.provision.verify", kind, start, end,
        b"", (), status,
    ) == encode_span_fields(
        trace_id, span_id, None, None, False, "cpe.provision.verify", kind, start, end,
        b"", 0, (), 0, (), 0, status,
    )  # fmt: skip
