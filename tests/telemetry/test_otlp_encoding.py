"""The direct OTLP encoder writes, byte for byte in meaning, the SDK encoder's request.

Each test parses what `encode_trace_request` wrote with the generated protobuf classes
and compares it to the SDK's own `encode_spans` for the same spans; the end-to-end
test compares what an OTLP/HTTP receiver got from the ACS's exporter with the SDK's
encoding of the spans an in-memory exporter caught on the same provider.
"""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from tests.telemetry.conftest import make_harness
from tests.telemetry.test_otlp_export import Received
from tests.telemetry.threaded_receiver import otlp_receiver  # noqa: F401 (fixture)
from tests.telemetry.traces import RESULTS, provisioning_trace, quiet_periodic_trace
from traceacs.provisioning.session_trace import SessionTrace, SpanRecord
from traceacs.telemetry.exporter import samples_every_root
from traceacs.telemetry.otlp_encoding import encode_trace_request
from traceacs.telemetry.otlp_http import DirectOtlpHttpSpanExporter
from traceacs.telemetry.setup import _sampler, build_telemetry


def _decoded(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(encode_trace_request(spans))


def _sdk(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(encode_spans(spans).SerializeToString())


def _exported(*traces: SessionTrace) -> list[ReadableSpan]:
    harness = make_harness()
    try:
        for trace in traces:
            harness.port.session_finished(trace, None)
        return harness.finished_spans()
    finally:
        harness.telemetry.shutdown()


@pytest.mark.parametrize("result", RESULTS)
def test_session_traces_encode_as_the_sdk_encodes_them(result: str) -> None:
    trace, _ = provisioning_trace(result)
    trace.root.attributes["cpe.connection_request.trace_id"] = "ab" * 16  # a linked root
    trace.root.attributes["cpe.connection_request.span_id"] = "cd" * 8
    spans = _exported(trace, quiet_periodic_trace(7))
    assert any(span.links for span in spans)
    assert any(span.status.status_code is StatusCode.ERROR for span in spans) == (
        result != "success"
    )
    assert _decoded(spans) == _sdk(spans)


def _tracer_spans() -> list[ReadableSpan]:
    """Spans using what session traces never do: events, every value type, trace
    state, a remote parent, explicit OK status, other kinds, a second resource/scope."""
    memory = InMemorySpanExporter()
    providers = [
        TracerProvider(resource=Resource.create({"service.name": name, "n": n}))
        for n, name in enumerate(("one", "two"))
    ]
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(memory))
    remote = SpanContext(
        0x1234,
        0x99,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "v1"), ("other", "x")]),
    )
    for provider in providers:
        for scope, version in (("a", ""), ("b", "1.2")):
            tracer = provider.get_tracer(scope, version, schema_url="https://schema/1")
            span = tracer.start_span(
                "everything",
                context=set_span_in_context(NonRecordingSpan(remote)),
                kind=SpanKind.CLIENT,
                attributes={
                    "s": "text é",
                    "empty": "",
                    "t": True,
                    "f": False,
                    "zero": 0,
                    "neg": -5,
                    "big": 2**62,
                    "pi": 0.0,
                    "strs": ("a", "b"),
                    "ints": (1, -2),
                    "none": (),
                },
                links=[Link(remote, {"k": "v"}), Link(remote)],
                start_time=1_700_000_000_000_000_000,
            )
            span.add_event("evt", {"x": 1}, timestamp=1_700_000_000_000_000_500)
            span.add_event("bare", timestamp=1_700_000_000_000_000_600)
            span.set_status(Status(StatusCode.OK))
            span.end(end_time=1_700_000_000_000_001_000)
            # equal values of other types under the same keys (True == 1, 0 == False)
            attributes = {"t": 1, "zero": False, "pi": -0.0}
            tracer.start_span("minimal", kind=SpanKind.PRODUCER, attributes=attributes).end()
    return list(memory.get_finished_spans())


def test_general_sdk_spans_encode_as_the_sdk_encodes_them() -> None:
    spans = _tracer_spans()
    decoded = _decoded(spans)
    assert len(decoded.resource_spans) == 2
    assert all(len(rs.scope_spans) == 2 for rs in decoded.resource_spans)
    assert decoded == _sdk(spans)


def test_an_unencodable_attribute_is_left_out_as_the_sdk_leaves_it_out() -> None:
    (span,) = [s for s in _tracer_spans() if s.name == "minimal"][:1]
    odd = ReadableSpan(
        name="odd",
        context=span.context,
        resource=span.resource,
        attributes={"ok": "yes", "huge": 2**70},
        instrumentation_scope=span.instrumentation_scope,
        start_time=1,
        end_time=2,
    )
    decoded = _decoded([odd])
    (only,) = [s for rs in decoded.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert [a.key for a in only.attributes] == ["ok"]
    assert decoded == _sdk([odd])


@pytest.fixture
def collected(
    otlp_receiver: tuple[str, Received],  # noqa: F811 (the fixture)
) -> tuple[list[ReadableSpan], Received]:
    """Session traces exported by telemetry built from OTEL_* variables, plus the
    same spans as an in-memory exporter on that provider caught them."""
    endpoint, received = otlp_receiver
    memory = InMemorySpanExporter()
    telemetry = build_telemetry(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SERVICE_NAME": "traceacs-test"},
        prometheus=False,
        span_processors=[SimpleSpanProcessor(memory)],
    )
    try:
        for n, result in enumerate(RESULTS):
            trace, outcome = provisioning_trace(result, n + 1)
            telemetry.provisioning.session_started()
            telemetry.provisioning.session_finished(trace, outcome)
        assert telemetry.force_flush(10_000)
    finally:
        telemetry.shutdown()
    return list(memory.get_finished_spans()), received


def test_the_receiver_decodes_what_the_sdk_encoder_would_have_sent(
    collected: tuple[list[ReadableSpan], Received],
) -> None:
    spans, received = collected
    expected = _sdk(spans)
    with received.lock:
        requests = list(received.traces)
    assert requests

    def flat(
        message: ExportTraceServiceRequest,
    ) -> list[tuple[bytes, bytes, ProtoSpan]]:
        return [
            (rs.resource.SerializeToString(), ss.scope.SerializeToString(), span)
            for rs in message.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    got = [item for request in requests for item in flat(request)]
    assert len(got) == len(spans)
    assert got == flat(expected)


def test_the_exporter_built_for_otlp_http_is_the_direct_one() -> None:
    telemetry = build_telemetry(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, prometheus=False
    )
    try:
        assert telemetry.exporters[0] == f"traces: {DirectOtlpHttpSpanExporter.__name__}"
    finally:
        telemetry.shutdown()


def _odd_traces() -> list[SessionTrace]:
    """Session traces through every branch of the adapter's span building."""
    linked, _ = provisioning_trace("config_push_failed", 11)
    linked.root.attributes["cpe.connection_request.trace_id"] = "ab" * 16
    linked.root.attributes["cpe.connection_request.span_id"] = "cd" * 8
    push, rpc = linked.spans[3], linked.spans[4]  # push_config and its failed SPV
    assert rpc.status == "error"
    rpc.status_message = f"fault at Device.WiFi.AccessPoint.1.Security.KeyPassphrase={SECRET}"
    push.attributes["cwmp.parameter_names"] = (
        "Device.WiFi.AccessPoint.1.Security.KeyPassphrase",
        "Device.WiFi.SSID.1.SSID",
    )
    push.attributes["x.not.allowed"] = SECRET  # a key outside the allow-list
    stray, _ = provisioning_trace("success", 12)  # a parent missing from the record
    stray.spans.append(SpanRecord("cwmp.rpc Reboot", "00000000000000ff", "0000000000000abc", 5))
    unended, _ = provisioning_trace("verification_failed", 13)
    unended.spans[-1].end_ns = None
    return [linked, stray, unended, quiet_periodic_trace(14)]


SECRET = "s3cret-value-0f9e"


def _flat(request: ExportTraceServiceRequest) -> list[tuple[bytes, bytes, ProtoSpan]]:
    return [
        (rs.resource.SerializeToString(), ss.scope.SerializeToString(), span)
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


@pytest.mark.parametrize("with_sdk_processor", [True, False])
@pytest.mark.parametrize("sampler", ["parentbased_traceidratio", "parentbased_always_on"])
def test_spans_encoded_by_the_adapter_are_what_the_sdk_encodes(
    otlp_receiver: tuple[str, Received],  # noqa: F811 (the fixture)
    with_sdk_processor: bool,
    sampler: str,
) -> None:
    """The OTLP batch processor gets spans the adapter encoded itself (no `ReadableSpan`);
    the Collector must receive what the SDK encoder writes for the `ReadableSpan`s other
    processors get, with or without such processors, under a ratio sampler (asked for
    each root) and under the default sampler, whose decision the adapter knows without
    asking (`samples_every_root`: its own encoding path when no other processor wants
    `ReadableSpan`s)."""
    endpoint, received = otlp_receiver
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": "traceacs-test",
        "OTEL_TRACES_SAMPLER": sampler,
        "OTEL_TRACES_SAMPLER_ARG": "1.0",
    }
    memory = InMemorySpanExporter()
    telemetry = build_telemetry(
        env,
        prometheus=False,
        quiet_periodic_ratio=1.0,
        span_processors=[SimpleSpanProcessor(memory)] if with_sdk_processor else [],
    )
    reference = make_harness()  # the same traces as SDK spans, for the SDK encoder
    try:
        for trace in _odd_traces() + _odd_traces():  # the second time from the caches
            telemetry.provisioning.session_finished(trace, None)
            reference.port.session_finished(trace, None)
        assert telemetry.force_flush(10_000)
    finally:
        telemetry.shutdown()
        reference.telemetry.shutdown()
    spans = reference.finished_spans()
    assert any(span.links for span in spans)
    if with_sdk_processor:
        assert [_sdk([s]) for s in memory.get_finished_spans()] == [_sdk([s]) for s in spans]
    with received.lock:
        got = [item for request in received.traces for item in _flat(request)]
        sent = b"".join(request.SerializeToString() for request in received.traces)
    assert SECRET.encode() not in sent
    pushes = [span for _, _, span in got if span.name == "cpe.provision.push_config"]
    lists = [
        [v.string_value for v in a.value.array_value.values]
        for span in pushes
        for a in span.attributes
        if a.key == "cwmp.parameter_names"
    ]
    assert lists
    assert all(names == ["Device.WiFi.SSID.1.SSID"] for names in lists)
    assert len(got) == len(spans) == 2 * sum(len(t.spans) for t in _odd_traces())
    assert got == _flat(_sdk(spans))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("parentbased_always_on", True),
        ("always_on", True),
        ("parentbased_always_off", False),
        ("always_off", False),
        ("parentbased_traceidratio", False),
        ("traceidratio", False),
    ],
)
def test_only_samplers_that_keep_every_root_are_not_asked(name: str, expected: bool) -> None:
    """The adapter skips the sampler only for those whose answer for a root is always
    "record and sample, no trace state": a ratio (even 1.0) or "off" is asked."""
    sampler = _sampler({"OTEL_TRACES_SAMPLER": name, "OTEL_TRACES_SAMPLER_ARG": "1.0"})
    assert samples_every_root(sampler) is expected
    assert samples_every_root(ParentBased(ALWAYS_ON, remote_parent_sampled=ALWAYS_OFF))
